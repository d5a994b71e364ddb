"""Leases under real concurrency: many requests in flight, two processes on one file, restarts and kill -9."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import anyio
import pytest

from tests.support.fakesf import FakeSf
from tests.support.harness import RpcError, SidecarProcess

pytestmark = pytest.mark.anyio


async def register(sc: SidecarProcess, count: int) -> list[str]:
    return [(await sc.call("org:register", f"qa{i}"))["id"] for i in range(count)]


def leases_in_file(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute("SELECT id, assigned_agent_id, status FROM scratch_orgs").fetchall()
    for org_id, agent, status in rows:
        assert (status == "leased") == (agent is not None), f"{org_id}: {status} with agent {agent}"
    leased = {org_id: agent for org_id, agent, _ in rows if agent is not None}
    assert len(set(leased.values())) == len(leased), "an agent holds two orgs"
    return leased


async def test_fifty_concurrent_claims_for_four_orgs_have_four_distinct_winners(sidecar: SidecarProcess) -> None:
    ids = await register(sidecar, 4)
    results: dict[str, dict | None] = {}

    async def claim(agent: str) -> None:
        results[agent] = await sidecar.call("org:claim", agent)

    async with anyio.create_task_group() as tg:
        for n in range(50):
            tg.start_soon(claim, f"agent-{n}")
    winners = {agent: org["id"] for agent, org in results.items() if org is not None}
    assert len(winners) == 4
    assert sorted(winners.values()) == sorted(ids)
    assert sum(1 for org in results.values() if org is None) == 46
    status = await sidecar.call("org:status")
    assert (status["available"], status["leased"]) == (0, 4)


async def test_two_sidecar_processes_never_double_lease(home: Path, fake_sf: FakeSf) -> None:
    settings = fake_sf.settings(maxOrgs=6)
    async with SidecarProcess.start(home, settings=settings, env=fake_sf.env) as first:
        ids = await register(first, 6)
        async with SidecarProcess.start(home, settings=settings, env=fake_sf.env) as second:
            won: list[tuple[str, str]] = []

            async def claim(sc: SidecarProcess, agent: str) -> None:
                org = await sc.call("org:claim", agent, timeout=60)
                if org is not None:
                    won.append((agent, org["id"]))

            async with anyio.create_task_group() as tg:
                for n in range(20):
                    tg.start_soon(claim, first, f"p1-agent-{n}")
                    tg.start_soon(claim, second, f"p2-agent-{n}")
            assert len(won) == 6
            assert sorted(org for _, org in won) == sorted(ids)
            # Each process sees the other's leases: the pool is the file, not process memory.
            assert (await second.call("org:status"))["leased"] == 6
    assert leases_in_file(home / "sidecar.db") == {org: agent for agent, org in won}


async def test_restart_keeps_the_pool_and_its_leases(home: Path, fake_sf: FakeSf) -> None:
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        ids = await register(sc, 3)
        held = await sc.call("org:claim", "agent-1")
        before = await sc.call("org:list")
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        assert await sc.call("org:list") == before
        assert (await sc.call("org:lease", "agent-1"))["id"] == held["id"]
        assert (await sc.call("org:claim", "agent-1"))["id"] == held["id"]
        assert len(ids) == 3


async def test_kill_9_during_claim_traffic_leaves_a_consistent_pool(home: Path, fake_sf: FakeSf) -> None:
    """Every acknowledged change survives; nothing half-done remains; the constraints still hold."""
    acked: dict[str, str | None] = {}  # agent -> org it holds per the last acknowledged call (None: holds none)
    uncertain: set[str] = set()  # a call was sent and not answered before the kill
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        await register(sc, 4)

        async def agent_loop(agent: str) -> None:
            try:
                await claim_release_forever(agent)
            except (EOFError, anyio.BrokenResourceError, anyio.ClosedResourceError):
                return  # the sidecar was killed under this agent

        async def claim_release_forever(agent: str) -> None:
            rng = random.Random(agent)
            while True:
                uncertain.add(agent)
                org = await sc.call("org:claim", agent)
                acked[agent] = org["id"] if org else None
                uncertain.discard(agent)
                await anyio.sleep(0.05 + rng.random() * 0.1)  # idle most of the time, so the kill finds settled agents
                if org is not None:
                    uncertain.add(agent)
                    await sc.call("org:release", org["id"], agent)
                    acked[agent] = None
                    uncertain.discard(agent)

        with anyio.move_on_after(10):
            async with anyio.create_task_group() as tg:
                for n in range(8):
                    tg.start_soon(agent_loop, f"agent-{n}")
                await anyio.sleep(1.0)
                sc.kill9()
                await sc.stdout_closed.wait()
                tg.cancel_scope.cancel()
        assert sc.process.returncode is None or sc.process.returncode < 0 or await sc.process.wait() != 0
    leased = leases_in_file(home / "sidecar.db")
    by_agent = {agent: org for org, agent in leased.items()}
    checked = 0
    for agent, org in acked.items():
        if agent in uncertain:
            continue
        assert by_agent.get(agent) == org, f"{agent}: acknowledged {org}, file says {by_agent.get(agent)}"
        checked += 1
    assert checked > 0
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        status = await sc.call("org:status")
        assert status["total"] == 4 and status["available"] + status["leased"] == 4


async def test_an_agent_holds_at_most_one_org_even_when_it_claims_twice_at_once(sidecar: SidecarProcess) -> None:
    await register(sidecar, 4)
    results = []

    async def claim() -> None:
        results.append(await sidecar.call("org:claim", "greedy"))

    async with anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(claim)
    assert len({r["id"] for r in results}) == 1
    assert (await sidecar.call("org:status"))["leased"] == 1


async def test_late_release_by_a_former_owner_is_denied(sidecar: SidecarProcess) -> None:
    (org_id,) = await register(sidecar, 1)
    await sidecar.call("org:claim", "first")
    await sidecar.call("org:release", org_id, "first")
    await sidecar.call("org:claim", "second")
    with pytest.raises(RpcError) as caught:
        await sidecar.call("org:release", org_id, "first")
    assert caught.value.kind == "ACCESS_DENIED"
    assert (await sidecar.call("org:lease", "second"))["id"] == org_id
