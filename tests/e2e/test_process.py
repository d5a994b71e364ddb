"""The real process: only frames on stdout, exit 0 within 2 s of stdin EOF."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.fakesf import FakeSf
from tests.support.harness import SidecarProcess

pytestmark = pytest.mark.anyio


async def test_stdout_carries_only_frames(home: Path, fake_sf: FakeSf) -> None:
    # The fake CLI prints its update warning on stderr; discovery runs it. Nothing but JSON-RPC may reach stdout.
    fake_sf.write({"orgs": [], "noise": True})
    async with SidecarProcess.start(
        home, settings=fake_sf.settings(), env=fake_sf.env, extra_args=["--log-level", "DEBUG"]
    ) as sc:
        await sc.call("org:discover")
        await sc.call("org:register", "qa1")
        await sc.send_raw(b"garbage\n")
        await sc.call("sidecar:health")
    assert sc.undecodable == []
    for message in sc.messages:
        items = message if isinstance(message, list) else [message]
        assert all(isinstance(m, dict) and m.get("jsonrpc") == "2.0" for m in items)
    assert "DEBUG" in sc.stderr_text()


async def test_eof_exits_zero_within_two_seconds(home: Path, fake_sf: FakeSf) -> None:
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        await sc.call("org:status")
        started = time.monotonic()
        code = await sc.close(timeout=5)
        elapsed = time.monotonic() - started
    assert code == 0
    assert elapsed < 2.0, f"took {elapsed:.2f}s to exit after EOF"
