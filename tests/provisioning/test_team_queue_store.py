"""The team queue's SQL on both engines: one order over every instance's rows (the same agent id on two machines is
two waiters), each instance's own queue unchanged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sidecar.provisioning import store
from sidecar.provisioning.models import QueueReason
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
    assert [(holder, row.agent_id) for holder, row in team] == [
        ("inst_b", "agent-1"),
        ("inst_a", "agent-1"),
        ("inst_b", "agent-2"),
    ]
    assert [row.seq for _, row in team] == sorted(row.seq for _, row in team)
    assert [row.queued_at for _, row in team] == [T0 + timedelta(seconds=n) for n in range(3)]
    # Each instance's own queue is still its own.
    assert [r.agent_id for r in await store.queue(database.reader, "inst_b")] == ["agent-1", "agent-2"]
    async with database.transaction() as conn:
        assert await store.dequeue(conn, "inst_b", "agent-1") is not None
    assert [(holder, row.agent_id) for holder, row in await store.team_queue(database.reader)] == [
        ("inst_a", "agent-1"),
        ("inst_b", "agent-2"),
    ]
