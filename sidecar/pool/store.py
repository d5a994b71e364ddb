"""All SQL of the pool aggregate, and nothing else: no rules, no clock, no events.

Every function takes the `Connection` of the caller's transaction (or the reader), so the service decides what is
atomic, and takes instants as aware `datetime` values (the dialect stores them as each engine wants). Rows become
`ScratchOrg` through sidecar/storage/rows.py. The SQL is written once for both engines; where PostgreSQL's READ
COMMITTED would let two writers both act on one read, the statement takes a row lock that SQLite's single writer
makes unnecessary (`FOR UPDATE SKIP LOCKED` on claims, `FOR UPDATE` on the pool's row for capacity).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sidecar.pool.models import ScratchOrg
from sidecar.storage.connection import Connection, Row
from sidecar.storage.rows import to_model, to_models

COLUMNS = (
    "id, alias, username, sf_org_id, instance_url, login_url, status, assigned_agent_id, leased_at,"
    " expires_at, created_at, source, deployed_commit, hydration, holder_machine AS machine_name, shape,"
    " definition_name"
)
# An org pre-warm is still hydrating, or failed to hydrate, is never handed out.
CLAIMABLE_HYDRATION = "(hydration IS NULL OR hydration = 'ready')"
# Counted against capacity: the orgs that exist for someone to use.
HOLDING = "status IN ('available', 'leased')"
# What ending a lease clears, whoever ends it.
NO_HOLDER = "assigned_agent_id = NULL, holder_instance = NULL, holder_machine = NULL, leased_at = NULL"


def _org(row: Row | None) -> ScratchOrg | None:
    return to_model(ScratchOrg, row) if row is not None else None


async def list_orgs(conn: Connection) -> list[ScratchOrg]:
    return to_models(ScratchOrg, await conn.fetch_all(f"SELECT {COLUMNS} FROM scratch_orgs ORDER BY created_at, id"))


async def get(conn: Connection, org_id: str) -> ScratchOrg | None:
    return _org(await conn.fetch_one(f"SELECT {COLUMNS} FROM scratch_orgs WHERE id = ?", (org_id,)))


async def find_identity(
    conn: Connection, username: str | None, sf_org_id: str | None, alias: str | None
) -> ScratchOrg | None:
    """The row the CLI's org is: same username or Salesforce id, or same alias on a row that has neither yet."""
    return _org(
        await conn.fetch_one(
            f"SELECT {COLUMNS} FROM scratch_orgs WHERE username = ? OR sf_org_id = ?"
            " OR (alias = ? AND username IS NULL AND sf_org_id IS NULL) ORDER BY created_at LIMIT 1",
            (username, sf_org_id, alias),
        )
    )


async def alias_taken(conn: Connection, alias: str) -> bool:
    return await conn.fetch_one("SELECT 1 FROM scratch_orgs WHERE alias = ?", (alias,)) is not None


async def lease_of(conn: Connection, agent_id: str, holder: str) -> ScratchOrg | None:
    """The org this instance's agent holds (agent ids are unique per machine only: `holder` is the instance)."""
    return _org(
        await conn.fetch_one(
            f"SELECT {COLUMNS} FROM scratch_orgs WHERE holder_instance = ? AND assigned_agent_id = ?",
            (holder, agent_id),
        )
    )


async def holder_of(conn: Connection, org_id: str) -> str | None:
    """The instance holding the org's lease, if it is leased."""
    value = await conn.fetch_val("SELECT holder_instance FROM scratch_orgs WHERE id = ?", (org_id,))
    return None if value is None else str(value)


async def claim_has_work(conn: Connection, agent_id: str, holder: str, now: datetime, not_before: datetime) -> bool:
    """Whether a claim could change or return anything: an org to lease, the agent's own lease, or one to expire."""
    row = await conn.fetch_one(
        "SELECT 1 FROM scratch_orgs WHERE (holder_instance = ? AND assigned_agent_id = ?)"
        f" OR (status = 'available' AND expires_at > ? AND {CLAIMABLE_HYDRATION})"
        " OR (status <> 'expired' AND expires_at <= ?) LIMIT 1",
        (holder, agent_id, not_before, now),
    )
    return row is not None


