"""Issue 12: the creation-job store and the capacity it holds, on both engines (a real SQLite file and a real
PostgreSQL database): rows per sidecar instance, a job recorded twice kept once, attempts counted, and signups no
reservation holds (left by a killed sidecar) counted against maxOrgs exactly once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
import pytest

from sidecar.pool import instance_store
from sidecar.pool.holder import LeaseHolder
from sidecar.pool.service import PoolLimits, PoolService
from sidecar.provisioning import creation_store
from sidecar.provisioning.creation import CapacityGate, CreationJobs
from sidecar.provisioning.creation_store import JobRow
from sidecar.storage.database import Database
from sidecar.timeutil import utcnow
from tests.support.postgres import database, database_target, postgres_server, postgres_url  # noqa: F401

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
LEASE_TIMEOUT = timedelta(minutes=15)  # orgPool.leaseTimeoutMinutes' default


def job(job_id: str, holder: str = "local", *, minutes: int = 0, agent: str | None = "a1") -> JobRow:
    return JobRow(
        job_id=job_id,
        holder=holder,
        alias=f"qa-{job_id[-4:].lower()}",
        username=f"test-{job_id.lower()}@example.com",
        definition_file="/w/config/project-scratch-def.json",
        cwd="/w",
        agent_id=agent,
        attempts=0,
        last_error=None,
        requested_at=NOW + timedelta(minutes=minutes),
    )


async def test_jobs_are_kept_per_instance_oldest_first(database: Database) -> None:
    async with database.transaction() as conn:
        await creation_store.add(conn, job("2SR000000000002AAA", minutes=5))
        await creation_store.add(conn, job("2SR000000000001AAA", agent=None))
        await creation_store.add(conn, job("2SR000000000003AAA", holder="inst_other"))
        # The same signup seen twice keeps its first row.
        await creation_store.add(conn, job("2SR000000000001AAA", agent="a9"))
    mine = await creation_store.pending(database.reader, "local")
    assert [j.job_id for j in mine] == ["2SR000000000001AAA", "2SR000000000002AAA"]
    assert mine[0] == job("2SR000000000001AAA", agent=None)  # every column round-trips, the instant aware
    assert mine[0].requested_at.tzinfo is not None
    assert await creation_store.pending_ids(database.reader, "inst_other") == {"2SR000000000003AAA"}
    # Another machine's signups count against a shared pool's capacity while it heartbeats: each instance sees the
    # others'. A machine silent since before `live_since` (gone longer than the lease timeout) holds no slot.
    async with database.transaction() as conn:
        await instance_store.beat(conn, "local", "desk-a", NOW)
        await instance_store.beat(conn, "inst_other", "desk-b", NOW - timedelta(minutes=10))
    assert await creation_store.pending_elsewhere(database.reader, "local", NOW - timedelta(minutes=15)) == 1
    assert await creation_store.pending_elsewhere(database.reader, "inst_other", NOW - timedelta(minutes=15)) == 2
    assert await creation_store.pending_elsewhere(database.reader, "local", NOW - timedelta(minutes=5)) == 0
    assert await creation_store.pending_elsewhere(database.reader, "inst_other", NOW - timedelta(minutes=5)) == 2

    async with database.transaction() as conn:
        await creation_store.attempted(conn, "2SR000000000002AAA", "still under way")
        await creation_store.attempted(conn, "2SR000000000002AAA", "timed out")
    (_, second) = await creation_store.pending(database.reader, "local")
    assert second.attempts == 2 and second.last_error == "timed out"

    async with database.transaction() as conn:
        assert await creation_store.remove(conn, "2SR000000000001AAA") is True
        assert await creation_store.remove(conn, "2SR000000000001AAA") is False
    assert await creation_store.pending_ids(database.reader, "local") == {"2SR000000000002AAA"}


async def test_a_signup_counts_against_max_orgs_once(database: Database) -> None:
    pool = PoolService(database, PoolLimits(max_orgs=2), clock=lambda: NOW, holder=LeaseHolder.local())
    woken: list[int] = []
    jobs = CreationJobs(database, "local", lambda: LEASE_TIMEOUT, clock=lambda: NOW)
    gate = CapacityGate(pool, lambda: woken.append(1), jobs)
    assert await gate.used() == 0

    # A run's creation: its reservation, then its job recorded: one slot, not two.
    first = await gate.reserve()
    assert first is not None
    first.attach("2SR000000000001AAA")
    await jobs.record(job("2SR000000000001AAA"))
    assert await gate.used() == 1 and gate.holds("2SR000000000001AAA")

    # A job a killed sidecar left (no reservation holds it) counts too, so the pool is full.
    await jobs.record(job("2SR000000000002AAA"))
    assert await gate.used() == 2
    assert await gate.reserve() is None
    # The background takes it up (a hold, whatever the room): still two, not three.
    held = gate.hold("2SR000000000002AAA")
    assert await gate.used() == 2

    # A hand-over keeps the slot: the old reservation's release is a no-op, the new one's frees it.
    moved = first.hand_over()
    first.release()
    assert await gate.used() == 2 and woken == []
    await jobs.clear("2SR000000000001AAA")
    moved.release()
    assert await gate.used() == 1 and woken == [1] and not gate.holds("2SR000000000001AAA")

    await jobs.clear("2SR000000000002AAA")
    held.release()
    held.release()  # once only
    assert await gate.used() == 0 and gate.in_flight == 0


async def test_hand_over_reaches_the_background_in_order(database: Database) -> None:
    pool = PoolService(database, PoolLimits(max_orgs=4), clock=lambda: NOW, holder=LeaseHolder.local())
    jobs = CreationJobs(database, "local", lambda: LEASE_TIMEOUT, clock=lambda: NOW)
    gate = CapacityGate(pool, lambda: None, jobs)
    got: list[str] = []

    async def background() -> None:
        for _ in range(2):
            handed, reservation = await jobs.next_handed()
            got.append(handed.job_id)
            reservation.release()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(background)
            await anyio.sleep(0.01)
            jobs.hand_over(job("2SR000000000001AAA"), gate.hold("2SR000000000001AAA"))
            jobs.hand_over(job("2SR000000000002AAA"), gate.hold("2SR000000000002AAA"))
    assert got == ["2SR000000000001AAA", "2SR000000000002AAA"] and gate.in_flight == 0


async def test_another_machines_signup_holds_a_slot_until_that_machine_is_gone(database: Database) -> None:
    """A signup under way on another desktop counts against the team's capacity while that desktop heartbeats; once
    it has been silent for longer than the lease timeout (its leases are reaped then too) the slot is free again,
    so a machine that died mid-creation does not shrink the team's pool for good."""
    pool = PoolService(database, PoolLimits(max_orgs=1), clock=lambda: NOW, holder=LeaseHolder.local())
    gone_after = timedelta(minutes=15)
    jobs = CreationJobs(database, "local", lambda: gone_after, clock=lambda: NOW)
    gate = CapacityGate(pool, lambda: None, jobs)
    async with database.transaction() as conn:
        await creation_store.add(conn, job("2SR000000000009AAA", holder="inst_other"))
        await instance_store.beat(conn, "inst_other", "desk-b", utcnow() - timedelta(minutes=10))
    assert await gate.used() == 1
    assert await gate.reserve() is None

    gone_after = timedelta(minutes=5)  # the same silence, now longer than the timeout
    assert await gate.used() == 0
    reservation = await gate.reserve()
    assert reservation is not None
    reservation.release()
