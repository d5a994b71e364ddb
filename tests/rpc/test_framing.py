"""Framing on in-memory byte streams: split chunks, oversize skipping with resync, bad headers."""

from __future__ import annotations

import anyio
import pytest

from sidecar.rpc.framing import BadHeader, Framing, Oversize, encode_frame, read_frames

pytestmark = pytest.mark.anyio


async def frames_of(framing: Framing, chunks: list[bytes], max_bytes: int = 1024) -> list[object]:
    send, receive = anyio.create_memory_object_stream[bytes](len(chunks) + 1)
    for chunk in chunks:
        send.send_nowait(chunk)
    send.close()

    class Bytes(anyio.abc.ByteReceiveStream):
        async def receive(self, max_bytes: int = 65536) -> bytes:
            try:
                return await receive.receive()
            except anyio.EndOfStream:
                raise

        async def aclose(self) -> None:
            await receive.aclose()

    with receive:
        return [f async for f in read_frames(framing, Bytes(), max_bytes)]


@pytest.mark.parametrize(
    "chunks, expected",
    [
        ([b'{"a":1}\n{"b":2}\n'], [b'{"a":1}', b'{"b":2}']),
        ([b'{"a"', b":1}\n", b'{"b":2}'], [b'{"a":1}', b'{"b":2}']),  # split chunks; last line unterminated
        ([b'\n\r\n{"a":1}\r\n'], [b'{"a":1}\r']),  # blank lines skipped; CR left for the JSON parser (whitespace)
    ],
)
async def test_ndjson_splits_on_newlines(chunks: list[bytes], expected: list[bytes]) -> None:
    assert await frames_of(Framing.NDJSON, chunks) == expected


async def test_ndjson_oversize_line_is_skipped_and_next_line_still_read() -> None:
    huge = b"x" * 5000
    frames = await frames_of(Framing.NDJSON, [b'{"a":1}\n', huge[:2000], huge[2000:] + b"\n", b'{"b":2}\n'])
    assert frames[0] == b'{"a":1}'
    assert isinstance(frames[1], Oversize)
    assert frames[2] == b'{"b":2}'


async def test_content_length_frames_across_chunk_boundaries() -> None:
    one = encode_frame(Framing.CONTENT_LENGTH, b'{"a":"\xc3\xa9"}')  # multi-byte UTF-8: the length counts bytes
    two = encode_frame(Framing.CONTENT_LENGTH, b'{"b":2}')
    stream = one + two
    frames = await frames_of(Framing.CONTENT_LENGTH, [stream[:7], stream[7:20], stream[20:]])
    assert frames == [b'{"a":"\xc3\xa9"}', b'{"b":2}']


async def test_content_length_with_content_type_header() -> None:
    raw = b'Content-Length: 7\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{"a":1}'
    assert await frames_of(Framing.CONTENT_LENGTH, [raw]) == [b'{"a":1}']


async def test_content_length_oversize_body_is_skipped_exactly() -> None:
    big = b"Content-Length: 3000\r\n\r\n" + b"y" * 3000
    ok = encode_frame(Framing.CONTENT_LENGTH, b'{"ok":1}')
    frames = await frames_of(Framing.CONTENT_LENGTH, [big[:1500], big[1500:], ok])
    assert isinstance(frames[0], Oversize) and frames[0].size == 3000
    assert frames[1] == b'{"ok":1}'


@pytest.mark.parametrize(
    "header, reason",
    [
        (b"Content-Type: x\r\n\r\n", "no Content-Length"),
        (b"Content-Length: abc\r\n\r\n", "not a number"),
        (b"garbage line\r\n\r\n", "malformed header"),
    ],
)
async def test_content_length_bad_header_is_reported_and_reading_continues(header: bytes, reason: str) -> None:
    ok = encode_frame(Framing.CONTENT_LENGTH, b'{"ok":1}')
    frames = await frames_of(Framing.CONTENT_LENGTH, [header + ok])
    assert isinstance(frames[0], BadHeader) and reason in frames[0].reason
    assert frames[1] == b'{"ok":1}'
