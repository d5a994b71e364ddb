"""The real app (sidecar/app.py) served in this process over anyio memory byte streams, with SidecarProcess's API.

For protocol and service behaviour that needs no process: the same composition root, a real SQLite file under
`home`, the real framing and session, the fake `sf` spawned for real; only the pipes are memory. Its log records
are kept (`stderr_text`), as the process's stderr would be. Tests that need a process (stdout purity, EOF exit,
kill -9, signals) use SidecarProcess in tests/e2e.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from sidecar import app
from sidecar.devtools.client import Peer
from sidecar.rpc.framing import Framing


class MemoryByteReceiveStream(ByteReceiveStream):
    def __init__(self, inner: MemoryObjectReceiveStream[bytes]) -> None:
        self._inner = inner
        self._pending = b""

    async def receive(self, max_bytes: int = 65536) -> bytes:
        if not self._pending:
            self._pending = await self._inner.receive()
        chunk, self._pending = self._pending[:max_bytes], self._pending[max_bytes:]
        return chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class MemoryByteSendStream(ByteSendStream):
    def __init__(self, inner: MemoryObjectSendStream[bytes]) -> None:
        self._inner = inner

    async def send(self, item: bytes) -> None:
        await self._inner.send(bytes(item))

    async def aclose(self) -> None:
        await self._inner.aclose()


def byte_pipe(size: float = 1024) -> tuple[MemoryByteSendStream, MemoryByteReceiveStream]:
    send, receive = anyio.create_memory_object_stream[bytes](size)
    return MemoryByteSendStream(send), MemoryByteReceiveStream(receive)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


class MemorySidecar(Peer):
    """`app.run` in a task of this event loop; `close()` ends its input as the parent quitting would."""

    def __init__(self, home: Path, framing: Framing, on_message: Callable[[str, Any], None] | None = None) -> None:
        super().__init__(home, framing, on_message)
        self._to_app, self._app_input = byte_pipe()
        self._app_output, self._from_app = byte_pipe(float("inf"))
        self._records = _Records()
        self.exited = anyio.Event()
        self.error: BaseException | None = None

    def _output(self) -> ByteReceiveStream:
        return self._from_app

    def _input(self) -> ByteSendStream:
        return self._to_app

    def stderr_text(self) -> str:
        return "\n".join(self._records.lines)

    async def _run_app(self) -> None:
        try:
            await app.run(self.home, self.framing, self._app_input, self._app_output)
        except BaseException as exc:  # kept for close() to re-raise in the test
            self.error = exc
            raise
        finally:
            await self._app_output.aclose()
            self.exited.set()

    @classmethod
    @asynccontextmanager
    async def start(
        cls,
        home: Path,
        settings: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        framing: str = "ndjson",
        on_message: Callable[[str, Any], None] | None = None,
    ) -> AsyncIterator[MemorySidecar]:
        home.mkdir(parents=True, exist_ok=True)
        if settings is not None:
            (home / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
        sidecar = cls(home, Framing(framing), on_message)
        saved = {key: os.environ.get(key) for key in env or {}}
        os.environ.update(env or {})  # what the process would inherit (the fake sf's state and log files)
        root = logging.getLogger("sidecar")
        root.addHandler(sidecar._records)
        previous = root.level
        root.setLevel(logging.DEBUG)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(sidecar._run_app)
                tg.start_soon(sidecar._read_loop)
                try:
                    yield sidecar
                finally:
                    with anyio.CancelScope(shield=True):
                        await sidecar.close()
        finally:
            for stream in (sidecar._to_app, sidecar._app_input, sidecar._app_output, sidecar._from_app):
                await stream.aclose()
            root.removeHandler(sidecar._records)
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            root.setLevel(previous)

    async def close(self, timeout: float = 5.0) -> int:  # noqa: ASYNC109 - a default bound, as the process client has
        """End the app's input and wait for it to return (0), as the process would exit on stdin EOF."""
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            await self._to_app.aclose()
        with anyio.fail_after(timeout):
            await self.exited.wait()
        return 0 if self.error is None else 1
