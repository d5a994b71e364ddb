"""All SQL of scratch org creations under way (`creation_jobs`), and nothing else.

A row is a signup the Dev Hub accepted and this sidecar instance has not yet seen through: written as soon as the
job id is known (before anyone waits on it), deleted once the org is in the pool or has been deleted. Rows belong
to the sidecar instance whose CLI started the signup (`holder`): only that machine's CLI cache can resume it. Every
function takes the connection of the caller's transaction (or the reader); one SQL text runs on both engines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sidecar.storage.connection import Connection, Row
from sidecar.storage.rows import instant

COLUMNS = "job_id, holder_instance, alias, username, definition_file, cwd, agent_id, attempts, last_error, requested_at"


@dataclass(frozen=True)
class JobRow:
    """A creation under way: its Dev Hub job (ScratchOrgInfo id), the org it becomes, and who asked for it
    (`agent_id`; None for pre-warm)."""

    job_id: str
    holder: str
    alias: str
    username: str | None
    definition_file: str
    cwd: str | None
    agent_id: str | None
    attempts: int
    last_error: str | None
    requested_at: datetime


def _job(row: Row) -> JobRow:
    requested_at = instant(row["requested_at"])
    assert requested_at is not None  # NOT NULL in the schema
    return JobRow(
        job_id=row["job_id"],
        holder=row["holder_instance"],
        alias=row["alias"],
        username=row["username"],
        definition_file=row["definition_file"],
        cwd=row["cwd"],
        agent_id=row["agent_id"],
        attempts=int(row["attempts"]),
        last_error=row["last_error"],
        requested_at=requested_at,
    )


async def add(conn: Connection, job: JobRow) -> None:
    """Record a signup; a job id already recorded (the same signup seen twice) keeps its first row."""
    await conn.execute(
        f"INSERT INTO creation_jobs ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (job_id) DO NOTHING",
        (
            job.job_id,
            job.holder,
            job.alias,
            job.username,
            job.definition_file,
            job.cwd,
            job.agent_id,
            job.attempts,
            job.last_error,
            job.requested_at,
        ),
    )


async def remove(conn: Connection, job_id: str) -> bool:
    """Forget a job (its org is in the pool, or deleted, or the signup failed); False when it was already gone."""
    row = await conn.fetch_one("DELETE FROM creation_jobs WHERE job_id = ? RETURNING job_id", (job_id,))
    return row is not None


async def pending(conn: Connection, holder: str) -> list[JobRow]:
    """This instance's creations under way, oldest first."""
    rows = await conn.fetch_all(
        f"SELECT {COLUMNS} FROM creation_jobs WHERE holder_instance = ? ORDER BY requested_at, job_id", (holder,)
    )
    return [_job(r) for r in rows]


async def pending_ids(conn: Connection, holder: str) -> set[str]:
    rows = await conn.fetch_all("SELECT job_id FROM creation_jobs WHERE holder_instance = ?", (holder,))
    return {r["job_id"] for r in rows}


async def pending_elsewhere(conn: Connection, holder: str, live_since: datetime) -> int:
    """Signups other sidecar instances of a shared pool have under way: they count against the team's capacity
    before their orgs are registered, while their instance heartbeats (beat at or after `live_since`). A machine
    gone for longer than the lease timeout no longer holds a slot: only its CLI could resume the signup, and its
    leases are reaped on the same terms (sidecar/pool/instances.py)."""
    return int(
        await conn.fetch_val(
            "SELECT COUNT(*) FROM creation_jobs j WHERE j.holder_instance <> ? AND EXISTS ("
            "SELECT 1 FROM sidecar_instances i WHERE i.instance_id = j.holder_instance AND i.heartbeat_at >= ?)",
            (holder, live_since),
        )
    )


async def attempted(conn: Connection, job_id: str, error: str | None) -> None:
    """One more resume attempt that did not see the job through, and why (no secret: callers mask it)."""
    await conn.execute(
        "UPDATE creation_jobs SET attempts = attempts + 1, last_error = ? WHERE job_id = ?", (error, job_id)
    )