async def shape_counts(conn: Connection, now: datetime, not_before: datetime) -> list[dict[str, Any]]:
    """Per shape (NULL: unknown): total, available (claimable: unleased, hydrated or never hydrated, with more than
    minRemainingHours left, i.e. expiring after `not_before`), expiring_soon (unleased, not expired, expiring by
    `not_before`), leased, expired (past expiry counts as expired before any refresh). An org still hydrating (or
    failed) is in the total only: nobody can claim it yet. The service adds them up for the totals."""
    rows = await conn.fetch_all(
        "SELECT shape, MAX(definition_name) AS definition_name, COUNT(*) AS total,"
        f" COALESCE(SUM(CASE WHEN status = 'available' AND expires_at > ? AND {CLAIMABLE_HYDRATION}"
        " THEN 1 ELSE 0 END), 0) AS available,"
        " COALESCE(SUM(CASE WHEN status = 'available' AND expires_at > ? AND expires_at <= ? THEN 1 ELSE 0 END), 0)"
        " AS expiring_soon,"
        " COALESCE(SUM(CASE WHEN status = 'leased' AND expires_at > ? THEN 1 ELSE 0 END), 0) AS leased,"
        " COALESCE(SUM(CASE WHEN status = 'expired' OR expires_at <= ? THEN 1 ELSE 0 END), 0) AS expired"
        " FROM scratch_orgs GROUP BY shape ORDER BY shape",
        (not_before, now, not_before, now, now),
    )
    return [
        {
            "shape": row["shape"],
            "definition_name": row["definition_name"],
            **{k: int(row[k]) for k in ("total", "available", "expiring_soon", "leased", "expired")},
        }
        for row in rows
    ]


async def insert_within_capacity(conn: Connection, values: dict[str, Any], capacity: int) -> ScratchOrg | None:
    """The capacity rule, in one place: insert one row unless available plus leased orgs already reach
    `capacity` (and the team's capacity stored in pool_state, when set); None when full. A new row counts against
    capacity unless it is born expired.

    The count and the insert are one statement inside the caller's write transaction. On SQLite that transaction
    holds the only write lock; on PostgreSQL the pool's row is locked first, so two sidecars cannot both count
    "3 of 4" under READ COMMITTED and both insert.
    """
    team = await lock_team_capacity(conn)
    if team is not None:  # a shared pool: never above the team's one number, read under the lock
        capacity = min(capacity, team)
    names = list(values)
    placeholders = ", ".join("?" for _ in names)
    row = await conn.fetch_one(
        f"INSERT INTO scratch_orgs ({', '.join(names)}) SELECT {placeholders}"
        f" WHERE ? = 'expired' OR (SELECT COUNT(*) FROM scratch_orgs WHERE {HOLDING}) < ?"
        f" RETURNING {COLUMNS}",
        (*values.values(), values["status"], capacity),
    )
    return _org(row)


async def lease_next(
    conn: Connection,
    agent_id: str,
    holder: str,
    machine: str,
    now: datetime,
    not_before: datetime,
    shape: str | None = None,
    allow_unknown: bool = True,
    key_id: str | None = None,
) -> ScratchOrg | None:
    """Lease the available org that expires first, among those still valid at `not_before`, hydrated (or never
    hydrated) and of the wanted shape; in a shared pool (`key_id` given: this machine's team key id, "" for none)
    an org this machine's CLI can use comes first.

    Usable: brought in by this instance, with no recorded origin (this machine's CLI knows it), or sealed with
    this machine's team key (logged in with its URL). Another machine's org with no URL, or one sealed with another
    key, is leased only when nothing usable fits, and its hand-over then says why (ORG_NOT_AUTHORIZED).

    With `shape`, only orgs of that shape qualify, and orgs of unknown shape (NULL) only when `allow_unknown`; an
    org of the wanted shape is preferred to an unknown one. The filter is in the statement itself (both the
    candidate and the outer re-check), so no caller can lease an org of another shape. On PostgreSQL the candidate
    is taken `FOR UPDATE SKIP LOCKED`, so a claim never waits behind a peer's claim of another org, and the outer
    `status = 'available'` re-check means a row a peer leased meanwhile is never taken.
    """
    fits, order = "", ""
    fit_params: tuple[str | int, ...] = ()
    order_params: tuple[str, ...] = ()
    if key_id is not None:
        order = (
            "CASE WHEN EXISTS (SELECT 1 FROM org_auth_urls a WHERE a.org_id = scratch_orgs.id"
            " AND a.origin_instance <> ? AND (a.key_id IS NULL OR a.key_id <> ?)) THEN 1 ELSE 0 END, "
        )
        order_params = (holder, key_id)
    if shape is not None:
        fits = " AND (shape = ? OR (shape IS NULL AND ? = 1))"
        fit_params = (shape, 1 if allow_unknown else 0)
        order += "CASE WHEN shape = ? THEN 0 ELSE 1 END, "
        order_params += (shape,)
    return _org(
        await conn.fetch_one(
            "UPDATE scratch_orgs SET status = 'leased', assigned_agent_id = ?, holder_instance = ?,"
            " holder_machine = ?, leased_at = ?"
            f" WHERE status = 'available' AND {CLAIMABLE_HYDRATION}{fits} AND id = (SELECT id FROM scratch_orgs"
            f" WHERE status = 'available' AND {CLAIMABLE_HYDRATION}"
            f" AND expires_at > ?{fits} ORDER BY {order}expires_at, id LIMIT 1{conn.dialect.skip_locked})"
            f" RETURNING {COLUMNS}",
            (agent_id, holder, machine, now, *fit_params, not_before, *fit_params, *order_params),
        )
    )


