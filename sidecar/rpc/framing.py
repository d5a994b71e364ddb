"""Bytes <-> message bodies, in the two framings the sidecar speaks. Knows nothing of JSON-RPC.

`ndjson`: one UTF-8 JSON text per line (the MCP stdio transport's framing). `content-length`: LSP's
`Content-Length: N\r\n\r\n` headers counting bytes, so stock clients such as vscode-jsonrpc can talk to us.
A frame over the size limit is skipped without ever being held whole, and reported, so the peer gets an error
instead of a silent drop and the stream stays in sync. A bad Content-Length header (or one whose length does not
fit its body) is reported once, and reading resumes at the next header block.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum

import anyio
from anyio.abc import ByteReceiveStream

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
MAX_HEADER_BYTES = 8 * 1024
READ_CHUNK = 65536

log = logging.getLogger(__name__)


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


_TOKEN = re.compile(rb"(?i)content-length[ \t]*:")
_HEADER_LINE = re.compile(rb"[A-Za-z0-9-]+[ \t]*:")
_DIGITS = re.compile(rb"[0-9]{1,12}")
_PARTIAL_NAME = re.compile(rb"[A-Za-z0-9-]{0,64}")
# A header inside a body: raw CR LF cannot occur in a JSON string and these letters cannot occur outside one, so
# this in a body means the declared length ran past its message into the next header block.
_EMBEDDED_HEADER = re.compile(rb"(?i)content-length[ \t]*:[ \t]*[0-9]+[ \t]*\r\n")


def _content_length(header_block: bytes) -> int | str:
    """The body length, or the reason there is none. Strict: ASCII digits only (not `1e3`, `-5`, `+5`, `5_0`)."""
    length: int | None = None
    for raw in header_block.split(b"\r\n"):
        name, sep, value = raw.partition(b":")
        if not sep:
            return f"malformed header line {raw[:60]!r}"
        if name.strip().lower() == b"content-length":
            value = value.strip()
            if value.startswith(b"-") and _DIGITS.fullmatch(value[1:]):
                return "Content-Length is negative"
            if not _DIGITS.fullmatch(value):
                return f"Content-Length is not a number: {value[:30]!r}"
            if length is not None and length != int(value):
                return "two different Content-Length headers"
            length = int(value)
    if length is None:
        return "no Content-Length header"
    return length


def _starts_like_a_header(data: bytes | bytearray) -> bool:
    """Whether `data` (what follows a body) can be the start of the next header block, as far as it goes."""
    data = data.lstrip(b"\r\n")
    if not data or _HEADER_LINE.match(data):
        return True
    partial = _PARTIAL_NAME.match(data)
    return partial is not None and partial.end() == len(data)  # a header name still arriving


async def _resync(buf: _Buffer) -> bool:
    """Drop bytes up to the next `Content-Length:`; False at EOF. Holds at most a token's length while searching."""
    keep = len(b"content-length") + 8
    while True:
        found = _TOKEN.search(buf.data)
        if found is not None:
            skipped = found.start()
            del buf.data[:skipped]
            if skipped:
                log.warning("skipped %d bytes to the next Content-Length header", skipped)
            return True
        if len(buf.data) > keep:
            del buf.data[: len(buf.data) - keep]
        if not await buf.fill():
            buf.data.clear()
            return False


async def read_content_length(stream: ByteReceiveStream, max_bytes: int = MAX_MESSAGE_BYTES) -> AsyncIterator[Frame]:
    """Content-Length frames; after a bad header or a length that does not fit its body, one `BadHeader` is
    reported and reading resumes at the next `Content-Length:` header, as a stock LSP client expects."""
    buf = _Buffer(stream)
    while True:
        while buf.data[:2] == b"\r\n":
            del buf.data[:2]
        if buf.data and not _starts_like_a_header(buf.data):
            line = bytes(buf.data[:60]).split(b"\r\n", 1)[0]
            yield BadHeader(f"malformed header line {line!r} (not a header block; skipped to the next one)")
            if not await _resync(buf):
                return
            continue
        end = buf.data.find(b"\r\n\r\n")
        if end < 0:
            if len(buf.data) > MAX_HEADER_BYTES:
                yield BadHeader(f"header block longer than {MAX_HEADER_BYTES} bytes")
                del buf.data[:1]
                if not await _resync(buf):
                    return
                continue
            if not await buf.fill():
                if buf.data.strip():
                    yield BadHeader("stream ended inside a header block")
                return
            continue
        header = bytes(buf.data[:end])
        length = _content_length(header)
        if isinstance(length, str):
            yield BadHeader(length)
            del buf.data[: end + 4]
            if not await _resync(buf):
                return
            continue
        del buf.data[: end + 4]
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
        overrun = None
        while len(buf.data) < length:
            overrun = _EMBEDDED_HEADER.search(buf.data)
            if overrun is not None or not await buf.fill():
                break
        if overrun is None and len(buf.data) >= length:
            overrun = _EMBEDDED_HEADER.search(buf.data, 0, length)
        if overrun is not None:
            yield BadHeader(f"Content-Length {length} runs past its body into the next header")
            del buf.data[: overrun.start()]
            continue
        if len(buf.data) < length:
            return
        if not _starts_like_a_header(bytes(buf.data[length : length + 80])):
            yield BadHeader(f"Content-Length {length} ends inside the body")
            del buf.data[:length]
            if not await _resync(buf):
                return
            continue
        body = bytes(buf.data[:length])
        del buf.data[:length]
        yield body


def read_frames(
    framing: Framing, stream: ByteReceiveStream, max_bytes: int = MAX_MESSAGE_BYTES
) -> AsyncIterator[Frame]:
    if framing is Framing.NDJSON:
        return read_ndjson(stream, max_bytes)
    return read_content_length(stream, max_bytes)


def encode_frame(framing: Framing, body: bytes) -> bytes:
    """One frame. ndjson bodies must not contain a raw newline; json.dumps never emits one."""
    if framing is Framing.NDJSON:
        return body + b"\n"
    return b"Content-Length: %d\r\n\r\n" % len(body) + body
