"""Child processes: a slow `sf` never blocks other requests, and closing stdin leaves no process behind."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest

from tests.support.fakesf import FakeSf, scratch_org
from tests.support.harness import RpcError, SidecarProcess

pytestmark = pytest.mark.anyio


def processes() -> list[tuple[int, int, int]]:
    """(pid, ppid, pgid) of every live process, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] == "Z":
            continue
        found.append((int(entry), int(fields[1]), int(fields[2])))
    return found


def descendants(pid: int) -> set[int]:
    table = processes()
    result: set[int] = set()
    frontier = {pid}
    while frontier:
        children = {p for p, ppid, _ in table if ppid in frontier} - result
        result |= children
        frontier = children
    return result


async def test_a_slow_sf_call_does_not_block_status(sidecar: SidecarProcess, fake_sf: FakeSf) -> None:
    fake_sf.write({"orgs": [scratch_org("qa1")], "delays": {"org list": 2.0}})
    order: list[str] = []

    async def discover() -> None:
        await sidecar.call("org:discover")
        order.append("discover")

    async with anyio.create_task_group() as tg:
        tg.start_soon(discover)
        await anyio.sleep(0.3)  # the fake is running now
        await sidecar.call("org:status")
        order.append("status")
    assert order == ["status", "discover"]


@asynccontextmanager
async def hung_discover(sc: SidecarProcess) -> AsyncIterator[set[int]]:
    """`org:discover` running against a hung fake `sf` (and its sleeping child); yields their pids."""
    async with anyio.create_task_group() as tg:

        async def discover() -> None:
            with pytest.raises((RpcError, EOFError)):
                await sc.call("org:discover")

        tg.start_soon(discover)
        with anyio.fail_after(10):
            while len(descendants(sc.pid)) < 2:  # the fake and its sleeping child
                await anyio.sleep(0.05)
        yield descendants(sc.pid)


async def test_eof_kills_a_hung_sf_and_its_children(home: Path, fake_sf: FakeSf) -> None:
    fake_sf.write({"orgs": [], "scenarios": {"org list": "hang"}})
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:  # noqa: SIM117 - the second context starts on the first one's sidecar
        async with hung_discover(sc) as spawned:
            started = time.monotonic()
            code = await sc.close(timeout=5)
            elapsed = time.monotonic() - started
    assert code == 0
    assert elapsed < 2.0, f"exit took {elapsed:.2f}s"
    alive = {pid for pid, _, _ in processes()} & spawned
    assert not alive, f"left behind: {alive}"
