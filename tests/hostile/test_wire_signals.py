"""Issue 8 item 7: SIGTERM is handled like stdin EOF (children stopped, database closed, exit 0 within 2 s)."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

import anyio
import pytest

from tests.e2e.test_children import hung_discover, processes
from tests.support.fakesf import FakeSf
from tests.support.harness import SidecarProcess

pytestmark = pytest.mark.anyio


async def test_sigterm_with_a_hung_sf_stops_its_process_group_and_exits_zero(home: Path, fake_sf: FakeSf) -> None:
    fake_sf.write({"orgs": [], "scenarios": {"org list": "hang"}})
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        await sc.call("org:register", "qa1")
        async with hung_discover(sc) as spawned:
            own_group = os.getpgid(sc.pid)
            groups = {pgid for pid, _, pgid in processes() if pid in spawned} - {own_group}
            assert groups, "the hung sf runs in a process group of its own"
            started = time.monotonic()
            os.kill(sc.pid, signal.SIGTERM)
            with anyio.fail_after(5):
                code = await sc.process.wait()
            elapsed = time.monotonic() - started
    assert code == 0, f"exit code {code}: {sc.stderr_text()[-2000:]}"
    assert elapsed < 2.0, f"exit took {elapsed:.2f}s after SIGTERM"
    left = [(pid, pgid) for pid, _, pgid in processes() if pgid in groups or pid in spawned]
    assert not left, f"left behind: {left}"
    # The database was closed cleanly: the file opens, is intact and holds what was acknowledged.
    with sqlite3.connect(home / "sidecar.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT alias FROM scratch_orgs").fetchall() == [("qa1",)]
    assert "SIGTERM" in sc.stderr_text()
