"""All SQL of the pool aggregate, and nothing else: no rules, no clock, no events.

Every function takes the connection of the caller's transaction, so the service decides what is atomic. The SQL
is plain enough to mean the same on PostgreSQL (UPDATE ... RETURNING, INSERT ... SELECT ... WHERE, partial
uniqueness through NULLs); only the `?` placeholders are SQLite's.
"""

from __future__ import annotations

from typing import Any

import aiosqlite

from sidecar.db import fetch_all, fetch_one
from sidecar.pool.models import OrgSource, OrgStatus, ScratchOrg
from sidecar.timeutil import from_db

COLUMNS = (
    "id, alias, username, sf_org_id, instance_url, login_url, status, assigned_agent_id, leased_at,"
    " expires_at, created_at, source"
)


def to_org(row: aiosqlite.Row) -> ScratchOrg:
    return ScratchOrg(
        id=row["id"],
        alias=row["alias"],
        username=row["username"],
        sf_org_id=row["sf_org_id"],
        instance_url=row["instance_url"],
        login_url=row["login_url"],
        status=OrgStatus(row["status"]),
        assigned_agent_id=row["assigned_agent_id"],
        leased_at=from_db(row["leased_at"]),
        expires_at=from_db(row["expires_at"]),
        created_at=from_db(row["created_at"]),
        source=OrgSource(row["source"]),
    )


async def list_orgs(conn: aiosqlite.Connection) -> list[ScratchOrg]:
    rows = await fetch_all(conn, f"SELECT {COLUMNS} FROM scratch_orgs ORDER BY created_at, id")
    return [to_org(r) for r in rows]


async def get(conn: aiosqlite.Connection, org_id: str) -> ScratchOrg | None:
    row = await fetch_one(conn, f"SELECT {COLUMNS} FROM scratch_orgs WHERE id = ?", (org_id,))
    return to_org(row) if row else None


async def find_identity(
    conn: aiosqlite.Connection, username: str | None, sf_org_id: str | None, alias: str | None
) -> ScratchOrg | None:
    """The row the CLI's org is: same username or Salesforce id, or same alias on a row that has neither yet."""
    row = await fetch_one(
        conn,
        f"SELECT {COLUMNS} FROM scratch_orgs WHERE username = ? OR sf_org_id = ?"
        " OR (alias = ? AND username IS NULL AND sf_org_id IS NULL) ORDER BY created_at LIMIT 1",
        (username, sf_org_id, alias),
    )
    return to_org(row) if row else None


async def alias_taken(conn: aiosqlite.Connection, alias: str) -> bool:
    return await fetch_one(conn, "SELECT 1 FROM scratch_orgs WHERE alias = ?", (alias,)) is not None


async def lease_of(conn: aiosqlite.Connection, agent_id: str) -> ScratchOrg | None:
    row = await fetch_one(conn, f"SELECT {COLUMNS} FROM scratch_orgs WHERE assigned_agent_id = ?", (agent_id,))
    return to_org(row) if row else None


async def claim_has_work(conn: aiosqlite.Connection, agent_id: str, now: str, not_before: str) -> bool:
    """Whether a claim could change or return anything: an org to lease, the agent's own lease, or one to expire."""
    row = await fetch_one(
        conn,
        "SELECT 1 FROM scratch_orgs WHERE assigned_agent_id = ?"
        " OR (status = 'available' AND expires_at > ?)"
        " OR (status <> 'expired' AND expires_at <= ?) LIMIT 1",
        (agent_id, not_before, now),
    )
    return row is not None


async def status_counts(conn: aiosqlite.Connection, now: str) -> tuple[int, int, int, int]:
    """(total, available, leased, expired), counting an org past its expiry as expired before any refresh."""
    row = await fetch_one(
        conn,
        "SELECT COUNT(*),"
        " COALESCE(SUM(CASE WHEN status = 'available' AND expires_at > ? THEN 1 ELSE 0 END), 0),"
        " COALESCE(SUM(CASE WHEN status = 'leased' AND expires_at > ? THEN 1 ELSE 0 END), 0),"
        " COALESCE(SUM(CASE WHEN status = 'expired' OR expires_at <= ? THEN 1 ELSE 0 END), 0)"
        " FROM scratch_orgs",
        (now, now, now),
    )
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2]), int(row[3])


