"""All SQL of sidecar instances and of ending the leases of instances that went away; no rules, no clock.

The reap is race-safe on both engines. On PostgreSQL it locks the stale instance's row (`FOR UPDATE`) before
ending its leases, and ends each lease only `WHERE` the lease is still that instance's agent's and no heartbeat of
that instance is newer than the cutoff: a heartbeat committed just before waits for nothing and wins (the re-check
sees it), one arriving during the reap waits for the row lock and finds the lease already gone; two peers reaping
at once take the lock in turn and the second finds nothing left. On SQLite the write transaction (`BEGIN
IMMEDIATE`) holds the file's one write lock for all of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sidecar.pool.models import ScratchOrg
from sidecar.pool.store import COLUMNS, NO_HOLDER
from sidecar.storage.connection import Connection
from sidecar.storage.rows import instant, to_model
from sidecar.storage.url import Engine


@dataclass(frozen=True)
class StaleLease:
    org_id: str
    instance_id: str
    agent_id: str


async def database_now(conn: Connection) -> datetime | None:
    """The server's clock on PostgreSQL (desktops' clocks disagree; the server's is the one they share); None on
    SQLite, whose file has no clock of its own (the caller's clock, on the one machine, is it)."""
    if conn.dialect.engine is not Engine.POSTGRES:
        return None
    return instant(await conn.fetch_val("SELECT clock_timestamp() AS now"))


async def beat(conn: Connection, instance_id: str, machine: str, now: datetime, starting: bool = False) -> None:
    """Refresh this instance's heartbeat (and its machine name, which settings may have changed); `starting`: it
    starts (or starts again), so its row's start is now too."""
    started = ", started_at = excluded.started_at" if starting else ""
    await conn.execute(
        "INSERT INTO sidecar_instances (instance_id, machine_name, started_at, heartbeat_at) VALUES (?, ?, ?, ?)"
        f" ON CONFLICT (instance_id) DO UPDATE SET machine_name = excluded.machine_name{started},"
        " heartbeat_at = excluded.heartbeat_at",
        (instance_id, machine, now, now),
    )


async def live_instances(conn: Connection, since: datetime) -> set[str]:
    """The instances that beat at or after `since` (the team queue counts their waiters: provisioning/dispatcher.py)."""
    rows = await conn.fetch_all("SELECT instance_id FROM sidecar_instances WHERE heartbeat_at >= ?", (since,))
    return {r["instance_id"] for r in rows}


async def stale_leases(conn: Connection, me: str, cutoff: datetime) -> list[StaleLease]:
    """Leases of other instances whose last heartbeat is at or before `cutoff`. An instance that never wrote a row
    (a lease older than heartbeats) is judged by the lease's own start, the last moment it was known alive."""
    rows = await conn.fetch_all(
        "SELECT o.id, o.holder_instance, o.assigned_agent_id FROM scratch_orgs o"
        " LEFT JOIN sidecar_instances i ON i.instance_id = o.holder_instance"
        " WHERE o.status = 'leased' AND o.holder_instance <> ? AND COALESCE(i.heartbeat_at, o.leased_at) <= ?"
        " ORDER BY o.holder_instance, o.id",
        (me, cutoff),
    )
    return [StaleLease(r["id"], r["holder_instance"], r["assigned_agent_id"]) for r in rows]


async def lock_instance(conn: Connection, instance_id: str) -> None:
    """Hold the instance's row until the transaction ends (PostgreSQL; SQLite's writer holds everything): its
    heartbeat cannot commit in the middle of a reap."""
    if conn.dialect.for_update:
        await conn.execute(
            f"SELECT instance_id FROM sidecar_instances WHERE instance_id = ?{conn.dialect.for_update}", (instance_id,)
        )


async def mark_reaping(conn: Connection) -> None:
    """Name the reason for the pool's NOTIFY trigger (PostgreSQL): an ended lease reads as released otherwise."""
    if conn.dialect.engine is Engine.POSTGRES:
        await conn.execute("SELECT set_config('sweatshop.reason', 'reaped', true)")


async def reap(conn: Connection, lease: StaleLease, cutoff: datetime) -> ScratchOrg | None:
    """End one stale lease, if it is still that instance's agent's and the instance has still not beaten since
    `cutoff`; the org back in the pool, or None when someone got there first (it beat, released, or a peer
    reaped)."""
    row = await conn.fetch_one(
        f"UPDATE scratch_orgs SET status = 'available', {NO_HOLDER}"
        " WHERE id = ? AND status = 'leased' AND holder_instance = ? AND assigned_agent_id = ?"
        " AND NOT EXISTS (SELECT 1 FROM sidecar_instances WHERE instance_id = ? AND heartbeat_at > ?)"
        " AND (leased_at <= ? OR EXISTS (SELECT 1 FROM sidecar_instances WHERE instance_id = ?))"
        f" RETURNING {COLUMNS}",
        (lease.org_id, lease.instance_id, lease.agent_id, lease.instance_id, cutoff, cutoff, lease.instance_id),
    )
    return to_model(ScratchOrg, row) if row is not None else None
