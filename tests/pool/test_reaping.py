"""Leases of machines that went away (issue 11, section 5), on both engines: two or three sidecar instances on one
database, each with its own connections, a clock the test moves. A lease whose instance stopped heartbeating for
the timeout is ended by a live peer; a live instance's leases never are, whatever their age; the reap is race-safe
against a heartbeat committing at the same moment and against a second reaper."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import anyio
import pytest

from sidecar.errors import AccessDenied
from sidecar.pool import instance_store
from sidecar.pool.holder import LeaseHolder
from sidecar.pool.instances import STALE_BEATS, Instances
from sidecar.pool.models import ChangeReason, OrgStatus
from sidecar.pool.peers import PeerChanges
from sidecar.pool.service import PoolChange, PoolLimits, PoolService
from sidecar.storage.database import Database, open_target
from sidecar.storage.url import DatabaseTarget
from tests.support.postgres import database_target, postgres_server, postgres_url  # noqa: F401

pytestmark = pytest.mark.anyio

START = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
LIMITS = PoolLimits(max_orgs=10, default_duration_days=7, min_remaining_hours=4)
TIMEOUT_MINUTES = 15.0
BEAT_SECONDS = 10.0


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Desk:
    db: Database
    pool: PoolService
    instances: Instances
    heard: list[PoolChange] = field(default_factory=list)


@pytest.fixture
async def desks(database_target: DatabaseTarget) -> AsyncIterator[tuple[Clock, list[Desk]]]:
    """Three desks (A, B, C) on one database, each its own instance with its own connection(s)."""
    clock = Clock()
    made: list[Desk] = []
    try:
        for name in ("a", "b", "c"):
            db = open_target(database_target)
            await db.open()
            pool = PoolService(db, LIMITS, clock=clock, holder=LeaseHolder(f"inst_{name}", lambda n=name: f"desk-{n}"))
            desk = Desk(db, pool, Instances(db, pool, lambda: TIMEOUT_MINUTES, BEAT_SECONDS, clock))

            async def heard(change: PoolChange, desk: Desk = desk) -> None:
                desk.heard.append(change)

            pool.subscribe(heard)
            await desk.instances.start()
            made.append(desk)
        yield clock, made
    finally:
        for desk in made:
            await desk.db.close()


async def test_a_lease_whose_instance_stopped_beating_is_reaped_by_a_live_peer(
    desks: tuple[Clock, list[Desk]],
) -> None:
    clock, (a, b, _) = desks
    org = await a.pool.register("qa1", expires_at=START + timedelta(days=3))
    assert (await a.pool.claim("agent-1")).id == org.id  # type: ignore[union-attr]
    # Just under the timeout: A is late but not gone.
    clock.advance(minutes=TIMEOUT_MINUTES - 1)
    await b.instances.beat()
    assert await b.instances.reap() == []
    clock.advance(minutes=2)
    await b.instances.beat()
    reaped = await b.instances.reap()
    assert [o.id for o in reaped] == [org.id]
    assert reaped[0].status is OrgStatus.AVAILABLE and reaped[0].assigned_agent_id is None
    assert reaped[0].machine_name is None
    # B's listeners hear it as reaped; the agent was A's, so none of B's agents is named.
    assert [(c.reason, c.org.id, c.agent_id) for c in b.heard[-1:]] == [(ChangeReason.REAPED, org.id, None)]
    # The machine that comes back finds its agent without an org, never two agents on one org.
    await a.instances.beat()
    assert await a.pool.lease_of("agent-1") is None
    with pytest.raises(AccessDenied, match="holds no org"):
        await a.pool.check_access("agent-1", "qa1")
    assert (await b.pool.claim("agent-9")).id == org.id  # type: ignore[union-attr]
    # Reaping again finds nothing: B's new lease is live.
    assert await a.instances.reap() == []


async def test_a_live_instances_leases_are_never_reaped_whatever_their_age(desks: tuple[Clock, list[Desk]]) -> None:
    clock, (a, b, _) = desks
    org = await a.pool.register("qa1", expires_at=START + timedelta(days=30))
    await a.pool.claim("agent-1")
    for _ in range(20):  # twenty days, A beating all along
        clock.advance(days=1)
        await a.instances.beat()
        assert await b.instances.reap() == []
    lease = await a.pool.lease_of("agent-1")
    assert lease is not None and lease.id == org.id
    # Its own leases are never reaped by itself either, even when its own beat is far behind.
    clock.advance(days=2)
    assert await a.instances.reap() == []


async def test_only_the_stale_instances_leases_are_reaped(desks: tuple[Clock, list[Desk]]) -> None:
    clock, (a, b, c) = desks
    for alias in ("qa1", "qa2", "qa3"):
        await a.pool.register(alias, expires_at=START + timedelta(days=3))
    on_a = [await a.pool.claim("agent-1"), await a.pool.claim("agent-2")]
    on_c = await c.pool.claim("agent-1")
    assert on_c is not None and all(on_a)
    clock.advance(minutes=TIMEOUT_MINUTES + 1)
    await c.instances.beat()
    reaped = await b.instances.reap()
    assert sorted(o.id for o in reaped) == sorted(o.id for o in on_a if o)
    assert (await c.pool.lease_of("agent-1")).id == on_c.id  # type: ignore[union-attr]


async def test_a_heartbeat_committing_during_the_reap_wins_and_the_lease_stays(
    desks: tuple[Clock, list[Desk]],
) -> None:
    clock, (a, b, _) = desks
    org = await a.pool.register("qa1", expires_at=START + timedelta(days=3))
    await a.pool.claim("agent-1")
    clock.advance(minutes=TIMEOUT_MINUTES + 1)
    written, commit = anyio.Event(), anyio.Event()
    reaped: list[object] = []
    finished = anyio.Event()

    async def beat_slowly() -> None:
        # A's beat is written but not committed while B reads the candidates (A is stale there) and reaps.
        async with a.db.transaction() as conn:
            await instance_store.beat(conn, "inst_a", "desk-a", clock())
            written.set()
            await commit.wait()

    async def reap() -> None:
        reaped.extend(await b.instances.reap())
        finished.set()

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(beat_slowly)
            await written.wait()
            tg.start_soon(reap)
            await anyio.sleep(0.5)
            # B waits behind A (the instance row's lock on PostgreSQL, the file's write lock on SQLite) ...
            assert not finished.is_set()
            commit.set()
    # ... and then sees the heartbeat: the lease stays A's.
    assert reaped == []
    assert (await a.pool.lease_of("agent-1")).id == org.id  # type: ignore[union-attr]


async def test_two_peers_reaping_at_once_end_each_lease_once(desks: tuple[Clock, list[Desk]]) -> None:
    clock, (a, b, c) = desks
    for i in range(6):
        await a.pool.register(f"qa{i}", expires_at=START + timedelta(days=3))
        await a.pool.claim(f"agent-{i}")
    clock.advance(minutes=TIMEOUT_MINUTES + 1)
    results: list[list[str]] = []
    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for desk in (b, c, b, c):

                async def reap(desk: Desk = desk) -> None:
                    results.append([o.id for o in await desk.instances.reap()])

                tg.start_soon(reap)
    ended = [org_id for batch in results for org_id in batch]
    assert len(ended) == 6 and len(set(ended)) == 6
    reaped_heard = [ch for desk in (b, c) for ch in desk.heard if ch.reason is ChangeReason.REAPED]
    assert len(reaped_heard) == 6


async def test_the_timeout_is_never_shorter_than_three_beats(desks: tuple[Clock, list[Desk]]) -> None:
    _, (a, _, _) = desks
    tiny = Instances(a.db, a.pool, lambda: 0.01, heartbeat_seconds=2.0)
    assert tiny.timeout() == timedelta(seconds=2.0 * STALE_BEATS)
    assert Instances(a.db, a.pool, lambda: 15, heartbeat_seconds=2.0).timeout() == timedelta(minutes=15)


async def test_a_sidecar_that_reconnects_hears_of_its_own_leases_reaped_while_it_was_away(
    desks: tuple[Clock, list[Desk]],
) -> None:
    """A was alive but cut off from the database (it could not beat); B reaped its lease. A's listener missed the
    notification, so its resync must name the lease that ended, with A's agent, for its run to stop."""
    clock, (a, b, _) = desks
    peers = PeerChanges(a.pool, origin="proc_a")
    kept = await a.pool.register("qa-kept", expires_at=START + timedelta(days=3))
    lost = await a.pool.register("qa-lost", expires_at=START + timedelta(days=2))
    assert (await a.pool.claim("agent-1")).id == lost.id  # type: ignore[union-attr]
    assert (await a.pool.claim("agent-2")).id == kept.id  # type: ignore[union-attr]
    clock.advance(minutes=TIMEOUT_MINUTES + 1)
    reaped = await b.instances.reap()
    assert {o.id for o in reaped} == {kept.id, lost.id}
    # A comes back: agent-2 claims again at once (another org now, the kept one again), agent-1 does not.
    await a.instances.beat()
    assert (await a.pool.claim("agent-2")) is not None
    heard_before = len(a.heard)
    statuses: list[object] = []

    async def resynced(status: object) -> None:
        statuses.append(status)

    peers.resynced.subscribe(resynced)
    await peers.resync()
    told = [(c.reason, c.org.id, c.agent_id) for c in a.heard[heard_before:]]
    assert (ChangeReason.REAPED, lost.id, "agent-1") in told
    assert all(agent != "agent-2" for _, _, agent in told if _ is ChangeReason.REAPED)
    assert len(statuses) == 1
    # Told once: a second resync has nothing more to say about it.
    heard_before = len(a.heard)
    await peers.resync()
    assert [c for c in a.heard[heard_before:] if c.reason is ChangeReason.REAPED] == []
