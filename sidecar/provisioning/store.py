"""All SQL of provisioning, and nothing else: the durable FIFO queue and the run records.

Every function takes the connection of the caller's transaction (or the reader), so the service decides what is
atomic. Lists are stored as JSON text. No row ever holds a frontdoor URL: it is a credential.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite

from sidecar.db import fetch_all, fetch_one
from sidecar.provisioning.models import QueueEntry, QueueReason, RunRecord, RunState, StepReport
from sidecar.timeutil import from_db, to_db

QUEUE_COLUMNS = (
    "seq, agent_id, run_id, org_alias, branch_name, worktree_path, reason, attempts, retry_at, last_error, queued_at"
)
RUN_COLUMNS = (
    "id, agent_id, org_alias, branch_name, worktree_path, org_id, state, step, errors, warnings, steps,"
    " started_at, ended_at"
)


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


def _queued(row: aiosqlite.Row) -> QueuedRow:
    queued_at = from_db(row["queued_at"])
    assert queued_at is not None
    return QueuedRow(
        seq=int(row["seq"]),
        agent_id=row["agent_id"],
        run_id=row["run_id"],
        org_alias=row["org_alias"],
        branch_name=row["branch_name"],
        worktree_path=row["worktree_path"],
        reason=QueueReason(row["reason"]),
        attempts=int(row["attempts"]),
        retry_at=from_db(row["retry_at"]),
        last_error=row["last_error"],
        queued_at=queued_at,
    )


def _run(row: aiosqlite.Row) -> RunRecord:
    return RunRecord(
        run_id=row["id"],
        agent_id=row["agent_id"],
        org_alias=row["org_alias"],
        branch_name=row["branch_name"],
        worktree_path=row["worktree_path"],
        org_id=row["org_id"],
        state=RunState(row["state"]),
        step=row["step"],
        errors=json.loads(row["errors"]),
        warnings=json.loads(row["warnings"]),
        steps=[StepReport.model_validate(s) for s in json.loads(row["steps"])],
        started_at=from_db(row["started_at"]),
        ended_at=from_db(row["ended_at"]),
    )


# -- queue ------------------------------------------------------------------------------------------------------


async def queue(conn: aiosqlite.Connection) -> list[QueuedRow]:
    rows = await fetch_all(conn, f"SELECT {QUEUE_COLUMNS} FROM provision_queue ORDER BY seq")
    return [_queued(r) for r in rows]


async def queued(conn: aiosqlite.Connection, agent_id: str) -> QueuedRow | None:
    row = await fetch_one(conn, f"SELECT {QUEUE_COLUMNS} FROM provision_queue WHERE agent_id = ?", (agent_id,))
    return _queued(row) if row else None


async def queue_length(conn: aiosqlite.Connection) -> int:
    row = await fetch_one(conn, "SELECT COUNT(*) FROM provision_queue")
    assert row is not None
    return int(row[0])


async def enqueue(
    conn: aiosqlite.Connection,
    *,
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
        row = await fetch_one(
            conn, "UPDATE provision_counters SET value = value + 1 WHERE name = 'queue_seq' RETURNING value"
        )
        assert row is not None
        seq = int(row[0])
    row = await fetch_one(
        conn,
        f"INSERT INTO provision_queue ({QUEUE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
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
            to_db(retry_at) if retry_at else None,
            last_error,
            to_db(queued_at),
        ),
    )
    assert row is not None
    return _queued(row)


async def dequeue(conn: aiosqlite.Connection, agent_id: str) -> QueuedRow | None:
    """Take the agent out of the queue; None when it was not in it (someone else took it first)."""
    row = await fetch_one(conn, f"DELETE FROM provision_queue WHERE agent_id = ? RETURNING {QUEUE_COLUMNS}", (agent_id,))
    return _queued(row) if row else None


async def next_retry_at(conn: aiosqlite.Connection) -> datetime | None:
    row = await fetch_one(conn, "SELECT MIN(retry_at) FROM provision_queue WHERE retry_at IS NOT NULL")
    return from_db(row[0]) if row and row[0] else None


# -- runs -------------------------------------------------------------------------------------------------------


async def start_run(
    conn: aiosqlite.Connection,
    *,
    run_id: str,
    agent_id: str,
    org_alias: str,
    branch_name: str,
    worktree_path: str,
    started_at: datetime,
) -> None:
    await conn.execute(
        f"INSERT INTO provision_runs ({RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, NULL, 'running', NULL, '[]', '[]', '[]', ?, NULL)",
        (run_id, agent_id, org_alias, branch_name, worktree_path, to_db(started_at)),
    )


async def update_run(conn: aiosqlite.Connection, run_id: str, **fields: Any) -> None:
    """Set columns of a run; lists are stored as JSON, instants as fixed-width text."""
    allowed = {"org_id", "state", "step", "errors", "warnings", "steps", "ended_at", "org_alias"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"not a run column: {sorted(unknown)}")
    values: list[Any] = []
    for name, value in fields.items():
        if name in ("errors", "warnings"):
            value = json.dumps(list(value))
        elif name == "steps":
            value = json.dumps([s.model_dump(mode="json", by_alias=True) for s in value])
        elif name == "ended_at" and value is not None:
            value = to_db(value)
        elif name == "state":
            value = RunState(value).value
        values.append(value)
    assignments = ", ".join(f"{name} = ?" for name in fields)
    await conn.execute(f"UPDATE provision_runs SET {assignments} WHERE id = ?", (*values, run_id))


async def get_run(conn: aiosqlite.Connection, run_id: str) -> RunRecord | None:
    row = await fetch_one(conn, f"SELECT {RUN_COLUMNS} FROM provision_runs WHERE id = ?", (run_id,))
    return _run(row) if row else None


async def latest_runs(conn: aiosqlite.Connection, agent_id: str | None = None) -> list[RunRecord]:
    """The most recent run of each agent (or of one agent), newest first."""
    where, params = ("WHERE agent_id = ?", (agent_id,)) if agent_id else ("", ())
    rows = await fetch_all(
        conn,
        f"SELECT {RUN_COLUMNS} FROM provision_runs r {where}"
        f"{' AND' if where else ' WHERE'} started_at = (SELECT MAX(started_at) FROM provision_runs x"
        " WHERE x.agent_id = r.agent_id) ORDER BY started_at DESC",
        params,
    )
    return [_run(r) for r in rows]


async def runs_in_state(conn: aiosqlite.Connection, state: RunState) -> list[RunRecord]:
    rows = await fetch_all(conn, f"SELECT {RUN_COLUMNS} FROM provision_runs WHERE state = ? ORDER BY started_at", (state.value,))
    return [_run(r) for r in rows]


async def prune_runs(conn: aiosqlite.Connection, before: datetime) -> None:
    await conn.execute(
        "DELETE FROM provision_runs WHERE ended_at IS NOT NULL AND ended_at < ? AND state NOT IN ('running', 'queued')",
        (to_db(before),),
    )
