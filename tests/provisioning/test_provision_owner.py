"""Run ownership: sidecars sharing one database leave each other's live runs alone, and a gone owner's runs are
reported interrupted (at start and on the heartbeat) with the commands it left running stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest

from sidecar.devtools.client import SidecarProcess
from sidecar.handlers.notifications import Notifications
from sidecar.pool.service import PoolLimits, PoolService
from sidecar.provisioning import store
from sidecar.provisioning.models import RunState
from sidecar.provisioning.owner import OWNER_ENV, Owner, reap_group, stale_after, why_gone
from sidecar.provisioning.service import ProvisioningService
from sidecar.settings import SettingsStore
from sidecar.sf.client import SfClient
from sidecar.storage.database import Database, open_target
from sidecar.storage.url import DatabaseTarget
from sidecar.wiremodel import WireModel
from tests.support.fakesf import FakeSf, scratch_org
from tests.support.postgres import database, database_target, postgres_server, postgres_url  # noqa: F401
from tests.support.provisioning import (
    config,
    fake_state,
    kill_leftovers,
    make_worktree,
    processes_with,
    provision_in_background,
    statuses,
)

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HERE = "this-host"
BEAT = 10.0


def dead_pid() -> int:
    """A pid that ran and was reaped, so nothing runs under it (reuse within a test is vanishingly unlikely)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# -- the rule ---------------------------------------------------------------------------------------------------


def test_heartbeat_staleness_rule() -> None:
    stale = stale_after(BEAT)
    assert stale == timedelta(seconds=30)
    peer = Owner(host="other-host", pid=4242, token="peer")

    def judge(owner: Owner | None, beat_age: float | None, *, alive: bool = True) -> str | None:
        beat = None if beat_age is None else T0 - timedelta(seconds=beat_age)
        return why_gone(owner, beat, here=HERE, now=T0, stale=stale, alive=lambda pid: alive)

    # On another host only the heartbeat can tell: fresh up to three beats, gone after.
    assert judge(peer, 0) is None
    assert judge(peer, 29.9) is None
    assert judge(peer, 30) is None
    assert "no heartbeat for more than 30 s" in (judge(peer, 30.1) or "")
    assert judge(peer, None) is not None
    # Another host's pid says nothing here: a dead-looking pid there is no proof.
    assert judge(peer, 1, alive=False) is None
    # On this host a dead pid is proof at once, a live one still needs a fresh heartbeat (the pid may be reused).
    local = Owner(host=HERE, pid=4242, token="local")
    assert judge(local, 1, alive=False) == "the sidecar running it stopped"
    assert judge(local, 1, alive=True) is None
    assert judge(local, 31, alive=True) is not None
    # A run written before owners were recorded.
    assert judge(None, None) == "the sidecar stopped"


# -- the sweep, in-process with a clock -------------------------------------------------------------------------


@dataclass
class World:
    db: Database
    service: ProvisioningService
    now: list[datetime]
    notes: list[tuple[str, WireModel]] = field(default_factory=list)

    def at(self, seconds: float) -> None:
        self.now[0] = T0 + timedelta(seconds=seconds)

    async def add_run(self, run_id: str, agent: str, owner: Owner, *, at: float = 0) -> None:
        async with self.db.transaction() as conn:
            await store.start(
                conn,
                holder="local",
                run_id=run_id,
                agent_id=agent,
                org_alias=f"qa-{agent}",
                branch_name="main",
                worktree_path="/tmp/wt",
                owner=owner,
                started_at=T0 + timedelta(seconds=at),
            )

    async def state(self, run_id: str) -> RunState:
        record = await store.get_run(self.db.reader, run_id)
        assert record is not None
        return record.state


