"""The pool's NOTIFY trigger on a real PostgreSQL (migration 0011): one small payload per committed row change, with
the reason the service would announce, the writer's origin and the holder concerned; nothing for a rolled-back
transaction or for deployment bookkeeping. And the back-off of a lost database, with a clock the test moves."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest

from sidecar.errors import DatabaseUnavailable
from sidecar.pool import instance_store
from sidecar.pool.holder import LeaseHolder
from sidecar.pool.models import Hydration
from sidecar.pool.peers import POOL_CHANNEL
from sidecar.pool.service import PoolLimits, PoolService
from sidecar.storage.availability import RETRY_SECONDS, Availability
from sidecar.storage.database import PostgresDatabase
from sidecar.storage.url import parse_database_url
from tests.support.postgres import postgres_server, postgres_url  # noqa: F401

pytestmark = pytest.mark.anyio

NOW = datetime.now(UTC)


@pytest.fixture
async def listened(postgres_url: str) -> AsyncIterator[tuple[PostgresDatabase, list[dict[str, Any]]]]:
    import asyncpg

    db = PostgresDatabase(parse_database_url(postgres_url), max_size=2)
    await db.open()
    heard: list[dict[str, Any]] = []
    conn = await asyncpg.connect(postgres_url)
    await conn.add_listener(POOL_CHANNEL, lambda _c, _p, _ch, text: heard.append(json.loads(text)))
    try:
        yield db, heard
    finally:
        await conn.close()
        await db.close()


async def settle(heard: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    with anyio.fail_after(10):
        while len(heard) < count:
            await anyio.sleep(0.01)
    await anyio.sleep(0.2)  # and nothing more arrives
    return list(heard)


async def test_each_committed_change_notifies_once_with_its_reason(
    listened: tuple[PostgresDatabase, list[dict[str, Any]]],
) -> None:
    db, heard = listened
    pool = PoolService(db, PoolLimits(max_orgs=5), holder=LeaseHolder("inst_a", lambda: "desk-a"))
    org = await pool.register("qa1", expires_at=NOW + timedelta(days=3), hydration=Hydration.HYDRATING)
    await pool.record_deployment(org.id, commit="abc", state={"files": 1})  # bookkeeping: nobody is told
    await pool.set_hydration(org.id, Hydration.READY)
    await pool.claim("agent-1")
    await pool.release(org.id)
    await pool.claim("agent-2")
    async with db.transaction() as conn:  # a reap names its reason for the trigger
        await instance_store.mark_reaping(conn)
        await conn.execute(
            "UPDATE scratch_orgs SET status = 'available', assigned_agent_id = NULL, holder_instance = NULL,"
            " holder_machine = NULL, leased_at = NULL WHERE id = ?",
            (org.id,),
        )
    with pytest.raises(RuntimeError):  # rolled back: never heard
        async with db.transaction() as conn:
            await conn.execute("DELETE FROM scratch_orgs WHERE id = ?", (org.id,))
            raise RuntimeError("changed my mind")
    await pool.remove(org.id)
    got = await settle(heard, 7)
    assert [p["reason"] for p in got] == [
        "registered",
        "registered",  # hydrated: claimable now
        "claimed",
        "released",
        "claimed",
        "reaped",
        "removed",
    ]
    assert all(p["id"] == org.id and p["origin"] == db.origin for p in got)
    assert got[2]["holder"] == "inst_a" and got[2]["agent"] == "agent-1"
    assert got[3]["holder"] == "inst_a" and got[3]["agent"] == "agent-1"  # whose lease ended
    assert got[-1]["org"]["alias"] == "qa1"  # a removed row's display columns travel with it
    assert all(len(json.dumps(p)) < 1000 for p in got)


def test_a_lost_database_refuses_at_once_and_backs_off_doubling() -> None:
    now = [100.0]
    link = Availability("postgresql://u:****@db/team", clock=lambda: now[0])
    link.check()  # up: nothing refused
    link.lost("AdminShutdownError")
    with pytest.raises(DatabaseUnavailable) as refused:
        link.check()
    assert refused.value.data["reason"] == "connectionLost" and "****" in refused.value.message
    now[0] += RETRY_SECONDS[0]
    link.check()  # the pause is over: one request may try again
    link.lost("AdminShutdownError")  # it failed too: twice the pause
    now[0] += RETRY_SECONDS[0]
    with pytest.raises(DatabaseUnavailable):
        link.check()
    now[0] += RETRY_SECONDS[0]
    link.check()
    for _ in range(20):
        link.lost("OSError")
    now[0] += RETRY_SECONDS[1] - 0.01
    with pytest.raises(DatabaseUnavailable):  # capped, but still waiting
        link.check()
    now[0] += 0.02
    link.check()
    woken: list[bool] = []
    link.on_up(lambda: woken.append(True))
    link.reached()
    assert link.up and woken == [True]
    link.check()
