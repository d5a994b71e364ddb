"""All SQL of provisioning, and nothing else: the durable FIFO queue and the run records.

Every function takes the connection of the caller's transaction (or the reader), so the service decides what is
atomic. A run's state changes only through the lifecycle verbs (`start`, `progress`, `park`, `resume`,
`finish`, `interrupt`), each from the states lifecycle.TRANSITIONS allows. Lists are stored as JSON text.
No row ever holds a frontdoor URL: it is a credential. One SQL text runs on both
engines through the `Connection` of sidecar/storage (instants go in as aware datetimes and come back through
`instant`, whichever form the engine stores). Whatever another sidecar on the same database may change
between a read and a write is re-checked in the write's WHERE clause, never assumed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sidecar.provisioning import lifecycle
from sidecar.provisioning.lifecycle import RunStateConflict, RunVerb
from sidecar.provisioning.models import QueueEntry, QueueReason, RunRecord, RunState, StepReport
from sidecar.provisioning.owner import Owner
from sidecar.storage.connection import Connection, Row
from sidecar.storage.rows import instant

QUEUE_COLUMNS = (
    "seq, agent_id, run_id, org_alias, branch_name, worktree_path, reason, attempts, retry_at, last_error, queued_at"
)
RUN_COLUMNS = (
    "id, agent_id, org_alias, branch_name, worktree_path, org_id, state, step, errors, warnings, steps,"
    " started_at, ended_at"
)
OWNER_COLUMNS = "owner_host, owner_pid, owner_token, heartbeat_at"
# What the agent asked for: queue rows and run rows both keep it (see ProvisionConfig).
REQUEST_COLUMNS = ("agent_id", "org_alias", "branch_name", "worktree_path")


@dataclass(frozen=True)
class QueuedRow:
    seq: int
    agent_id: str
    run_id: str
    org_alias: str
    branch_name: str
    worktree_path: str
    reason: QueueReason
    attempts: int
    retry_at: datetime | None
    last_error: str | None
    queued_at: datetime

    def entry(self, position: int) -> QueueEntry:
        return QueueEntry(
            position=position,
            agent_id=self.agent_id,
            org_alias=self.org_alias,
            branch_name=self.branch_name,
            worktree_path=self.worktree_path,
            reason=self.reason,
            attempts=self.attempts,
            retry_at=self.retry_at,
            queued_at=self.queued_at,
            last_error=self.last_error,
        )


@dataclass(frozen=True)
class LiveRun:
    """A run some sidecar may still be working on, with what it takes to judge whether that sidecar is gone."""

    record: RunRecord
    owner: Owner | None
    heartbeat_at: datetime | None


def _request(row: Row) -> dict[str, str]:
    return {name: row[name] for name in REQUEST_COLUMNS}


def _queued(row: Row) -> QueuedRow:
    queued_at = instant(row["queued_at"])
    assert queued_at is not None
    return QueuedRow(
        seq=int(row["seq"]),
        run_id=row["run_id"],
        **_request(row),
        reason=QueueReason(row["reason"]),
        attempts=int(row["attempts"]),
        retry_at=instant(row["retry_at"]),
        last_error=row["last_error"],
        queued_at=queued_at,
    )


def _started(value: Any) -> datetime:
    """A run's start, which the schema makes NOT NULL."""
    started = instant(value)
    if started is None:
        raise ValueError("a provisioning run row without started_at")
    return started


def _run(row: Row) -> RunRecord:
    return RunRecord(
        run_id=row["id"],
        **_request(row),
        org_id=row["org_id"],
        state=RunState(row["state"]),
        step=row["step"],
        errors=json.loads(row["errors"]),
        warnings=json.loads(row["warnings"]),
        steps=[StepReport.model_validate(s) for s in json.loads(row["steps"])],
        started_at=_started(row["started_at"]),
        ended_at=instant(row["ended_at"]),
    )


# -- queue ------------------------------------------------------------------------------------------------------


# Every queue and run function takes `holder`, the sidecar instance (sidecar/pool/holder.py): agent ids are unique
# per machine only, so in a database several machines share, an agent is its instance plus its id.


