"""The team queue's SQL on both engines: one order over every instance's rows, each with its run's state and
heartbeat, and the beat that refreshes only this instance's waiting runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sidecar.provisioning import store
from sidecar.provisioning.models import QueueReason, RunState
from sidecar.provisioning.owner import Owner
from sidecar.storage.database import Database
from tests.support.postgres import database, database_target, postgres_server, postgres_url  # noqa: F401

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
OWNER = Owner("host", 1, "token")


async def wait_in_queue(db: Database, holder: str, agent: str, at: datetime) -> str:
    """A run started at `at`, parked, and its queue row: what a sidecar writes when an agent has to wait."""
    run_id = f"run_{holder}_{agent}"
    async with db.transaction() as conn:
        await store.start(
            conn,
            holder=holder,
            run_id=run_id,
            agent_id=agent,
            org_alias=f"qa-{agent}",
            branch_name="main",
            worktree_path="/w",
            owner=OWNER,
            started_at=at,
        )
        await store.enqueue(
            conn,
            holder=holder,
            agent_id=agent,
            run_id=run_id,
            org_alias=f"qa-{agent}",
            branch_name="main",
            worktree_path="/w",
            reason=QueueReason.CAPACITY,
            attempts=0,
            retry_at=None,
            last_error=None,
            queued_at=at,
        )
        await store.park(conn, run_id, warnings=[], steps=[])
    return run_id


async def test_the_team_queue_is_one_order_over_every_instance(database: Database) -> None:
    await wait_in_queue(database, "inst_b", "agent-1", T0)
    await wait_in_queue(database, "inst_a", "agent-1", T0 + timedelta(seconds=1))  # same agent id, other machine
    await wait_in_queue(database, "inst_b", "agent-2", T0 + timedelta(seconds=2))
    team = await store.team_queue(database.reader)
    assert [(t.holder, t.row.agent_id) for t in team] == [
        ("inst_b", "agent-1"),
        ("inst_a", "agent-1"),
        ("inst_b", "agent-2"),
    ]
    assert [t.row.seq for t in team] == sorted(t.row.seq for t in team)
    assert {t.run_state for t in team} == {RunState.QUEUED}
    assert [t.heartbeat_at for t in team] == [T0, T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)]
    # Each instance's own queue is still its own.
    assert [r.agent_id for r in await store.queue(database.reader, "inst_b")] == ["agent-1", "agent-2"]


async def test_the_beat_refreshes_only_this_instances_waiting_runs(database: Database) -> None:
    mine = await wait_in_queue(database, "inst_a", "agent-1", T0)
    theirs = await wait_in_queue(database, "inst_b", "agent-1", T0)
    left = await wait_in_queue(database, "inst_a", "agent-2", T0)
    async with database.transaction() as conn:  # agent-2 left the queue and is running: not a waiter any more
        assert await store.dequeue(conn, "inst_a", "agent-2") is not None
        await store.resume(conn, left, OWNER, T0)
    later = T0 + timedelta(seconds=30)
    async with database.transaction() as conn:
        await store.beat_queued(conn, "inst_a", later)
    beats = {t.row.run_id: t.heartbeat_at for t in await store.team_queue(database.reader)}
    assert beats == {mine: later, theirs: T0}
    live = {r.record.run_id: r.heartbeat_at for r in await store.live_runs(database.reader)}
    assert live[left] == T0  # the running run's heartbeat is the owner's business, not the queue's
