"""The process's own stdin and stdout as anyio byte streams, with fd 1 reserved for the protocol.

Why not `anyio.wrap_file(sys.stdin)`: its readline cannot be cancelled, and FileReadStream waits for 64 KiB or EOF.
When stdin is a pipe or socket (Electron's case) we wait for readability on the loop and then `os.read`, which
returns what is there without blocking and costs no thread hop; for anything the loop cannot poll (a regular
file), a daemon thread blocked in `os.read(0)` hands each chunk to the loop and dies with the process. For output, the
protocol takes a private duplicate of fd 1 and fd 1 itself is pointed at stderr, so a stray print or a child that
inherits fd 1 can never corrupt the wire.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import threading

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream
from anyio.lowlevel import current_token


def claim_stdout() -> int:
    """Return a private, non-inheritable fd for the protocol; fd 1 becomes a copy of stderr."""
    wire = os.dup(1)
    os.set_inheritable(wire, False)
    os.dup2(2, 1)
    sys.stdout = os.fdopen(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
    return wire


class FdSendStream(ByteSendStream):
    """Writes to a pipe without blocking the loop: the fd is non-blocking and we wait for writability."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        os.set_blocking(fd, False)

    async def send(self, item: bytes) -> None:
        view = memoryview(item)
        while view:
            try:
                written = os.write(self._fd, view)
            except BlockingIOError:
                await anyio.wait_writable(self._fd)
                continue
            except (BrokenPipeError, OSError) as exc:
                raise anyio.BrokenResourceError(str(exc)) from exc
            view = view[written:]

    async def aclose(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)


def open_input(fd: int) -> ByteReceiveStream:
    mode = os.fstat(fd).st_mode
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        return PollingFdReceiveStream(fd)
    return FdReceiveStream(fd)


class PollingFdReceiveStream(ByteReceiveStream):
    """A pipe read on the loop: readability first, then a read that returns at once with what is buffered."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    async def receive(self, max_bytes: int = 65536) -> bytes:
        await anyio.wait_readable(self._fd)
        try:
            data = os.read(self._fd, max_bytes)
        except OSError as exc:
            raise anyio.EndOfStream from exc
        if not data:
            raise anyio.EndOfStream
        return data

    async def aclose(self) -> None:
        pass


class FdReceiveStream(ByteReceiveStream):
    """Reads an fd in a daemon thread; EOF (or a read error) ends the stream."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._send, self._receive = anyio.create_memory_object_stream[bytes](16)
        self._thread: threading.Thread | None = None

    def _start(self) -> None:
        token = current_token()

        def reader() -> None:
            try:
                while True:
                    try:
                        data = os.read(self._fd, 65536)
                    except OSError:
                        data = b""
                    if not data:
                        break
                    anyio.from_thread.run(self._send.send, data, token=token)
            except Exception:  # the loop is gone: the process is exiting
                return
            try:
                anyio.from_thread.run(self._send.aclose, token=token)
            except Exception:
                return

        self._thread = threading.Thread(target=reader, name="stdin-reader", daemon=True)
        self._thread.start()

    async def receive(self, max_bytes: int = 65536) -> bytes:
        if self._thread is None:
            self._start()
        try:
            return await self._receive.receive()
        except anyio.EndOfStream:
            raise anyio.EndOfStream from None

    async def aclose(self) -> None:
        await self._receive.aclose()