async def release(conn: Connection, org_id: str) -> ScratchOrg | None:
    return _org(
        await conn.fetch_one(
            f"UPDATE scratch_orgs SET status = 'available', {NO_HOLDER}"
            f" WHERE id = ? AND status = 'leased' RETURNING {COLUMNS}",
            (org_id,),
        )
    )


async def due_for_expiry(conn: Connection, now: datetime) -> list[ScratchOrg]:
    rows = await conn.fetch_all(
        f"SELECT {COLUMNS} FROM scratch_orgs WHERE status <> 'expired' AND expires_at <= ?", (now,)
    )
    return to_models(ScratchOrg, rows)


async def mark_expired(conn: Connection, org_id: str) -> ScratchOrg | None:
    return _org(
        await conn.fetch_one(
            f"UPDATE scratch_orgs SET status = 'expired', {NO_HOLDER}"
            f" WHERE id = ? AND status <> 'expired' RETURNING {COLUMNS}",
            (org_id,),
        )
    )


async def update_details(conn: Connection, org_id: str, fields: dict[str, Any]) -> ScratchOrg | None:
    """Overwrite CLI-reported details (never status or lease columns: those change only through the rules)."""
    allowed = {"username", "sf_org_id", "instance_url", "login_url", "expires_at"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"not a detail column: {sorted(unknown)}")
    if not fields:
        return await get(conn, org_id)
    assignments = ", ".join(f"{name} = ?" for name in fields)
    return _org(
        await conn.fetch_one(
            f"UPDATE scratch_orgs SET {assignments} WHERE id = ? RETURNING {COLUMNS}", (*fields.values(), org_id)
        )
    )


async def delete(conn: Connection, org_id: str) -> ScratchOrg | None:
    await conn.execute("DELETE FROM org_expiry_warnings WHERE org_id = ?", (org_id,))
    return _org(await conn.fetch_one(f"DELETE FROM scratch_orgs WHERE id = ? RETURNING {COLUMNS}", (org_id,)))


async def deployment_of(conn: Connection, org_id: str) -> tuple[str | None, str | None]:
    """(source_state, step_inputs) as stored (JSON text or None): what the org holds of the project."""
    row = await conn.fetch_one("SELECT source_state, step_inputs FROM scratch_orgs WHERE id = ?", (org_id,))
    return (row["source_state"], row["step_inputs"]) if row is not None else (None, None)


async def set_deployment(conn: Connection, org_id: str, fields: dict[str, Any]) -> ScratchOrg | None:
    """Overwrite what the org holds (deployed_commit, source_state, step_inputs, hydration), nothing else."""
    allowed = {"deployed_commit", "source_state", "step_inputs", "hydration"}
    unknown = set(fields) - allowed
    if unknown or not fields:
        raise ValueError(f"not a deployment column: {sorted(unknown)}")
    assignments = ", ".join(f"{name} = ?" for name in fields)
    return _org(
        await conn.fetch_one(
            f"UPDATE scratch_orgs SET {assignments} WHERE id = ? RETURNING {COLUMNS}", (*fields.values(), org_id)
        )
    )