async def queue(conn: Connection, holder: str) -> list[QueuedRow]:
    rows = await conn.fetch_all(
        f"SELECT {QUEUE_COLUMNS} FROM provision_queue WHERE holder_instance = ? ORDER BY seq", (holder,)
    )
    return [_queued(r) for r in rows]


async def queued(conn: Connection, holder: str, agent_id: str) -> QueuedRow | None:
    row = await conn.fetch_one(
        f"SELECT {QUEUE_COLUMNS} FROM provision_queue WHERE holder_instance = ? AND agent_id = ?", (holder, agent_id)
    )
    return _queued(row) if row else None


async def queue_length(conn: Connection, holder: str) -> int:
    return int(await conn.fetch_val("SELECT COUNT(*) FROM provision_queue WHERE holder_instance = ?", (holder,)))


async def enqueue(
    conn: Connection,
    *,
    holder: str,
    agent_id: str,
    run_id: str,
    org_alias: str,
    branch_name: str,
    worktree_path: str,
    reason: QueueReason,
    attempts: int,
    retry_at: datetime | None,
    last_error: str | None,
    queued_at: datetime,
    seq: int | None = None,
) -> QueuedRow:
    """Append at the tail, or put back at `seq` (a head whose creation hit the Dev Hub limit keeps its place)."""
    if seq is None:
        seq = int(
            await conn.fetch_val(
                "UPDATE provision_counters SET value = value + 1 WHERE name = 'queue_seq' RETURNING value"
            )
        )
    row = await conn.fetch_one(
        f"INSERT INTO provision_queue ({QUEUE_COLUMNS}, holder_instance) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        f" RETURNING {QUEUE_COLUMNS}",
        (
            seq,
            agent_id,
            run_id,
            org_alias,
            branch_name,
            worktree_path,
            reason.value,
            attempts,
            retry_at,
            last_error,
            queued_at,
            holder,
        ),
    )
    assert row is not None
    return _queued(row)


async def dequeue(conn: Connection, holder: str, agent_id: str) -> QueuedRow | None:
    """Take the agent out of the queue; None when it was not in it (someone else took it first)."""
    row = await conn.fetch_one(
        f"DELETE FROM provision_queue WHERE holder_instance = ? AND agent_id = ? RETURNING {QUEUE_COLUMNS}",
        (holder, agent_id),
    )
    return _queued(row) if row else None


async def next_retry_at(conn: Connection, holder: str) -> datetime | None:
    return instant(
        await conn.fetch_val(
            "SELECT MIN(retry_at) FROM provision_queue WHERE holder_instance = ? AND retry_at IS NOT NULL", (holder,)
        )
    )


# -- the team's queue (a database several machines share) -----------------------------------------------------
# One first-in-first-out order for the whole team: `seq` comes from the one shared counter, so it orders every
# machine's waiters. Each machine's dispatcher still serves only its own instance's rows (its agents' worktrees and
# CLI are there); the turn rule (dispatcher.py) makes it wait while an older waiter of a live machine waits.


async def team_queue(conn: Connection) -> list[tuple[str, QueuedRow]]:
    """Every machine's waiters, oldest first, as (instance, row)."""
    rows = await conn.fetch_all(f"SELECT {QUEUE_COLUMNS}, holder_instance FROM provision_queue ORDER BY seq")
    return [(r["holder_instance"], _queued(r)) for r in rows]


# -- runs -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunReport:
    """What a run had reached when it ended or was parked: written with the state, all together."""

    warnings: list[str]
    steps: list[StepReport]
    step: str | None
    org_id: str | None


def _json_list(values: list[str]) -> str:
    return json.dumps(list(values))


def _json_steps(steps: list[StepReport]) -> str:
    return json.dumps([s.model_dump(mode="json", by_alias=True) for s in steps])


