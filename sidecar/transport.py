"""JSON-RPC 2.0 over a byte stream pair: read loop, one task per request, a single writer, notifications out.

Shaped after the MCP SDK's stdio transport: the streams are arguments (tests drive it on in-memory buffers), and
every frame goes out through one write path under one lock, so a response and a notification can never interleave
half-written. (A separate writer task fed by a memory stream would add two scheduling hops to every round trip;
the lock gives the same guarantee.) This module knows the JSON-RPC envelope and nothing of methods.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream

from sidecar.errors import RPC_CODES, ErrorCode
from sidecar.framing import MAX_MESSAGE_BYTES, BadHeader, Framing, Oversize, encode_frame, read_frames

log = logging.getLogger(__name__)

Message = dict[str, Any]
Dispatch = Callable[[Message], Awaitable[Message | None]]
CANCEL_METHOD = "$/cancelRequest"
# On input EOF, requests already read get this long to answer (a piped script wants its answers); the whole
# shutdown stays well inside the 2 s the parent allows.
EOF_GRACE_SECONDS = 1.0


def error_message(code: ErrorCode, message: str, id_: Any = None, **data: Any) -> Message:
    return {
        "jsonrpc": "2.0",
        "error": {"code": RPC_CODES[code], "message": message, "data": {"code": code.value, **data}},
        "id": id_,
    }


def _valid_id(value: Any) -> bool:
    return value is None or (isinstance(value, (str, int, float)) and not isinstance(value, bool))


def envelope_problem(message: Any) -> str | None:
    """Why `message` is not a JSON-RPC request or notification, or None when it is one."""
    if not isinstance(message, dict):
        return f"expected a JSON object, got {type(message).__name__}"
    if message.get("jsonrpc") != "2.0":
        return 'missing or wrong "jsonrpc" member (must be "2.0")'
    if not isinstance(message.get("method"), str):
        return 'missing "method" string'
    if "params" in message and not isinstance(message["params"], (list, dict)):
        return '"params" must be an array or an object'
    if "id" in message and not _valid_id(message["id"]):
        return '"id" must be a string, a number or null'
    return None


def encode_json(message: Any) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class Transport:
    def __init__(self, dispatch: Dispatch, framing: Framing = Framing.NDJSON, max_bytes: int = MAX_MESSAGE_BYTES):
        self._dispatch = dispatch
        self._framing = framing
        self._max_bytes = max_bytes
        self._in_flight: dict[Any, anyio.CancelScope] = {}
        self._write_lock = anyio.Lock()
        self._send: ByteSendStream | None = None
        self._scope: anyio.CancelScope | None = None

    async def notify(self, method: str, params: Any) -> None:
        """Send a notification; dropped quietly when no peer is attached or it is gone (no one is left to tell)."""
        await self._write({"jsonrpc": "2.0", "method": method, "params": params})

    async def _write(self, message: Any) -> None:
        send = self._send
        if send is None:
            log.debug("frame dropped: no peer")
            return
        frame = encode_frame(self._framing, encode_json(message))
        async with self._write_lock:
            try:
                await send.send(frame)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                log.info("output closed by the peer: stopping")
                self._send = None
                if self._scope is not None:
                    self._scope.cancel()

    async def serve(self, receive: ByteReceiveStream, send: ByteSendStream) -> None:
        """Serve until the input ends or the output breaks; in-flight requests then get a short grace."""
        self._send = send
        with anyio.CancelScope() as self._scope:
            async with anyio.create_task_group() as requests:
                async for frame in read_frames(self._framing, receive, self._max_bytes):
                    requests.start_soon(self._handle_frame, frame)
                log.info("input closed: finishing requests in flight, then stopping")
                requests.cancel_scope.deadline = anyio.current_time() + EOF_GRACE_SECONDS
        self._send = None

    async def _reply(self, message: Message | list[Message] | None) -> None:
        if message:
            await self._write(message)

    async def _handle_frame(self, frame: bytes | Oversize | BadHeader) -> None:
        if isinstance(frame, Oversize):
            size = f"{frame.size} bytes" if frame.size is not None else "a message"
            await self._reply(
                error_message(
                    ErrorCode.MESSAGE_TOO_LARGE,
                    f"{size} exceeds the {frame.limit}-byte limit; the message was skipped",
                    limit=frame.limit,
                )
            )
            return
        if isinstance(frame, BadHeader):
            await self._reply(error_message(ErrorCode.PARSE_ERROR, f"bad frame header: {frame.reason}"))
            return
        try:
            message = json.loads(frame)
        except (ValueError, RecursionError) as exc:
            await self._reply(error_message(ErrorCode.PARSE_ERROR, f"parse error: {exc}"))
            return
        if isinstance(message, list):
            await self._reply(await self._handle_batch(message))
        else:
            await self._reply(await self._handle_one(message))

    async def _handle_batch(self, batch: list[Any]) -> list[Message] | Message | None:
        if not batch:
            return error_message(ErrorCode.INVALID_REQUEST, "invalid request: empty batch")
        responses: list[Message | None] = [None] * len(batch)

        async def run(index: int, message: Any) -> None:
            responses[index] = await self._handle_one(message)

        async with anyio.create_task_group() as tg:
            for index, message in enumerate(batch):
                tg.start_soon(run, index, message)
        answered = [r for r in responses if r is not None]
        return answered or None

    async def _handle_one(self, message: Any) -> Message | None:
        problem = envelope_problem(message)
        if problem is not None:
            if isinstance(message, dict) and "id" not in message and ("result" in message or "error" in message):
                log.warning("ignoring a response from the peer: the sidecar sends no requests")
                return None
            id_ = message.get("id") if isinstance(message, dict) and _valid_id(message.get("id")) else None
            return error_message(ErrorCode.INVALID_REQUEST, f"invalid request: {problem}", id_)
        if message["method"] == CANCEL_METHOD:
            self._cancel(message.get("params"))
            return None
        if "id" not in message:
            await self._dispatch(message)
            return None
        id_ = message["id"]
        with anyio.CancelScope() as scope:
            key = (type(id_).__name__, id_)
            self._in_flight[key] = scope
            try:
                return await self._dispatch(message)
            finally:
                self._in_flight.pop(key, None)
        return error_message(ErrorCode.CANCELLED, "request cancelled by the client", id_)

    def _cancel(self, params: Any) -> None:
        target = params.get("id") if isinstance(params, dict) else None
        scope = self._in_flight.get((type(target).__name__, target))
        if scope is not None:
            scope.cancel()
