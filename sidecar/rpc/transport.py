"""Frames <-> JSON-RPC messages over one byte-stream pair, and the one writer every outgoing frame goes through.

Reading: each frame is decoded as strict UTF-8 JSON (a UTF-16 frame, which Python's json would auto-detect, is a
parse error naming its encoding), and NaN / Infinity / out-of-range numbers (which Python's json accepts) are
flagged so the session refuses them. Writing: one method, under one lock, so a response and a notification never
interleave half-written (a writer task fed by a memory stream would add two scheduling hops to every round trip;
the lock gives the same guarantee). Every frame written is standard JSON and encodable: lone surrogates are
escaped, NaN is refused, and a message that cannot be encoded is replaced by an INTERNAL error for its id (or
dropped, for a notification), so an encoding failure never leaves the writer. Knows nothing of methods.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream

from sidecar.errors import ErrorCode
from sidecar.rpc.codes import error_response
from sidecar.rpc.framing import MAX_MESSAGE_BYTES, BadHeader, Framing, Oversize, encode_frame, read_frames

log = logging.getLogger(__name__)

_UTF8 = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_ASCII = json.JSONEncoder(ensure_ascii=True, allow_nan=False, separators=(",", ":"))


class NonStandardNumber:
    """Stands in for NaN, Infinity, -Infinity or a number beyond a double, which JSON (RFC 8259) does not have."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


class _Refused(Exception):
    pass


def _refuse_constant(text: str) -> Any:
    raise _Refused(text)


def _refuse_huge(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(text)
    return value


def _flag_huge(text: str) -> float | NonStandardNumber:
    value = float(text)
    return value if math.isfinite(value) else NonStandardNumber(text)


_STRICT = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_refuse_huge)
_FLAGGING = json.JSONDecoder(parse_constant=NonStandardNumber, parse_float=_flag_huge)


def has_nonstandard_number(value: Any) -> bool:
    if isinstance(value, NonStandardNumber):
        return True
    if isinstance(value, dict):
        return any(has_nonstandard_number(v) for v in value.values())
    if isinstance(value, list):
        return any(has_nonstandard_number(v) for v in value)
    return False


@dataclass(frozen=True)
class Incoming:
    """One decoded frame; `nonstandard` says it holds a `NonStandardNumber` somewhere (the session refuses it)."""

    value: Any
    nonstandard: bool = False


def _not_utf8(frame: bytes) -> str | None:
    """The encoding a frame seems to be in when it is plainly not UTF-8, else None."""
    if frame.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "UTF-32"
    if frame.startswith(b"\xff\xfe"):
        return "UTF-16-LE"
    if frame.startswith(b"\xfe\xff"):
        return "UTF-16-BE"
    if b"\x00" in frame:  # raw NUL is never valid JSON text; ASCII in UTF-16 is every other byte NUL
        head = frame[:64]
        if head[1::2].count(0) > len(head) // 4:
            return "UTF-16-LE"
        if head[0::2].count(0) > len(head) // 4:
            return "UTF-16-BE"
        return "not UTF-8 JSON (raw NUL bytes)"
    return None


def decode(frame: bytes) -> Incoming | Any:
    """An `Incoming`, or an error response for a frame that is not UTF-8 JSON."""
    encoding = _not_utf8(frame)
    if encoding is not None:
        return error_response(ErrorCode.PARSE_ERROR, f"parse error: frames must be UTF-8 JSON; this one is {encoding}")
    try:
        text = frame.decode("utf-8")
    except UnicodeDecodeError as exc:
        return error_response(
            ErrorCode.PARSE_ERROR, f"parse error: frames must be UTF-8 JSON; byte {exc.start} is not UTF-8"
        )
    try:
        return Incoming(_STRICT.decode(text))
    except _Refused:
        return Incoming(_FLAGGING.decode(text), nonstandard=True)
    except (ValueError, RecursionError) as exc:
        return error_response(ErrorCode.PARSE_ERROR, f"parse error: {exc}")


def encode_json(message: Any) -> bytes:
    """Standard JSON as UTF-8; a lone surrogate (JavaScript's half an emoji) is escaped as `\\udXXX` instead."""
    try:
        return _UTF8.encode(message).encode("utf-8")
    except UnicodeEncodeError:
        return _ASCII.encode(message).encode("ascii")


def _encodable(message: Any) -> bytes | None:
    """The message's bytes; an unencodable response becomes an INTERNAL error for its id; None drops it."""
    try:
        return encode_json(message)
    except (ValueError, TypeError, RecursionError) as exc:
        reason = f"{type(exc).__name__}: {exc}"
    if isinstance(message, list):
        parts = [part for part in (_encodable(m) for m in message) if part is not None]
        return b"[" + b",".join(parts) + b"]" if parts else None
    if isinstance(message, dict) and "id" in message and "method" not in message:
        log.error("answer to id %r could not be encoded as JSON: %s", message.get("id"), reason)
        return encode_json(
            error_response(ErrorCode.INTERNAL, f"the answer could not be encoded as JSON: {reason}", message["id"])
        )
    log.error("frame dropped: it could not be encoded as JSON: %s", reason)
    return None


class Transport:
    """Frames in, messages out; `write` is the one writer. `on_closed` runs when the peer stops reading."""

    def __init__(
        self,
        framing: Framing = Framing.NDJSON,
        max_bytes: int = MAX_MESSAGE_BYTES,
        on_closed: Callable[[], None] | None = None,
    ) -> None:
        self._framing = framing
        self._max_bytes = max_bytes
        self._lock = anyio.Lock()
        self._send: ByteSendStream | None = None
        self._on_closed = on_closed

    def attach(self, send: ByteSendStream | None) -> None:
        self._send = send

    async def messages(self, receive: ByteReceiveStream) -> AsyncIterator[Incoming | Any]:
        """Each frame as an `Incoming`, or as the error response to send for it (bad frame, oversize, bad JSON)."""
        async for frame in read_frames(self._framing, receive, self._max_bytes):
            if isinstance(frame, Oversize):
                size = f"{frame.size} bytes" if frame.size is not None else "a message"
                yield error_response(
                    ErrorCode.MESSAGE_TOO_LARGE,
                    f"{size} exceeds the {frame.limit}-byte limit; the message was skipped",
                    limit=frame.limit,
                )
            elif isinstance(frame, BadHeader):
                yield error_response(ErrorCode.PARSE_ERROR, f"bad frame header: {frame.reason}")
            else:
                yield decode(frame)

    async def write(self, message: Any) -> None:
        """Send one message (or batch); dropped quietly when no peer is attached or it is gone."""
        send = self._send
        if send is None:
            log.debug("frame dropped: no peer")
            return
        body = _encodable(message)
        if body is None:
            return
        frame = encode_frame(self._framing, body)
        async with self._lock:
            try:
                await send.send(frame)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                log.info("output closed by the peer: stopping")
                self._send = None
                if self._on_closed is not None:
                    self._on_closed()