@asynccontextmanager
async def world(tmp_path: Path, target: DatabaseTarget) -> AsyncIterator[World]:
    db = open_target(target)
    await db.open()
    try:
        now = [T0]
        pool = PoolService(db, PoolLimits(), clock=lambda: now[0])
        settings = SettingsStore(tmp_path / "settings.json")
        me = Owner(host=HERE, pid=os.getpid(), token="me")
        notes: list[tuple[str, WireModel]] = []

        async def notify(name: str, params: WireModel) -> None:
            notes.append((name, params))

        service = ProvisioningService(
            db, pool, SfClient(lambda: None), settings, clock=lambda: now[0], owner=me, heartbeat_seconds=BEAT
        )
        Notifications(notify).watch_provisioning(service.events)  # as app.py wires it: events become notifications
        yield World(db, service, now, notes)
    finally:
        await db.close()


async def test_sweep_takes_a_peers_run_only_once_its_heartbeat_is_stale(
    tmp_path: Path, database_target: DatabaseTarget
) -> None:
    async with world(tmp_path, database_target) as w:
        peer = Owner(host="other-host", pid=4242, token="peer")
        await w.add_run("run_peer", "a1", peer)
        w.at(25)
        assert await w.service.sweep(startup=True) == [] and await w.state("run_peer") is RunState.RUNNING
        # The peer beats at 25 s: its run stays its own for three more beats.
        async with w.db.transaction() as conn:
            await store.beat(conn, peer, ["run_peer"], w.now[0])
        w.at(55)
        assert await w.service.sweep() == [] and w.notes == []
        w.at(55.5)
        (taken,) = await w.service.sweep()
        assert taken.run_id == "run_peer" and await w.state("run_peer") is RunState.INTERRUPTED
        ((name, event),) = w.notes
        assert name == "agent:status"
        assert event.dump()["status"] == "ERROR" and "no heartbeat for more than 30 s" in event.dump()["errors"][0]
        # Reported once: the next sweep finds nothing.
        assert await w.service.sweep() == [] and len(w.notes) == 1


async def test_sweep_takes_a_dead_local_owners_run_at_once_but_not_a_live_ones(
    tmp_path: Path, database_target: DatabaseTarget
) -> None:
    async with world(tmp_path, database_target) as w:
        await w.add_run("run_dead", "a1", Owner(host=HERE, pid=dead_pid(), token="dead"))
        await w.add_run("run_live", "a2", Owner(host=HERE, pid=os.getppid(), token="live"))
        w.at(1)
        (taken,) = await w.service.sweep()
        assert taken.run_id == "run_dead"
        assert await w.state("run_live") is RunState.RUNNING
        assert "because the sidecar running it stopped" in w.notes[0][1].dump()["errors"][0]


async def test_runs_without_an_owner_are_judged_only_at_start(tmp_path: Path, database_target: DatabaseTarget) -> None:
    async with world(tmp_path, database_target) as w:
        await w.add_run("run_old", "a1", Owner(host=HERE, pid=os.getpid(), token="x"))
        async with w.db.transaction() as conn:  # as a sidecar older than migration 0004 wrote it
            await conn.execute(
                "UPDATE provision_runs SET owner_host = NULL, owner_pid = NULL, owner_token = NULL, heartbeat_at = NULL"
            )
        w.at(3600)
        assert await w.service.sweep() == []  # periodic: an old sidecar beside this one never beats
        assert [r.run_id for r in await w.service.sweep(startup=True)] == ["run_old"]


# -- reaping --------------------------------------------------------------------------------------------------


def sleeper(token: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["sleep", "60"], env={**os.environ, OWNER_ENV: token}, start_new_session=True, stdin=subprocess.DEVNULL
    )


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_reap_group_kills_only_a_group_that_carries_the_owners_marker() -> None:
    ours, theirs = sleeper("gone-sidecar"), sleeper("someone-else")
    try:
        assert reap_group(theirs.pid, "gone-sidecar") is False
        assert reap_group(ours.pid, "gone-sidecar") is True
        assert ours.wait(timeout=5) == -signal.SIGKILL
        assert theirs.poll() is None
        assert reap_group(ours.pid, "gone-sidecar") is False  # nothing left in the group
    finally:
        for child in (ours, theirs):
            if child.poll() is None:
                child.kill()
            child.wait()


# -- two sidecars, real processes -----------------------------------------------------------------------------


