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
MAX_CAPTURE_BYTES = 64 * 1024 * 1024

OutputSink = Callable[[str, str], Awaitable[None]]  # (stream name "stdout"|"stderr", text)


@dataclass(frozen=True)
class Completed:
    exit_code: int
    stdout: bytes  # empty unless captured


class CaptureTooLarge(Exception):
    pass


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


async def _pump(
    stream: ByteReceiveStream | None, name: str, sink: OutputSink | None, capture: bytearray | None
) -> None:
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
            if len(capture) + len(chunk) > MAX_CAPTURE_BYTES:
                raise CaptureTooLarge(f"{name} exceeded {MAX_CAPTURE_BYTES} bytes")
            capture.extend(chunk)
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
    """Run `argv` (never through a shell). Raises TimeoutError past `timeout`; cancellation kills the group too."""
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
    captured = bytearray() if capture_stdout else None
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
        return Completed(process.returncode, bytes(captured or b""))
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
