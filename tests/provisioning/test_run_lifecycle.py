"""The run lifecycle as a table: (state before, verb) -> state after, or RunStateConflict, on a real SQLite file.

The expected table is written out here by hand, not derived from lifecycle.TRANSITIONS, so a change to the
declared table that nobody meant shows up as a failing row.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sidecar.provisioning import store
from sidecar.provisioning.lifecycle import AGENT_STATUS, RunStateConflict
from sidecar.provisioning.models import AgentStatus, QueueReason, RunState, StepReport, StepStatus
from sidecar.provisioning.owner import Owner
from sidecar.storage.database import Database
from sidecar.storage.errors import is_integrity_error
from tests.support.postgres import database, database_target, postgres_server, postgres_url  # noqa: F401

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ME = Owner(host="here", pid=1, token="me")
RUN = "run_1"
S = RunState
ERR = RunStateConflict

Verb = Callable[[Any], Awaitable[None]]


def live(record: Any, heartbeat_at: datetime | None) -> store.LiveRun:
    return store.LiveRun(record=record, owner=ME, heartbeat_at=heartbeat_at)


STEPS = [StepReport(name="org", status=StepStatus.OK, duration_ms=5)]

VERBS: dict[str, Callable[[Any], Awaitable[None]]] = {
    "progress": lambda conn: store.progress(conn, RUN, step="deploy", org_id="org_1"),
    "park": lambda conn: store.park(conn, RUN, warnings=["w"], steps=STEPS),
    "resume": lambda conn: store.resume(conn, RUN, ME, T0),
    "finish succeeded": lambda conn: store.finish(conn, RUN, S.SUCCEEDED, ended_at=T0, errors=[]),
    "finish failed": lambda conn: store.finish(conn, RUN, S.FAILED, ended_at=T0, errors=["boom"]),
    "finish cancelled": lambda conn: store.finish(conn, RUN, S.CANCELLED, ended_at=T0, errors=["stopped"]),
}

# state before -> verb -> state after (None: RunStateConflict, the row unchanged)
EXPECTED: dict[RunState, dict[str, RunState | None]] = {
    S.RUNNING: {
        "progress": S.RUNNING,
        "park": S.QUEUED,
        "resume": None,
        "finish succeeded": S.SUCCEEDED,
        "finish failed": S.FAILED,
        "finish cancelled": S.CANCELLED,
        "interrupt": S.INTERRUPTED,
        "start": None,
    },
    S.QUEUED: {
        "progress": None,
        "park": None,
        "resume": S.RUNNING,
        "finish succeeded": None,
        "finish failed": S.FAILED,
        "finish cancelled": S.CANCELLED,
        "interrupt": S.INTERRUPTED,
        "start": None,
    },
    **{
        final: {verb: None for verb in [*VERBS, "interrupt", "start"]}
        for final in (S.SUCCEEDED, S.FAILED, S.CANCELLED, S.INTERRUPTED)
    },
}
CASES = [(before, verb, after) for before, row in EXPECTED.items() for verb, after in row.items()]


@pytest.fixture
async def db(database: Database) -> Database:
    """The run records on both engines (a SQLite file, a PostgreSQL database)."""
    return database


async def start(conn: Any, run_id: str = RUN, agent: str = "a1") -> None:
    await store.start(
        conn,
        holder="local",
        run_id=run_id,
        agent_id=agent,
        org_alias="qa-a1",
        branch_name="main",
        worktree_path="/tmp/wt",
        owner=ME,
        started_at=T0,
    )


async def run_in(db: Database, state: RunState) -> None:
    """A run standing in `state`, put there by raw SQL (the setup must not depend on the verbs under test)."""
    async with db.transaction() as conn:
        await start(conn)
        await conn.execute("UPDATE provision_runs SET state = ? WHERE id = ?", (state.value, RUN))


async def row(db: Database) -> tuple[Any, ...]:
    found = await db.reader.fetch_one("SELECT * FROM provision_runs WHERE id = ?", (RUN,))
    assert found is not None
    return tuple(dict(found).values())


@pytest.mark.parametrize("before, verb, after", CASES, ids=[f"{b.value}-{v}" for b, v, _ in CASES])
async def test_verb_moves_only_from_the_states_it_expects(
    db: Database, before: RunState, verb: str, after: RunState | None
) -> None:
    await run_in(db, before)
    unchanged = await row(db)
    record = await store.get_run(db.reader, RUN)
    assert record is not None and record.state is before
    if verb == "interrupt":
        call: Verb = lambda conn: store.interrupt(conn, live(record, T0), "gone", T0 + timedelta(seconds=60))  # noqa: E731 - typed as a Verb like the other branches
        async with db.transaction() as conn:  # interrupt compares the heartbeat it saw: give it that one
            await conn.execute("UPDATE provision_runs SET heartbeat_at = ? WHERE id = ?", (T0, RUN))
        unchanged = await row(db)
    elif verb == "start":
        call = start
    else:
        call = VERBS[verb]
    if after is None:
        with pytest.raises(ERR) as caught:
            async with db.transaction() as conn:
                await call(conn)
        assert caught.value.found is before
        assert await row(db) == unchanged  # nothing written
    else:
        async with db.transaction() as conn:
            await call(conn)
        done = await store.get_run(db.reader, RUN)
        assert done is not None and done.state is after


async def test_start_makes_a_running_run_and_a_second_live_run_of_the_agent_is_refused_by_the_database(
    db: Database,
) -> None:
    async with db.transaction() as conn:
        await start(conn)
    record = await store.get_run(db.reader, RUN)
    assert record is not None and record.state is S.RUNNING
    with pytest.raises(Exception) as refused:
        async with db.transaction() as conn:
            await start(conn, run_id="run_2")
    assert is_integrity_error(refused.value)


async def test_a_verb_on_a_missing_run_names_it_absent(db: Database) -> None:
    with pytest.raises(ERR, match="absent") as caught:
        async with db.transaction() as conn:
            await store.finish(conn, "run_nowhere", S.FAILED, ended_at=T0, errors=[])
    assert caught.value.found is None


async def test_interrupt_refuses_a_run_whose_owner_beat_meanwhile(db: Database) -> None:
    await run_in(db, S.RUNNING)
    seen = await store.get_run(db.reader, RUN)
    async with db.transaction() as conn:
        await store.beat(conn, ME, [RUN], T0 + timedelta(seconds=5))
    with pytest.raises(ERR):
        async with db.transaction() as conn:
            await store.interrupt(conn, live(seen, T0), "gone", T0 + timedelta(seconds=60))
    after = await store.get_run(db.reader, RUN)
    assert after is not None and after.state is S.RUNNING


async def test_finish_writes_the_report_and_park_keeps_the_steps_for_the_queue(db: Database) -> None:
    await run_in(db, S.RUNNING)
    async with db.transaction() as conn:
        await store.park(conn, RUN, warnings=["w1"], steps=STEPS)
    parked = await store.get_run(db.reader, RUN)
    assert parked is not None and (parked.state, parked.step, parked.warnings, parked.steps) == (
        S.QUEUED,
        "org",
        ["w1"],
        STEPS,
    )
    async with db.transaction() as conn:  # left the queue: the steps it had stay
        await store.finish(conn, RUN, S.CANCELLED, ended_at=T0, errors=["stopped"])
    ended = await store.get_run(db.reader, RUN)
    assert ended is not None and (ended.state, ended.errors, ended.steps, ended.ended_at) == (
        S.CANCELLED,
        ["stopped"],
        STEPS,
        T0,
    )


def test_every_state_maps_to_one_agent_status() -> None:
    assert AGENT_STATUS == {
        S.RUNNING: AgentStatus.PROVISIONING,
        S.QUEUED: AgentStatus.QUEUED,
        S.SUCCEEDED: AgentStatus.QA_READY,
        S.FAILED: AgentStatus.ERROR,
        S.CANCELLED: AgentStatus.ERROR,
        S.INTERRUPTED: AgentStatus.ERROR,
    }


async def test_the_same_agent_id_on_two_machines_has_a_live_run_and_a_queue_place_on_each(db: Database) -> None:
    """Agent ids are unique per machine only: in a shared database the one-live-run and one-queue-place rules are
    per (sidecar instance, agent)."""
    for holder, run_id in (("inst_a", "run_a"), ("inst_b", "run_b")):
        async with db.transaction() as conn:
            await store.start(
                conn,
                holder=holder,
                run_id=run_id,
                agent_id="a1",
                org_alias="qa-a1",
                branch_name="main",
                worktree_path="/tmp/wt",
                owner=ME,
                started_at=T0,
            )
            await store.park(conn, run_id, warnings=[], steps=[])
            await store.enqueue(
                conn,
                holder=holder,
                agent_id="a1",
                run_id=run_id,
                org_alias="qa-a1",
                branch_name="main",
                worktree_path="/tmp/wt",
                reason=QueueReason.CAPACITY,
                attempts=0,
                retry_at=None,
                last_error=None,
                queued_at=T0,
            )
    assert [r.run_id for r in await store.queue(db.reader, "inst_b")] == ["run_b"]
    assert [r.run_id for r in await store.latest_runs(db.reader, "inst_a")] == ["run_a"]
    async with db.transaction() as conn:
        assert (await store.dequeue(conn, "inst_a", "a1")).run_id == "run_a"  # type: ignore[union-attr]
    assert await store.queued(db.reader, "inst_a", "a1") is None
    assert (await store.queued(db.reader, "inst_b", "a1")).run_id == "run_b"  # type: ignore[union-attr]
    with pytest.raises(Exception) as refused:
        async with db.transaction() as conn:
            await store.start(
                conn,
                holder="inst_b",
                run_id="run_b2",
                agent_id="a1",
                org_alias="qa-a1",
                branch_name="main",
                worktree_path="/tmp/wt",
                owner=ME,
                started_at=T0,
            )
    assert is_integrity_error(refused.value)
