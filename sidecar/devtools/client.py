"""A Python JSON-RPC client of the sidecar, as Electron's main process is one; a developer tool, not the runtime.

`Peer` speaks the protocol over any byte-stream pair (the in-memory test harness uses it); `SidecarProcess` spawns
the real process over real pipes (the demo, the benchmarks and the end-to-end tests). Waits are bounded
(`fail_after`), so a hung sidecar fails a caller instead of hanging it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream, Process

from sidecar.rpc.framing import Framing, encode_frame, read_frames

Message = dict[str, Any]


class RpcError(Exception):
    """A JSON-RPC error response; `.code` is the numeric code, `.data` carries `data.code` and details."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.code: int | None = error.get("code")
        self.message: str = error.get("message", "")
        self.data: Any = error.get("data")

    @property
    def kind(self) -> str | None:
        return self.data.get("code") if isinstance(self.data, dict) else None


class Peer:
    """The client half of a conversation over a byte-stream pair: requests, notifications, every frame kept."""

    def __init__(
        self,
        home: Path,
        framing: Framing,
        on_message: Callable[[str, Any], None] | None = None,
    ) -> None:
        # Called with ("sent" | "received", message) for every frame: the demo prints the conversation with it.
        self.on_message = on_message
        self.home = home
        self.framing = framing
        self.messages: list[Any] = []  # every frame received, parsed, in order
        self._arrived = anyio.Event()
        # Responses by id, so a request finds its own in O(1) instead of rescanning every message received so far.
        self._responses: dict[int | str, Message] = {}
        self._awaited: set[Any] = set()
        self._next_id = 1_000_000  # far from the small ids tests put in raw frames
        self.stdout_closed = anyio.Event()
        self.undecodable: list[bytes] = []
        self.frames: list[bytes] = []  # every frame body received, as bytes (tests check they are standard JSON)

    @property
    def notifications(self) -> list[Message]:
        return [m for m in self.messages if isinstance(m, dict) and "method" in m and "id" not in m]

    def _output(self) -> ByteReceiveStream:
        raise NotImplementedError

    def _input(self) -> ByteSendStream:
        raise NotImplementedError

    async def _read_loop(self) -> None:
        async for frame in read_frames(self.framing, self._output()):
            if not isinstance(frame, bytes):
                self.undecodable.append(repr(frame).encode())
                continue
            self.frames.append(frame)
            try:
                message = json.loads(frame)
            except ValueError:
                self.undecodable.append(frame)
                continue
            self.messages.append(message)
            answer_id = message.get("id") if isinstance(message, dict) and "method" not in message else None
            if isinstance(answer_id, int | str) and answer_id in self._awaited:
                self._responses[answer_id] = message
            if self.on_message is not None:
                self.on_message("received", message)
            self._arrived.set()
            self._arrived = anyio.Event()
        self.stdout_closed.set()
        self._arrived.set()

    async def send_raw(self, data: bytes) -> None:
        await self._input().send(data)

    async def send(self, message: Any) -> None:
        if self.on_message is not None:
            self.on_message("sent", message)
        await self.send_raw(encode_frame(self.framing, json.dumps(message).encode()))

    # ASYNC109 (noqa below): each timeout is a default bound applied with fail_after inside, so no test hangs.
    async def wait_for(self, predicate: Callable[[Any], bool], timeout: float = 10.0, start: int = 0) -> Any:  # noqa: ASYNC109
        """The first message (from index `start`) matching `predicate`, waiting for it if needed."""
        with anyio.fail_after(timeout):
            while True:
                for message in self.messages[start:]:
                    if predicate(message):
                        return message
                if self.stdout_closed.is_set():
                    raise EOFError("sidecar closed stdout before the expected message")
                await self._arrived.wait()

    async def wait_notification(
        self,
        method: str,
        predicate: Callable[[Any], bool] | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - a budget for the whole call, not a cancel scope the caller could use instead
        start: int = 0,
    ) -> Message:
        def match(m: Any) -> bool:
            return (
                isinstance(m, dict)
                and m.get("method") == method
                and "id" not in m
                and (predicate is None or predicate(m.get("params")))
            )

        found = await self.wait_for(match, timeout, start)
        assert isinstance(found, dict)  # `match` took only objects
        return found

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    async def request(self, method: str, params: Any = None, timeout: float = 20.0) -> Message:  # noqa: ASYNC109
        """Send one request and return the raw response object."""
        id_ = self.new_id()
        message: Message = {"jsonrpc": "2.0", "id": id_, "method": method}
        if params is not None:
            message["params"] = params
        self._awaited.add(id_)
        await self.send(message)
        try:
            with anyio.fail_after(timeout):
                while id_ not in self._responses:
                    if self.stdout_closed.is_set():
                        raise EOFError(f"sidecar closed stdout before answering {method}")
                    await self._arrived.wait()
            return self._responses[id_]
        finally:
            # Also after a timeout: a late answer then goes to `messages` only, not into this index.
            self._awaited.discard(id_)
            self._responses.pop(id_, None)

    async def call(self, method: str, *params: Any, timeout: float = 20.0, **named: Any) -> Any:  # noqa: ASYNC109
        """Positional params (like ipcRenderer.invoke) or named ones; the result, or RpcError."""
        response = await self.request(method, named if named else list(params), timeout)
        if "error" in response:
            raise RpcError(response["error"])
        return response["result"]


class SidecarProcess(Peer):
    """The real sidecar process over real pipes, with its stderr in `home/stderr.log`."""

    def __init__(
        self, process: Process, home: Path, framing: Framing, on_message: Callable[[str, Any], None] | None = None
    ) -> None:
        super().__init__(home, framing, on_message)
        self.process = process

    @property
    def pid(self) -> int:
        return self.process.pid

    def stderr_text(self) -> str:
        return (self.home / "stderr.log").read_text(encoding="utf-8", errors="replace")

    def _output(self) -> ByteReceiveStream:
        assert self.process.stdout is not None
        return self.process.stdout

    def _input(self) -> ByteSendStream:
        assert self.process.stdin is not None
        return self.process.stdin

    @classmethod
    @asynccontextmanager
    async def start(
        cls,
        home: Path,
        settings: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        framing: str = "ndjson",
        extra_args: list[str] | None = None,
        on_message: Callable[[str, Any], None] | None = None,
    ) -> AsyncIterator[SidecarProcess]:
        home.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - a test client's set-up, before the process starts
        if settings is not None:
            (home / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
        argv = [sys.executable, "-m", "sidecar", "--home", str(home), "--framing", framing, *(extra_args or [])]
        with open(home / "stderr.log", "ab") as stderr:  # noqa: ASYNC230 - the child's stderr needs a real file
            process = await anyio.open_process(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env={**os.environ, **(env or {})},
            )
        sidecar = cls(process, home, Framing(framing), on_message)
        async with anyio.create_task_group() as tg:
            tg.start_soon(sidecar._read_loop)
            try:
                yield sidecar
            finally:
                with anyio.CancelScope(shield=True):
                    await sidecar.close()
                tg.cancel_scope.cancel()

    async def close(self, timeout: float = 5.0) -> int:  # noqa: ASYNC109
        """Close stdin (the parent quitting) and wait for the exit code; kill only if it overstays."""
        if self.process.returncode is None:
            try:
                assert self.process.stdin is not None
                await self.process.stdin.aclose()
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                pass
            with anyio.move_on_after(timeout):
                await self.process.wait()
            if self.process.returncode is None:
                self.process.kill()
                await self.process.wait()
        await self.process.aclose()
        return self.process.returncode if self.process.returncode is not None else -1

    def kill9(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