def beat_env(fake_sf: FakeSf) -> dict[str, str]:
    # Beats of 0.5 s: a stale heartbeat would show within 1.5 s, well inside each test's run.
    return {**fake_sf.env, "SWEATSHOP_HEARTBEAT_SECONDS": "0.5"}


async def owner_announced(sc: SidecarProcess) -> None:
    """Wait until the sidecar's provisioning has done its start-up sweep (it logs its ownership after it)."""
    with anyio.fail_after(15):
        while f"belong to pid {sc.pid} " not in sc.stderr_text():
            await anyio.sleep(0.05)


async def test_a_second_sidecar_leaves_the_first_ones_live_run_alone(
    home: Path, tmp_path: Path, fake_sf: FakeSf
) -> None:
    worktree = make_worktree(tmp_path / "wt", data=False, users=False)
    fake_sf.write(fake_state(orgs=[scratch_org("pool1")], delays={"project deploy start": 5}))
    settings, env = fake_sf.settings(), beat_env(fake_sf)
    async with SidecarProcess.start(home, settings=settings, env=env) as first:
        await first.call("org:register", "pool1")
        outcome: dict = {}
        async with anyio.create_task_group() as tg:
            await provision_in_background(tg, first, config("a1", worktree), outcome, "Deploying Metadata")
            async with SidecarProcess.start(home, settings=settings, env=env) as second:
                await owner_announced(second)
                await anyio.sleep(2.0)  # four beats of each: periodic sweeps of the second ran during the deploy
                assert not outcome, "the deploy should still be running"
                for sc in (first, second):
                    (run,) = await sc.call("provision:runs")
                    assert run["agentId"] == "a1" and run["state"] == "running"
                with anyio.fail_after(20):
                    while not outcome:
                        await anyio.sleep(0.05)
                (run,) = await second.call("provision:runs")
                assert run["state"] == "succeeded"
                assert statuses(second, "a1") == []  # nothing reported by the one that does not run it
        assert outcome["success"] is True, outcome
        assert statuses(first, "a1")[-1]["status"] == "QA_READY"
    assert "interrupted" not in first.stderr_text()  # one stderr.log for both: neither said it


async def test_a_peer_killed_mid_run_is_reported_by_the_survivor_and_its_commands_stopped(
    home: Path, tmp_path: Path, fake_sf: FakeSf
) -> None:
    worktree = make_worktree(tmp_path / "wt", data=False, users=False)
    fake_sf.write(fake_state(orgs=[scratch_org("pool1")], scenarios={"project deploy start": "hang"}))
    settings, env = fake_sf.settings(), beat_env(fake_sf)
    marker = str(fake_sf.state_path)
    try:
        async with SidecarProcess.start(home, settings=settings, env=env) as survivor:
            await owner_announced(survivor)
            async with SidecarProcess.start(home, settings=settings, env=env) as doomed:
                pooled = await doomed.call("org:register", "pool1")
                await doomed.send(
                    {
                        "jsonrpc": "2.0",
                        "id": doomed.new_id(),
                        "method": "agent:provision",
                        "params": [config("a1", worktree)],
                    }
                )
                await doomed.wait_notification("terminal:output", lambda p: "Deploy ID" in p["data"], timeout=10)
                orphans = processes_with(marker, exclude=(survivor.pid, doomed.pid))
                assert len(orphans) >= 2, "the hung deploy and its child should be running"
                doomed.kill9()
                note = await survivor.wait_notification("agent:status", lambda p: p["agentId"] == "a1", timeout=10)
            assert note["params"]["status"] == "ERROR" and note["params"]["step"] == "deploy"
            assert (
                "interrupted during the deploy step because the sidecar running it stopped"
                in note["params"]["errors"][0]
            )
            (run,) = await survivor.call("provision:runs")
            assert run["state"] == "interrupted"
            assert (await survivor.call("org:lease", "a1"))["id"] == pooled["id"]  # still the agent's
            # Stopped by the survivor (zombies, waiting for whoever adopted them, do not count).
            with anyio.fail_after(5):
                while processes_with(marker, exclude=(survivor.pid,)):
                    await anyio.sleep(0.05)
    finally:
        kill_leftovers(marker)