async def insert_within_capacity(conn: aiosqlite.Connection, values: dict[str, Any], capacity: int) -> ScratchOrg | None:
    """Insert one row unless the available plus leased orgs already reach `capacity`; None when full.

    The count and the insert are one statement inside the caller's write transaction, so no second writer can
    slip in between. A new row counts against capacity unless it is born expired.
    """
    names = list(values)
    placeholders = ", ".join("?" for _ in names)
    row = await fetch_one(
        conn,
        f"INSERT INTO scratch_orgs ({', '.join(names)}) SELECT {placeholders}"
        " WHERE ? = 'expired' OR (SELECT COUNT(*) FROM scratch_orgs WHERE status IN ('available', 'leased')) < ?"
        f" RETURNING {COLUMNS}",
        (*values.values(), values["status"], capacity),
    )
    return to_org(row) if row else None


async def lease_next(conn: aiosqlite.Connection, agent_id: str, now: str, not_before: str) -> ScratchOrg | None:
    """Lease the available org that expires first, among those still valid at `not_before`."""
    row = await fetch_one(
        conn,
        "UPDATE scratch_orgs SET status = 'leased', assigned_agent_id = ?, leased_at = ?"
        " WHERE id = (SELECT id FROM scratch_orgs WHERE status = 'available' AND expires_at > ?"
        " ORDER BY expires_at, id LIMIT 1)"
        f" RETURNING {COLUMNS}",
        (agent_id, now, not_before),
    )
    return to_org(row) if row else None


async def release(conn: aiosqlite.Connection, org_id: str) -> ScratchOrg | None:
    row = await fetch_one(
        conn,
        "UPDATE scratch_orgs SET status = 'available', assigned_agent_id = NULL, leased_at = NULL"
        f" WHERE id = ? AND status = 'leased' RETURNING {COLUMNS}",
        (org_id,),
    )
    return to_org(row) if row else None


async def due_for_expiry(conn: aiosqlite.Connection, now: str) -> list[ScratchOrg]:
    rows = await fetch_all(
        conn, f"SELECT {COLUMNS} FROM scratch_orgs WHERE status <> 'expired' AND expires_at <= ?", (now,)
    )
    return [to_org(r) for r in rows]


async def mark_expired(conn: aiosqlite.Connection, org_id: str) -> ScratchOrg | None:
    row = await fetch_one(
        conn,
        "UPDATE scratch_orgs SET status = 'expired', assigned_agent_id = NULL, leased_at = NULL"
        f" WHERE id = ? AND status <> 'expired' RETURNING {COLUMNS}",
        (org_id,),
    )
    return to_org(row) if row else None


async def update_details(conn: aiosqlite.Connection, org_id: str, fields: dict[str, Any]) -> ScratchOrg | None:
    """Overwrite CLI-reported details (never status or lease columns: those change only through the rules)."""
    allowed = {"username", "sf_org_id", "instance_url", "login_url", "expires_at"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"not a detail column: {sorted(unknown)}")
    if not fields:
        return await get(conn, org_id)
    assignments = ", ".join(f"{name} = ?" for name in fields)
    row = await fetch_one(
        conn,
        f"UPDATE scratch_orgs SET {assignments} WHERE id = ? RETURNING {COLUMNS}",
        (*fields.values(), org_id),
    )
    return to_org(row) if row else None


async def delete(conn: aiosqlite.Connection, org_id: str) -> ScratchOrg | None:
    row = await fetch_one(conn, f"DELETE FROM scratch_orgs WHERE id = ? RETURNING {COLUMNS}", (org_id,))
    return to_org(row) if row else None
