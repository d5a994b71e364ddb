"""Run one child process in its own process group, stream its output in coalesced chunks, and always reap it.

Why each choice: `start_new_session` makes the child lead a process group, so a kill reaches the Node process `sf`
spawns too; stdin is /dev/null so a child never reads the sidecar's protocol stream (and a prompt fails instead of
hanging); output is decoded incrementally and flushed at most every COALESCE_SECONDS per stream, so a chatty deploy
costs a bounded number of notifications and never sits whole in memory.

A caller that must find its children again after its own death (provisioning, see sidecar/provisioning/owner.py)
sets CHILD_WATCH for the task: each child then carries the watch's environment marker, and the watch hears each
process group start and end, so it can record them where a later process will look.
"""

from __future__ import annotations

import codecs
import contextlib
import logging
import os
import signal
import subprocess
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

import anyio
from anyio.abc import ByteReceiveStream

log = logging.getLogger(__name__)

COALESCE_SECONDS = 0.02
FLUSH_BYTES = 64 * 1024
TERM_GRACE_SECONDS = 1.0
# The most of a child's stdout kept whole (a `--json` document): the largest real envelope (a big deploy's
# result) is a few MiB; past this the child is stopped and the run reported as failed, never buffered on.
MAX_CAPTURE_BYTES = 32 * 1024 * 1024

OutputSink = Callable[[str, str], Awaitable[None]]  # (stream name "stdout"|"stderr", text)


@dataclass(frozen=True)
class Completed:
    exit_code: int  # negative: killed by that signal (the subprocess convention)
    stdout: bytes  # empty unless captured

    @property
    def signal_name(self) -> str | None:
        """`SIGKILL` for a child killed by signal 9, None when it exited: "exit code -9" tells a person nothing."""
        return signal_name(self.exit_code)


def signal_name(exit_code: int) -> str | None:
    if exit_code >= 0:
        return None
    try:
        return signal.Signals(-exit_code).name
    except ValueError:
        return f"signal {-exit_code}"


class CaptureTooLarge(Exception):
    """The child printed more than MAX_CAPTURE_BYTES on a captured stream; it was stopped."""

    def __init__(self, stream: str, limit: int) -> None:
        super().__init__(f"printed more than {limit // (1024 * 1024)} MiB on {stream}")
        self.stream = stream
        self.limit = limit


@dataclass(frozen=True)
class ChildWatch:
    """Extra environment for every child started in this context, and hooks told each child's process group id.

    A context variable rather than a parameter: the children are started several calls below the code that knows
    why they run (a provisioning run), through the shared `SfClient`, which should not have to know about runs.
    """

    env: Mapping[str, str]
    started: Callable[[int], Awaitable[None]]
    ended: Callable[[int], Awaitable[None]]


CHILD_WATCH: ContextVar[ChildWatch | None] = ContextVar("sidecar_child_watch", default=None)


def kill_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


class _Capture:
    """A captured stream: what was kept, and whether it overflowed (then the child is stopped, the rest dropped)."""

    def __init__(self, pid: int) -> None:
        self.data = bytearray()
        self.overflowed = False
        self._pid = pid

    def add(self, chunk: bytes) -> None:
        if self.overflowed:
            return  # draining a child that is being killed: keep nothing more
        if len(self.data) + len(chunk) > MAX_CAPTURE_BYTES:
            self.overflowed = True
            self.data = bytearray()
            kill_group(self._pid, signal.SIGKILL)
            return
        self.data.extend(chunk)


async def _pump(stream: ByteReceiveStream | None, name: str, sink: OutputSink | None, capture: _Capture | None) -> None:
    """Forward one pipe to `sink` in chunks of at most COALESCE_SECONDS, or capture it whole (bounded)."""
    if stream is None:
        return
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    pending: list[str] = []
    size = 0
    deadline: float | None = None

    async def flush() -> None:
        nonlocal pending, size, deadline
        if pending and sink is not None:
            await sink(name, "".join(pending))
        pending, size, deadline = [], 0, None

    while True:
        chunk: bytes | None = None
        timeout = None if deadline is None else max(0.0, deadline - anyio.current_time())
        with anyio.move_on_after(timeout) as scope:
            try:
                chunk = await stream.receive()
            except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
                chunk = b""
        if scope.cancelled_caught:
            await flush()
            continue
        assert chunk is not None
        if not chunk:
            tail = decoder.decode(b"", final=True)
            if tail:
                pending.append(tail)
            await flush()
            return
        if capture is not None:
            capture.add(chunk)
            continue
        text = decoder.decode(chunk)
        if text:
            pending.append(text)
            size += len(text)
            if deadline is None:
                deadline = anyio.current_time() + COALESCE_SECONDS
            if size >= FLUSH_BYTES:
                await flush()


async def run_process(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    sink: OutputSink | None = None,
    capture_stdout: bool = False,
    timeout: float | None = None,  # noqa: ASYNC109 - the command's budget: past it its process group is killed
) -> Completed:
    """Run `argv` (never through a shell). Raises TimeoutError past `timeout`, CaptureTooLarge for a captured
    stdout over MAX_CAPTURE_BYTES (the group is killed at that point); cancellation kills the group too."""
    watch = CHILD_WATCH.get()
    if watch is not None:
        env = {**(os.environ if env is None else env), **watch.env}
    process = await anyio.open_process(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        start_new_session=True,
    )
    captured = _Capture(process.pid) if capture_stdout else None
    try:
        if watch is not None:
            await watch.started(process.pid)  # the pid is the group id: the child leads its own session
        with anyio.fail_after(timeout):
            async with anyio.create_task_group() as tg:
                tg.start_soon(_pump, process.stdout, "stdout", sink, captured)
                tg.start_soon(_pump, process.stderr, "stderr", sink, None)
                await process.wait()
                # A grandchild that outlives the leader would hold the pipes open forever.
                kill_group(process.pid, signal.SIGKILL)
        assert process.returncode is not None
        if captured is not None and captured.overflowed:
            raise CaptureTooLarge("stdout", MAX_CAPTURE_BYTES)
        return Completed(process.returncode, bytes(captured.data) if captured is not None else b"")
    finally:
        with anyio.CancelScope(shield=True):
            if process.returncode is None:
                kill_group(process.pid, signal.SIGTERM)
                with anyio.move_on_after(TERM_GRACE_SECONDS):
                    await process.wait()
            kill_group(process.pid, signal.SIGKILL)
            if process.returncode is None:
                await process.wait()
            await process.aclose()
            if watch is not None:
                await watch.ended(process.pid)
