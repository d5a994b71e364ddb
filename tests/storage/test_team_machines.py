"""Several desktops of a team on one PostgreSQL, as real processes: each sidecar has its own home (so its own
instance) and its own fake `sf` state file (its own CLI). Claims race across machines; one machine is killed with
-9 in the middle of claim traffic. The database is read directly afterwards: the rules hold there, not only in the
answers. (The queue across machines: tests/provisioning/test_team_queue.py.)"""

from __future__ import annotations

import random
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import pytest

from sidecar.devtools.client import SidecarProcess
from sidecar.pool.holder import INSTANCE_FILE
from sidecar.storage.database import PostgresDatabase
from sidecar.storage.url import ENV_VAR, parse_database_url
from tests.support.fakesf import FakeSf
from tests.support.postgres import postgres_server, postgres_url  # noqa: F401

pytestmark = pytest.mark.anyio


def machine_env(tmp_path: Path, name: str, url: str) -> tuple[dict[str, Any], dict[str, str]]:
    fake = FakeSf(tmp_path / f"{name}-sf.json", tmp_path / f"{name}-sf.jsonl")
    fake.write({"orgs": []})
    return fake.settings(maxOrgs=10, machineName=name), {**fake.env, ENV_VAR: url}


async def start_machines(stack: AsyncExitStack, tmp_path: Path, url: str, count: int) -> list[SidecarProcess]:
    machines = []
    for n in range(count):
        settings, env = machine_env(tmp_path, f"desk-{n}", url)
        machines.append(await stack.enter_async_context(SidecarProcess.start(tmp_path / f"desk-{n}", settings, env)))
    for sc in machines:  # all fully started (migrations done, capacity initialised) before any race
        await sc.call("sidecar:health")
    return machines


def instance_of(sc: SidecarProcess) -> str:
    return (sc.home / INSTANCE_FILE).read_text(encoding="utf-8").strip()


async def leases_in_database(url: str) -> dict[str, tuple[str, str]]:
    """org id -> (holder instance, agent) for every leased org, after checking the lease columns agree."""
    db = PostgresDatabase(parse_database_url(url), max_size=1)
    await db.open()
    try:
        rows = await db.reader.fetch_all(
            "SELECT id, status, assigned_agent_id, holder_instance, holder_machine FROM scratch_orgs"
        )
    finally:
        await db.close()
    for row in rows:
        leased = row["status"] == "leased"
        assert leased == (row["assigned_agent_id"] is not None) == (row["holder_instance"] is not None), dict(row)
    leases = {
        row["id"]: (row["holder_instance"], row["assigned_agent_id"]) for row in rows if row["status"] == "leased"
    }
    assert len(set(leases.values())) == len(leases), "an agent holds two orgs"
    return leases


async def test_a_hundred_claims_from_three_machines_for_four_orgs_have_exactly_four_winners(
    tmp_path: Path, postgres_url: str
) -> None:
    results: dict[tuple[int, str], dict[str, Any] | None] = {}
    with anyio.fail_after(120):
        async with AsyncExitStack() as stack:
            machines = await start_machines(stack, tmp_path, postgres_url, 3)
            ids = [(await machines[n % 3].call("org:register", f"qa{n}"))["id"] for n in range(4)]

            async def claim(n: int, agent: str) -> None:
                results[(n, agent)] = await machines[n].call("org:claim", agent, timeout=60)

            async with anyio.create_task_group() as tg:
                for k in range(100):
                    # Agent ids repeat across machines: agent-1 on desk-0 and agent-1 on desk-1 are two agents.
                    tg.start_soon(claim, k % 3, f"agent-{k // 3}")
            winners = {key: org["id"] for key, org in results.items() if org is not None}
            assert len(results) == 100 and len(winners) == 4
            assert sorted(winners.values()) == sorted(ids)
            for sc in machines:  # every machine sees the whole team pool, each lease with its machine's name
                listed = {o["id"]: o for o in await sc.call("org:list")}
                assert all(listed[i]["status"] == "leased" for i in ids)
                assert {(listed[org]["machineName"], listed[org]["assignedAgentId"]) for org in winners.values()} == {
                    (f"desk-{n}", agent) for n, agent in winners
                }
            instances = [instance_of(sc) for sc in machines]
    assert await leases_in_database(postgres_url) == {org: (instances[n], agent) for (n, agent), org in winners.items()}


async def test_kill_9_of_one_machine_in_claim_traffic_loses_no_acknowledged_change_and_leases_nothing_twice(
    tmp_path: Path, postgres_url: str
) -> None:
    acked: dict[tuple[int, str], str | None] = {}  # (machine, agent) -> org it holds per its last acknowledged call
    uncertain: set[tuple[int, str]] = set()  # a call was sent and not answered (the killed machine's last ones)
    holders: dict[str, tuple[int, str]] = {}  # org -> who the answers say holds it now
    doubles: list[str] = []
    killed = 2
    dead: set[int] = set()  # set just before the kill: no call is sent to a machine known dead
    stopping = anyio.Event()  # the live machines' agents end after the call they are in
    with anyio.fail_after(120):
        async with AsyncExitStack() as stack:
            machines = await start_machines(stack, tmp_path, postgres_url, 3)
            for n in range(6):
                await machines[n % 3].call("org:register", f"qa{n}")

            async def agent_loop(n: int, agent: str) -> None:
                try:
                    await claim_release_forever(n, agent)
                except (EOFError, anyio.BrokenResourceError, anyio.ClosedResourceError):
                    return  # its machine was killed under it

            async def claim_release_forever(n: int, agent: str) -> None:
                key, rng = (n, agent), random.Random(f"{n}-{agent}")
                while n not in dead and not stopping.is_set():
                    uncertain.add(key)
                    org = await machines[n].call("org:claim", agent, timeout=30)
                    acked[key] = org["id"] if org else None
                    uncertain.discard(key)
                    if org is not None:
                        if org["id"] in holders:
                            doubles.append(org["id"])
                        holders[org["id"]] = key
                    await anyio.sleep(0.1 + rng.random() * 0.3)  # idle most of the time: the kill finds settled ones
                    if org is not None and n not in dead:
                        del holders[org["id"]]
                        uncertain.add(key)
                        await machines[n].call("org:release", org["id"], agent, timeout=30)
                        acked[key] = None
                        uncertain.discard(key)

            async with anyio.create_task_group() as tg:
                for k in range(18):
                    tg.start_soon(agent_loop, k % 3, f"agent-{k // 3}")
                await anyio.sleep(2.0)
                while sum(1 for k in acked if k[0] == killed and k not in uncertain) < 2:
                    await anyio.sleep(0.005)  # kill when some of its agents have an acknowledged state to check
                dead.add(killed)
                machines[killed].kill9()
                await machines[killed].stdout_closed.wait()
                await anyio.sleep(1.0)  # the two live machines go on claiming after the kill
                stopping.set()
            instances = [instance_of(sc) for sc in machines]
            assert await machines[0].call("sidecar:health")
    assert not doubles, f"two agents were answered the same org at once: {doubles}"
    leases = {holder: org for org, holder in (await leases_in_database(postgres_url)).items()}
    checked = {0: 0, 1: 0, 2: 0}
    for (n, agent), org in acked.items():
        if (n, agent) in uncertain:
            continue
        assert leases.get((instances[n], agent)) == org, f"desk-{n} {agent}: acknowledged {org}"
        checked[n] += 1
    assert all(checked.values()), checked  # the killed machine's acknowledged changes were checked too