async def _transition(
    conn: Connection,
    run_id: str,
    verb: RunVerb,
    target: RunState,
    sets: dict[str, Any],
    where: str = "",
    where_params: tuple[Any, ...] = (),
) -> None:
    """Move one run to `target` if it is in a state `verb` moves from (lifecycle.TRANSITIONS), setting `sets` with
    it; RunStateConflict (naming the state found) otherwise. Column names come from this module, never a caller."""
    expected = lifecycle.sources(verb, target)
    columns = {"state": target.value, **sets}
    assignments = ", ".join(f"{name} = ?" for name in columns)
    marks = ", ".join("?" for _ in expected)
    row = await conn.fetch_one(
        f"UPDATE provision_runs SET {assignments} WHERE id = ? AND state IN ({marks}){where} RETURNING id",
        (*columns.values(), run_id, *(s.value for s in expected), *where_params),
    )
    if row is None:
        found = await conn.fetch_one("SELECT state FROM provision_runs WHERE id = ?", (run_id,))
        raise RunStateConflict(run_id, verb, expected, RunState(found["state"]) if found else None)


async def start(
    conn: Connection,
    *,
    holder: str,
    run_id: str,
    agent_id: str,
    org_alias: str,
    branch_name: str,
    worktree_path: str,
    owner: Owner,
    started_at: datetime,
) -> None:
    """A new run, `running`, owned by this sidecar. RunStateConflict when the id exists; IntegrityError when the
    agent already has a live run (the database's one-live-run index decides, whatever sidecar wrote it)."""
    inserted = await conn.fetch_one(
        f"INSERT INTO provision_runs ({RUN_COLUMNS}, {OWNER_COLUMNS}, holder_instance)"
        " SELECT ?, ?, ?, ?, ?, NULL, ?, NULL, '[]', '[]', '[]', ?, NULL, ?, ?, ?, ?, ?"
        " WHERE NOT EXISTS (SELECT 1 FROM provision_runs WHERE id = ?) RETURNING id",
        (
            run_id,
            agent_id,
            org_alias,
            branch_name,
            worktree_path,
            RunState.RUNNING.value,
            started_at,
            owner.host,
            owner.pid,
            owner.token,
            started_at,
            holder,
            run_id,
        ),
    )
    if inserted is None:
        found = await conn.fetch_one("SELECT state FROM provision_runs WHERE id = ?", (run_id,))
        raise RunStateConflict(run_id, RunVerb.START, (), RunState(found["state"]) if found else None)


async def progress(conn: Connection, run_id: str, *, step: str, org_id: str | None) -> None:
    """A running run reached `step` (with the org it got, once it has one)."""
    await _transition(conn, run_id, RunVerb.PROGRESS, RunState.RUNNING, {"step": step, "org_id": org_id})


async def park(conn: Connection, run_id: str, *, warnings: list[str], steps: list[StepReport]) -> None:
    """A running run waits in the queue (its queue row is written in the same transaction by `enqueue`)."""
    await _transition(
        conn,
        run_id,
        RunVerb.PARK,
        RunState.QUEUED,
        {"step": "org", "warnings": _json_list(warnings), "steps": _json_steps(steps)},
    )


async def resume(conn: Connection, run_id: str, owner: Owner, now: datetime) -> None:
    """Make a run that leaves the queue this sidecar's, in the transaction that dequeues it: between the two no
    other sidecar may see a `queued` run that is nowhere in the queue, and take it for abandoned."""
    await _transition(
        conn,
        run_id,
        RunVerb.RESUME,
        RunState.RUNNING,
        {"owner_host": owner.host, "owner_pid": owner.pid, "owner_token": owner.token, "heartbeat_at": now},
    )


async def finish(
    conn: Connection,
    run_id: str,
    state: RunState,
    *,
    ended_at: datetime,
    errors: list[str],
    report: RunReport | None = None,
) -> None:
    """End a run `succeeded`, `failed` or `cancelled`; without `report` the warnings and steps it had stay."""
    sets: dict[str, Any] = {"ended_at": ended_at, "errors": _json_list(errors)}
    if report is not None:
        sets |= {
            "warnings": _json_list(report.warnings),
            "steps": _json_steps(report.steps),
            "step": report.step,
            "org_id": report.org_id,
        }
    await _transition(conn, run_id, RunVerb.FINISH, state, sets)


async def beat(conn: Connection, owner: Owner, run_ids: list[str], now: datetime) -> None:
    """Refresh the heartbeat of this sidecar's live runs (never of a run another sidecar has taken over)."""
    if not run_ids:
        return
    marks = ", ".join("?" for _ in run_ids)
    await conn.execute(
        "UPDATE provision_runs SET heartbeat_at = ? WHERE owner_token = ? AND state IN ('running', 'queued')"
        f" AND id IN ({marks})",
        (now, owner.token, *run_ids),
    )


