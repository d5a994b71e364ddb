"""One JSON-RPC 2.0 conversation: envelope checks, ids, one task per request, cancellation, batches, shutdown.

Shaped after the MCP SDK's session layer: the transport turns frames into messages and writes, the dispatcher
answers one checked request, and this module owns everything between: which messages are requests, which ids are
valid (a string, an integer or a finite number; NaN and Infinity are not JSON), the in-flight cancel scopes that
`$/cancelRequest` cancels, batches (each element answered on its own), and the end of serving (input EOF or a stop
event such as SIGTERM: requests already read get a short grace). Every error it sends is built by
`codes.error_response`.

A cancel that arrives after the request's change committed (`sidecar.commitpoint`) is ignored: the request
answers its result, so a client never hears CANCELLED for a change that is in the database. (The shield that
does it holds against `$/cancelRequest` only: shutdown, after its grace, still stops a committed request.)
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream

from sidecar import commitpoint
from sidecar.errors import ErrorCode
from sidecar.rpc.codes import Message, error_response
from sidecar.rpc.framing import MAX_MESSAGE_BYTES, Framing
from sidecar.rpc.transport import Incoming, Transport, has_nonstandard_number

log = logging.getLogger(__name__)

Dispatch = Callable[[Message], Awaitable[Message | None]]
CANCEL_METHOD = "$/cancelRequest"
# On input EOF, requests already read get this long to answer (a piped script wants its answers); the whole
# shutdown stays well inside the 2 s the parent allows.
EOF_GRACE_SECONDS = 1.0
NONSTANDARD = "NaN, Infinity and numbers beyond a double are not JSON"


def valid_id(value: Any) -> bool:
    if value is None or (isinstance(value, (str, int)) and not isinstance(value, bool)):
        return True
    return isinstance(value, float) and value == value and abs(value) != float("inf")


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
    if "id" in message and not valid_id(message["id"]):
        return f'"id" must be a string, a number or null ({NONSTANDARD})'
    return None


class _InFlight:
    """A request's cancel scope, and whether its change has committed (after which a cancel is ignored)."""

    __slots__ = ("cancel_scope", "committed", "done", "work_scope")

    def __init__(self) -> None:
        self.cancel_scope = anyio.CancelScope()
        self.work_scope = anyio.CancelScope()
        self.committed = False
        self.done = False

    def on_commit(self) -> None:
        if not self.done:
            self.committed = True
            # Shielded from the request's own cancel scope: a cancel already requested cannot interrupt it now.
            self.work_scope.shield = True