async def take_for_rehydration(conn: Connection, org_id: str) -> ScratchOrg | None:
    """Mark an available, hydrated org hydrating again, only if it still is both: a claim that took the row first
    keeps it (on PostgreSQL the WHERE is re-checked on the locked row, so the two never both win)."""
    return _org(
        await conn.fetch_one(
            "UPDATE scratch_orgs SET hydration = 'hydrating'"
            f" WHERE id = ? AND status = 'available' AND hydration = 'ready' RETURNING {COLUMNS}",
            (org_id,),
        )
    )


async def team_capacity(conn: Connection) -> int | None:
    """The team's capacity (pool_state.max_orgs), None on a pool nobody shares."""
    value = await conn.fetch_val("SELECT max_orgs FROM pool_state WHERE id = 1")
    return None if value is None else int(value)


async def lock_team_capacity(conn: Connection) -> int | None:
    """Lock the pool's row (PostgreSQL; SQLite's write transaction already serializes) and read the capacity."""
    value = await conn.fetch_val(f"SELECT max_orgs FROM pool_state WHERE id = 1{conn.dialect.for_update}")
    return None if value is None else int(value)


async def init_team_capacity(conn: Connection, max_orgs: int) -> int:
    """Set the team's capacity unless a sidecar already did (the first one's maxOrgs wins); the value in force."""
    await conn.execute("UPDATE pool_state SET max_orgs = ? WHERE id = 1 AND max_orgs IS NULL", (max_orgs,))
    return int(await conn.fetch_val("SELECT max_orgs FROM pool_state WHERE id = 1"))


async def set_team_capacity(conn: Connection, max_orgs: int) -> None:
    await conn.execute(f"SELECT id FROM pool_state WHERE id = 1{conn.dialect.for_update}")
    await conn.execute("UPDATE pool_state SET max_orgs = ? WHERE id = 1", (max_orgs,))


async def warm_counts(conn: Connection, not_before: datetime) -> dict[str | None, int]:
    """Per shape (None: unknown), the unleased orgs still claimable at `not_before`: hydrated, never hydrated, or
    being hydrated right now (on their way to claimable); a failed hydration is on its way out and does not count.
    What pre-warm tops up."""
    rows = await conn.fetch_all(
        "SELECT shape, COUNT(*) AS n FROM scratch_orgs WHERE status = 'available' AND expires_at > ?"
        " AND (hydration IS NULL OR hydration <> 'failed') GROUP BY shape",
        (not_before,),
    )
    return {row["shape"]: int(row["n"]) for row in rows}


async def unleased_expiring(conn: Connection, now: datetime, not_before: datetime) -> list[ScratchOrg]:
    """Unleased orgs not yet expired that expire by `not_before` (no claim takes them any more), soonest first."""
    rows = await conn.fetch_all(
        f"SELECT {COLUMNS} FROM scratch_orgs WHERE status = 'available' AND expires_at > ? AND expires_at <= ?"
        " ORDER BY expires_at, id",
        (now, not_before),
    )
    return to_models(ScratchOrg, rows)


async def leased_expiring(conn: Connection, holder: str, now: datetime, horizon: datetime) -> list[ScratchOrg]:
    """Orgs leased by this instance's agents (`holder`: in a shared pool each sidecar warns its own agents), not
    yet expired, that expire by `horizon`, soonest first."""
    rows = await conn.fetch_all(
        f"SELECT {COLUMNS} FROM scratch_orgs WHERE status = 'leased' AND holder_instance = ? AND expires_at > ?"
        " AND expires_at <= ? ORDER BY expires_at, id",
        (holder, now, horizon),
    )
    return to_models(ScratchOrg, rows)


async def record_warning(conn: Connection, org_id: str, agent_id: str, kind: str, now: datetime) -> bool:
    """Record that warning `kind` went to `agent_id` about `org_id`; False when it already had (send nothing)."""
    row = await conn.fetch_one(
        "INSERT INTO org_expiry_warnings (org_id, agent_id, kind, sent_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING RETURNING org_id",
        (org_id, agent_id, kind, now),
    )
    return row is not None