async def live_runs(conn: Connection) -> list[LiveRun]:
    """Runs a sidecar may be working on: `running`, or `queued` but no longer in the queue."""
    rows = await conn.fetch_all(
        f"SELECT {RUN_COLUMNS}, {OWNER_COLUMNS} FROM provision_runs r WHERE r.state = 'running'"
        " OR (r.state = 'queued' AND NOT EXISTS (SELECT 1 FROM provision_queue q WHERE q.run_id = r.id))"
        " ORDER BY started_at",
    )
    return [
        LiveRun(
            record=_run(r),
            owner=Owner(r["owner_host"], int(r["owner_pid"]), r["owner_token"]) if r["owner_token"] else None,
            heartbeat_at=instant(r["heartbeat_at"]),
        )
        for r in rows
    ]


async def interrupt(conn: Connection, live: LiveRun, sentence: str, now: datetime) -> None:
    """Mark a run interrupted if it is still as `live` saw it (same state, owner and heartbeat, and not back in the
    queue); RunStateConflict when its owner beat meanwhile or another sidecar got there first."""
    await _transition(
        conn,
        live.record.run_id,
        RunVerb.INTERRUPT,
        RunState.INTERRUPTED,
        {"ended_at": now, "errors": _json_list([*live.record.errors, sentence])},
        " AND state = ? AND owner_token IS NOT DISTINCT FROM ? AND heartbeat_at IS NOT DISTINCT FROM ?"
        " AND (state = 'running' OR NOT EXISTS (SELECT 1 FROM provision_queue q WHERE q.run_id = provision_runs.id))",
        (
            live.record.state.value,
            live.owner.token if live.owner else None,
            live.heartbeat_at,
        ),
    )


# -- the process groups of a run's commands -------------------------------------------------------------------


async def add_child(conn: Connection, run_id: str, pgid: int, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO provision_run_children (run_id, pgid, started_at) VALUES (?, ?, ?)", (run_id, pgid, now)
    )


async def remove_child(conn: Connection, run_id: str, pgid: int) -> None:
    await conn.execute("DELETE FROM provision_run_children WHERE run_id = ? AND pgid = ?", (run_id, pgid))


async def take_children(conn: Connection, run_id: str) -> list[int]:
    """Forget the process groups recorded for a run, returning them (to stop them)."""
    rows = await conn.fetch_all("DELETE FROM provision_run_children WHERE run_id = ? RETURNING pgid", (run_id,))
    return sorted(int(r["pgid"]) for r in rows)


async def get_run(conn: Connection, run_id: str) -> RunRecord | None:
    row = await conn.fetch_one(f"SELECT {RUN_COLUMNS} FROM provision_runs WHERE id = ?", (run_id,))
    return _run(row) if row else None


async def latest_runs(conn: Connection, holder: str, agent_id: str | None = None) -> list[RunRecord]:
    """The most recent run of each of this instance's agents (or of one agent), newest first."""
    where, params = ("AND agent_id = ?", (holder, agent_id)) if agent_id else ("", (holder,))
    rows = await conn.fetch_all(
        f"SELECT {RUN_COLUMNS} FROM provision_runs r WHERE holder_instance = ? {where}"
        " AND started_at = (SELECT MAX(started_at) FROM provision_runs x"
        " WHERE x.holder_instance = r.holder_instance AND x.agent_id = r.agent_id) ORDER BY started_at DESC",
        params,
    )
    return [_run(r) for r in rows]


async def prune_runs(conn: Connection, before: datetime) -> None:
    """Drop old history, and process groups still recorded for runs that ended (their end was never written)."""
    await conn.execute(
        "DELETE FROM provision_runs WHERE ended_at IS NOT NULL AND ended_at < ? AND state NOT IN ('running', 'queued')",
        (before,),
    )
    await conn.execute(
        "DELETE FROM provision_run_children WHERE run_id IN"
        " (SELECT id FROM provision_runs WHERE state NOT IN ('running', 'queued'))"
    )