class Session:
    def __init__(self, dispatch: Dispatch, framing: Framing = Framing.NDJSON, max_bytes: int = MAX_MESSAGE_BYTES):
        self._dispatch = dispatch
        self._in_flight: dict[tuple[str, Any], _InFlight] = {}
        self._scope: anyio.CancelScope | None = None
        self._active = 0
        self._idle = anyio.Event()
        self.transport = Transport(framing, max_bytes, on_closed=self._peer_gone)

    def _peer_gone(self) -> None:
        if self._scope is not None:
            self._stop_everything(self._scope)

    def _stop_everything(self, scope: anyio.CancelScope) -> None:
        """Cancel `scope` with every request in it, committed ones too (their shield is only against a cancel)."""
        for request in self._in_flight.values():
            request.work_scope.shield = False
        scope.cancel()

    async def notify(self, method: str, params: Any) -> None:
        """Send a notification; dropped quietly when no peer is attached or it is gone (no one is left to tell)."""
        await self.transport.write({"jsonrpc": "2.0", "method": method, "params": params})

    async def serve(self, receive: ByteReceiveStream, send: ByteSendStream, stop: anyio.Event | None = None) -> None:
        """Serve until the input ends, `stop` is set or the output breaks; requests in flight get a short grace."""
        self.transport.attach(send)
        watcher = anyio.CancelScope()
        with anyio.CancelScope() as self._scope:
            async with anyio.create_task_group() as requests:
                with anyio.CancelScope() as reading:
                    if stop is not None:
                        requests.start_soon(self._stop_reading_on, stop, reading, watcher)
                    async for item in self.transport.messages(receive):
                        requests.start_soon(self._handle, item)
                    log.info("input closed: finishing requests in flight, then stopping")
                if reading.cancel_called:
                    log.info("asked to stop: finishing requests in flight, then stopping")
                watcher.cancel()
                if self._active:
                    with anyio.move_on_after(EOF_GRACE_SECONDS):
                        await self._idle.wait()
                self._stop_everything(requests.cancel_scope)
        self.transport.attach(None)

    @staticmethod
    async def _stop_reading_on(stop: anyio.Event, reading: anyio.CancelScope, watcher: anyio.CancelScope) -> None:
        with watcher:
            await stop.wait()
            reading.cancel()

    async def _handle(self, item: Incoming | Message) -> None:
        self._active += 1
        self._idle = anyio.Event() if self._idle.is_set() else self._idle
        try:
            await self._handle_item(item)
        finally:
            self._active -= 1
            if not self._active:
                self._idle.set()

    async def _handle_item(self, item: Incoming | Message) -> None:
        if not isinstance(item, Incoming):
            await self.transport.write(item)  # the transport's own error for a bad frame
            return
        message = item.value
        try:
            if isinstance(message, list):
                reply: Message | list[Message] | None = await self._handle_batch(message, item.nonstandard)
            else:
                reply = await self._handle_one(message, item.nonstandard)
        except Exception as exc:  # a bug in the wire itself: one answer lost, never the process
            log.exception("handling a message failed")
            id_ = message.get("id") if isinstance(message, dict) and valid_id(message.get("id")) else None
            reply = error_response(ErrorCode.INTERNAL, f"internal error: {type(exc).__name__}: {exc}", id_)
        if reply:
            await self.transport.write(reply)

    async def _handle_batch(self, batch: list[Any], nonstandard: bool) -> list[Message] | Message | None:
        if not batch:
            return error_response(ErrorCode.INVALID_REQUEST, "invalid request: empty batch")
        responses: list[Message | None] = [None] * len(batch)

        async def run(index: int, message: Any) -> None:
            responses[index] = await self._handle_one(message, nonstandard and has_nonstandard_number(message))

        async with anyio.create_task_group() as tg:
            for index, message in enumerate(batch):
                tg.start_soon(run, index, message)
        answered = [r for r in responses if r is not None]
        return answered or None

    async def _handle_one(self, message: Any, nonstandard: bool = False) -> Message | None:
        problem = envelope_problem(message)
        if problem is None and nonstandard:
            problem = f"{NONSTANDARD} (found in the message)"
        if problem is not None:
            if isinstance(message, dict) and "id" not in message and ("result" in message or "error" in message):
                log.warning("ignoring a response from the peer: the sidecar sends no requests")
                return None
            id_ = message.get("id") if isinstance(message, dict) and valid_id(message.get("id")) else None
            return error_response(ErrorCode.INVALID_REQUEST, f"invalid request: {problem}", id_)
        if message["method"] == CANCEL_METHOD:
            self._cancel(message.get("params"))
            return None
        if "id" not in message:
            await self._dispatch(message)
            return None
        id_ = message["id"]
        key = (type(id_).__name__, id_)
        request = _InFlight()
        self._in_flight[key] = request
        try:
            with request.cancel_scope, request.work_scope, commitpoint.listen(request.on_commit):
                return await self._dispatch(message)
        finally:
            request.done = True
            if self._in_flight.get(key) is request:
                del self._in_flight[key]
        return error_response(ErrorCode.CANCELLED, "request cancelled by the client", id_)

    def _cancel(self, params: Any) -> None:
        target = params.get("id") if isinstance(params, dict) else None
        if not valid_id(target):
            return
        request = self._in_flight.get((type(target).__name__, target))
        if request is None:
            return
        if request.committed:
            log.info("cancel of %r ignored: its change has committed", target)
            return
        request.cancel_scope.cancel()
