"""Bytes <-> message bodies, in the two framings the sidecar speaks. Knows nothing of JSON-RPC.

`ndjson`: one UTF-8 JSON text per line (the MCP stdio transport's framing). `content-length`: LSP's
`Content-Length: N\r\n\r\n` headers counting bytes, so stock clients such as vscode-jsonrpc can talk to us.
A frame over the size limit is skipped without ever being held whole, and reported, so the peer gets an error
instead of a silent drop and the stream stays in sync.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum

import anyio
from anyio.abc import ByteReceiveStream

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
MAX_HEADER_BYTES = 8 * 1024
READ_CHUNK = 65536


class Framing(StrEnum):
    NDJSON = "ndjson"
    CONTENT_LENGTH = "content-length"


@dataclass(frozen=True)
class Oversize:
    """A frame that was skipped because it exceeded the limit; `size` is known for content-length frames."""

    limit: int
    size: int | None = None


@dataclass(frozen=True)
class BadHeader:
    """A content-length header block we could not read; the block was dropped and reading goes on."""

    reason: str


Frame = bytes | Oversize | BadHeader


class _Buffer:
    """A growable receive buffer over a byte stream; EOF is remembered rather than raised mid-frame."""

    def __init__(self, stream: ByteReceiveStream) -> None:
        self.stream = stream
        self.data = bytearray()
        self.eof = False

    async def fill(self) -> bool:
        if self.eof:
            return False
        try:
            self.data += await self.stream.receive(READ_CHUNK)
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self.eof = True
            return False
        return True


async def read_ndjson(stream: ByteReceiveStream, max_bytes: int = MAX_MESSAGE_BYTES) -> AsyncIterator[Frame]:
    buf = _Buffer(stream)
    scanned = 0
    discarding = False
    while True:
        newline = buf.data.find(b"\n", scanned)
        if newline < 0:
            if discarding:
                buf.data.clear()
                scanned = 0
            elif len(buf.data) > max_bytes:
                buf.data.clear()
                scanned = 0
                discarding = True
            else:
                scanned = len(buf.data)
            if not await buf.fill():
                if buf.data.strip() and not discarding:
                    yield bytes(buf.data)
                elif discarding:
                    yield Oversize(max_bytes)
                return
            continue
        line = bytes(buf.data[:newline])
        del buf.data[: newline + 1]
        scanned = 0
        if discarding:
            discarding = False
            yield Oversize(max_bytes)
            continue
        if len(line) > max_bytes:
            yield Oversize(max_bytes, len(line))
            continue
        if line.strip():
            yield line


def _content_length(header_block: bytes) -> int | str:
    """The body length, or the reason there is none."""
    length: int | None = None
    for raw in header_block.split(b"\r\n"):
        name, sep, value = raw.partition(b":")
        if not sep:
            return f"malformed header line {raw[:60]!r}"
        if name.strip().lower() == b"content-length":
            try:
                length = int(value.strip())
            except ValueError:
                return f"Content-Length is not a number: {value.strip()[:30]!r}"
            if length < 0:
                return "Content-Length is negative"
    if length is None:
        return "no Content-Length header"
    return length


async def read_content_length(
    stream: ByteReceiveStream, max_bytes: int = MAX_MESSAGE_BYTES
) -> AsyncIterator[Frame]:
    buf = _Buffer(stream)
    while True:
        end = buf.data.find(b"\r\n\r\n")
        if end < 0:
            if len(buf.data) > MAX_HEADER_BYTES:
                buf.data.clear()
                yield BadHeader(f"header block longer than {MAX_HEADER_BYTES} bytes")
            if not await buf.fill():
                if buf.data.strip():
                    yield BadHeader("stream ended inside a header block")
                return
            continue
        header = bytes(buf.data[:end]).lstrip(b"\r\n")
        del buf.data[: end + 4]
        length = _content_length(header)
        if isinstance(length, str):
            yield BadHeader(length)
            continue
        if length > max_bytes:
            remaining = length
            while remaining > 0:
                if not buf.data and not await buf.fill():
                    return
                taken = min(remaining, len(buf.data))
                del buf.data[:taken]
                remaining -= taken
            yield Oversize(max_bytes, length)
            continue
        while len(buf.data) < length:
            if not await buf.fill():
                return
        body = bytes(buf.data[:length])
        del buf.data[:length]
        yield body


def read_frames(framing: Framing, stream: ByteReceiveStream, max_bytes: int = MAX_MESSAGE_BYTES) -> AsyncIterator[Frame]:
    if framing is Framing.NDJSON:
        return read_ndjson(stream, max_bytes)
    return read_content_length(stream, max_bytes)


def encode_frame(framing: Framing, body: bytes) -> bytes:
    """One frame. ndjson bodies must not contain a raw newline; json.dumps never emits one."""
    if framing is Framing.NDJSON:
        return body + b"\n"
    return b"Content-Length: %d\r\n\r\n" % len(body) + body
