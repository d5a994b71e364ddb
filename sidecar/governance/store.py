"""All SQL of the governance aggregate, and nothing else: no rules, no clock, no session.

Every function takes the connection of the caller's transaction, so the service decides what is atomic. The SQL
means the same on PostgreSQL: creation that can race is `INSERT ... ON CONFLICT ... DO NOTHING RETURNING` (a lost
race returns no row instead of raising, which on PostgreSQL would abort the whole transaction), catalog upserts are
`ON CONFLICT ... DO UPDATE`, and `lock_pool` is where PostgreSQL takes a row lock. Only the `?` placeholders and
the 0/1 booleans are SQLite's spelling.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite

from sidecar.db import fetch_all, fetch_one
from sidecar.governance.models import EntitlementValue, Subject


@dataclass(frozen=True)
class PoolRef:
    id: str
    organization_id: str
    org_type: str


@dataclass(frozen=True)
class LadderRef:
    id: str
    key: str


@dataclass(frozen=True)
class Tier:
    product_id: str
    product_key: str
    entitlement_set_id: str


@dataclass(frozen=True)
class Position:
    ladder_id: str
    ladder_key: str
    rank: int


def _in(values: Sequence[str]) -> str:
    return ", ".join("?" for _ in values)


async def _insert(conn: aiosqlite.Connection, table: str, values: Mapping[str, Any]) -> None:
    names = ", ".join(values)
    await conn.execute(f"INSERT INTO {table} ({names}) VALUES ({_in(list(values))})", tuple(values.values()))


# -- identity and what first sign-in creates --------------------------------------------------------------------


async def insert_user(conn: aiosqlite.Connection, values: Mapping[str, Any]) -> bool:
    """Create the user unless (issuer, subject) exists; False when another sign-in got there first."""
    names = ", ".join(values)
    row = await fetch_one(
        conn,
        f"INSERT INTO users ({names}) VALUES ({_in(list(values))})"
        " ON CONFLICT (issuer, subject) DO NOTHING RETURNING id",
        tuple(values.values()),
    )
    return row is not None


async def find_subject(conn: aiosqlite.Connection, issuer: str, subject: str) -> Subject | None:
    """The user, person, personal organization, its default workspace and that workspace's primary pool."""
    row = await fetch_one(
        conn,
        "SELECT u.id AS user_id, p.id AS person_id, o.id AS organization_id, w.id AS workspace_id,"
        " a.pool_id AS pool_id"
        " FROM users u"
        " JOIN persons p ON p.user_id = u.id"
        " JOIN organizations o ON o.created_by_person_id = p.id AND o.org_type = 'personal'"
        " JOIN workspaces w ON w.organization_id = o.id AND w.name = 'default'"
        " JOIN pool_assignments a ON a.workspace_id = w.id AND a.is_primary = 1"
        " WHERE u.issuer = ? AND u.subject = ?",
        (issuer, subject),
    )
    if row is None:
        return None
    return Subject(
        user_id=row["user_id"],
        person_id=row["person_id"],
        organization_id=row["organization_id"],
        workspace_id=row["workspace_id"],
        pool_id=row["pool_id"],
    )


async def insert_person(conn: aiosqlite.Connection, values: Mapping[str, Any]) -> None:
    await _insert(conn, "persons", values)


async def insert_organization(conn: aiosqlite.Connection, values: Mapping[str, Any]) -> bool:
    """Insert unless the slug is taken; False on a slug conflict so the caller retries with the next suffix."""
    names = ", ".join(values)
    row = await fetch_one(
        conn,
        f"INSERT INTO organizations ({names}) VALUES ({_in(list(values))})"
        " ON CONFLICT (slug) DO NOTHING RETURNING id",
        tuple(values.values()),
    )
    return row is not None


async def insert_member(conn: aiosqlite.Connection, values: Mapping[str, Any]) -> None:
    await _insert(conn, "org_members", values)


async def insert_workspace(conn: aiosqlite.Connection, values: Mapping[str, Any]) -> None:
    await _insert(conn, "workspaces", values)


async def insert_pool(conn: aiosqlite.Connection, values: Mapping[str, Any]) -> None:
    await _insert(conn, "resource_pools", values)


async def insert_pool_assignment(conn: aiosqlite.Connection, values: Mapping[str, Any]) -> None:
    await _insert(conn, "pool_assignments", values)


async def insert_billing_account(conn: aiosqlite.Connection, values: Mapping[str, Any]) -> None:
    await _insert(conn, "billing_accounts", values)


async def default_billing_account(conn: aiosqlite.Connection, organization_id: str) -> str | None:
    row = await fetch_one(
        conn,
        "SELECT id FROM billing_accounts WHERE organization_id = ? AND name = 'Default' AND status = 'active'",
        (organization_id,),
    )
    return row["id"] if row else None


# -- ladders, grants, provisions ----------------------------------------------------------------------------------


async def lock_pool(conn: aiosqlite.Connection, pool_id: str) -> PoolRef | None:
    """Lock the pool before any grant, so two grants cannot race on its ladder position.

    On SQLite this is a plain read: the caller's `BEGIN IMMEDIATE` already holds the database's single write lock.
    On PostgreSQL it is `SELECT ... FROM resource_pools WHERE id = $1 FOR UPDATE OF p`, which serializes grants
    per pool while other pools proceed.
    """
    row = await fetch_one(
        conn,
        "SELECT p.id, p.organization_id, o.org_type FROM resource_pools p"
        " JOIN organizations o ON o.id = p.organization_id WHERE p.id = ?",
        (pool_id,),
    )
    return PoolRef(row["id"], row["organization_id"], row["org_type"]) if row else None


async def default_ladder(conn: aiosqlite.Connection, org_type: str) -> LadderRef | None:
    row = await fetch_one(
        conn,
        "SELECT l.id, l.key FROM org_types t JOIN billing_plan_ladders l ON l.id = t.default_plan_ladder_id"
        " WHERE t.key = ? AND l.is_active = 1",
        (org_type,),
    )
    return LadderRef(row["id"], row["key"]) if row else None


async def ladder_tier(conn: aiosqlite.Connection, ladder_id: str, rank: int) -> Tier | None:
    row = await fetch_one(
        conn,
        "SELECT p.id, p.key, p.entitlement_set_id FROM billing_plan_ladder_tiers t"
        " JOIN billing_products p ON p.id = t.product_id WHERE t.ladder_id = ? AND t.rank = ?",
        (ladder_id, rank),
    )
    return Tier(row["id"], row["key"], row["entitlement_set_id"]) if row else None


async def ladder_position(conn: aiosqlite.Connection, pool_id: str) -> Position | None:
    row = await fetch_one(
        conn,
        "SELECT l.id, l.key, pl.rank FROM pool_provision_ladders pl"
        " JOIN billing_plan_ladders l ON l.id = pl.ladder_id WHERE pl.pool_id = ?",
        (pool_id,),
    )
    return Position(row["id"], row["key"], int(row["rank"])) if row else None


async def set_ladder_position(
    conn: aiosqlite.Connection, pool_id: str, ladder_id: str, rank: int, now: str
) -> None:
    await conn.execute(
        "INSERT INTO pool_provision_ladders (pool_id, ladder_id, rank, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (pool_id) DO UPDATE SET ladder_id = excluded.ladder_id, rank = excluded.rank,"
        " updated_at = excluded.updated_at",
        (pool_id, ladder_id, rank, now),
    )


async def clear_ladder_position(conn: aiosqlite.Connection, pool_id: str) -> None:
    await conn.execute("DELETE FROM pool_provision_ladders WHERE pool_id = ?", (pool_id,))


async def active_default_provision(
    conn: aiosqlite.Connection, pool_id: str, ladder_id: str, product_id: str
) -> str | None:
    """The pool's active default provision of `product_id`, if the pool stands at rank 0 of `ladder_id`."""
    row = await fetch_one(
        conn,
        "SELECT pv.id FROM pool_provisions pv"
        " JOIN grants g ON g.id = pv.grant_id"
        " JOIN pool_provision_ladders pl ON pl.pool_id = pv.pool_id"
        " WHERE pv.pool_id = ? AND pv.status = 'active' AND g.status = 'active' AND g.grant_reason = 'default'"
        " AND g.product_id = ? AND pl.ladder_id = ? AND pl.rank = 0",
        (pool_id, product_id, ladder_id),
    )
    return row["id"] if row else None


async def has_active_provision(conn: aiosqlite.Connection, pool_id: str) -> bool:
    row = await fetch_one(
        conn, "SELECT 1 FROM pool_provisions WHERE pool_id = ? AND status = 'active'", (pool_id,)
    )
    return row is not None


async def end_active_provision(conn: aiosqlite.Connection, pool_id: str, now: str) -> None:
    """End the pool's active provision and the grant behind it (history stays; nothing is deleted)."""
    rows = await fetch_all(
        conn,
        "UPDATE pool_provisions SET status = 'ended', ended_at = ?"
        " WHERE pool_id = ? AND status = 'active' RETURNING grant_id",
        (now, pool_id),
    )
    for row in rows:
        await conn.execute(
            "UPDATE grants SET status = 'ended', ended_at = ? WHERE id = ? AND status = 'active'",
            (now, row["grant_id"]),
        )


async def insert_grant(conn: aiosqlite.Connection, values: Mapping[str, Any]) -> None:
    await _insert(conn, "grants", values)


async def insert_provision(conn: aiosqlite.Connection, values: Mapping[str, Any]) -> None:
    await _insert(conn, "pool_provisions", values)


async def insert_transition(conn: aiosqlite.Connection, values: Mapping[str, Any]) -> None:
    await _insert(conn, "pool_provision_transitions", values)


async def has_end_transition(conn: aiosqlite.Connection, pool_id: str) -> bool:
    row = await fetch_one(
        conn,
        "SELECT 1 FROM pool_provision_transitions WHERE pool_id = ? AND transition_type = 'end' LIMIT 1",
        (pool_id,),
    )
    return row is not None


async def materialize_entitlements(conn: aiosqlite.Connection, pool_id: str, now: str) -> None:
    """Rewrite the pool's entitlements from its active provision's entitlement set (none when it has none)."""
    await conn.execute("DELETE FROM pool_entitlements WHERE pool_id = ?", (pool_id,))
    await conn.execute(
        "INSERT INTO pool_entitlements (pool_id, key, value, provision_id, materialized_at)"
        " SELECT pv.pool_id, i.key, i.value, pv.id, ? FROM pool_provisions pv"
        " JOIN grants g ON g.id = pv.grant_id"
        " JOIN entitlement_set_items i ON i.entitlement_set_id = g.entitlement_set_id"
        " WHERE pv.pool_id = ? AND pv.status = 'active'",
        (now, pool_id),
    )


async def clear_entitlements(conn: aiosqlite.Connection, pool_id: str) -> None:
    await conn.execute("DELETE FROM pool_entitlements WHERE pool_id = ?", (pool_id,))


async def pool_entitlements(conn: aiosqlite.Connection, pool_id: str) -> dict[str, EntitlementValue]:
    rows = await fetch_all(conn, "SELECT key, value FROM pool_entitlements WHERE pool_id = ? ORDER BY key", (pool_id,))
    return {row["key"]: json.loads(row["value"]) for row in rows}


async def pools_with_active_provision(conn: aiosqlite.Connection) -> list[str]:
    rows = await fetch_all(conn, "SELECT pool_id FROM pool_provisions WHERE status = 'active' ORDER BY pool_id")
    return [row["pool_id"] for row in rows]


# -- the catalog -------------------------------------------------------------------------------------------------


async def upsert_entitlement_set(conn: aiosqlite.Connection, new_id: str, key: str, now: str) -> str:
    row = await fetch_one(
        conn,
        "INSERT INTO entitlement_sets (id, key, created_at) VALUES (?, ?, ?)"
        " ON CONFLICT (key) DO UPDATE SET key = excluded.key RETURNING id",
        (new_id, key, now),
    )
    assert row is not None
    return str(row["id"])


async def replace_entitlement_items(
    conn: aiosqlite.Connection, set_id: str, items: Mapping[str, EntitlementValue]
) -> None:
    await conn.execute("DELETE FROM entitlement_set_items WHERE entitlement_set_id = ?", (set_id,))
    for key, value in items.items():
        await conn.execute(
            "INSERT INTO entitlement_set_items (entitlement_set_id, key, value) VALUES (?, ?, ?)",
            (set_id, key, json.dumps(value)),
        )


async def upsert_product(
    conn: aiosqlite.Connection, new_id: str, key: str, name: str, set_id: str, now: str
) -> str:
    row = await fetch_one(
        conn,
        "INSERT INTO billing_products (id, key, name, entitlement_set_id, is_active, updated_at)"
        " VALUES (?, ?, ?, ?, 1, ?)"
        " ON CONFLICT (key) DO UPDATE SET name = excluded.name, entitlement_set_id = excluded.entitlement_set_id,"
        " is_active = 1, updated_at = excluded.updated_at RETURNING id",
        (new_id, key, name, set_id, now),
    )
    assert row is not None
    return str(row["id"])


async def deactivate_products_except(conn: aiosqlite.Connection, keys: Sequence[str], now: str) -> None:
    keep = f"key NOT IN ({_in(keys)})" if keys else "1 = 1"
    await conn.execute(
        f"UPDATE billing_products SET is_active = 0, updated_at = ? WHERE is_active = 1 AND {keep}", (now, *keys)
    )


async def upsert_ladder(conn: aiosqlite.Connection, new_id: str, key: str, now: str) -> str:
    row = await fetch_one(
        conn,
        "INSERT INTO billing_plan_ladders (id, key, is_active, updated_at) VALUES (?, ?, 1, ?)"
        " ON CONFLICT (key) DO UPDATE SET is_active = 1, updated_at = excluded.updated_at RETURNING id",
        (new_id, key, now),
    )
    assert row is not None
    return str(row["id"])


async def replace_ladder_tiers(conn: aiosqlite.Connection, ladder_id: str, product_ids: Sequence[str]) -> None:
    await conn.execute("DELETE FROM billing_plan_ladder_tiers WHERE ladder_id = ?", (ladder_id,))
    for rank, product_id in enumerate(product_ids):
        await conn.execute(
            "INSERT INTO billing_plan_ladder_tiers (ladder_id, rank, product_id) VALUES (?, ?, ?)",
            (ladder_id, rank, product_id),
        )


async def deactivate_ladders_except(conn: aiosqlite.Connection, keys: Sequence[str], now: str) -> None:
    keep = f"key NOT IN ({_in(keys)})" if keys else "1 = 1"
    await conn.execute(
        f"UPDATE billing_plan_ladders SET is_active = 0, updated_at = ? WHERE is_active = 1 AND {keep}", (now, *keys)
    )


async def upsert_org_type(conn: aiosqlite.Connection, key: str, ladder_id: str | None, now: str) -> None:
    await conn.execute(
        "INSERT INTO org_types (key, default_plan_ladder_id, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (key) DO UPDATE SET default_plan_ladder_id = excluded.default_plan_ladder_id,"
        " updated_at = excluded.updated_at",
        (key, ladder_id, now),
    )


async def clear_org_types_except(conn: aiosqlite.Connection, keys: Sequence[str], now: str) -> None:
    """Org types gone from the catalog keep their rows (organizations refer to them) but lose their default plan."""
    keep = f"key NOT IN ({_in(keys)})" if keys else "1 = 1"
    await conn.execute(
        f"UPDATE org_types SET default_plan_ladder_id = NULL, updated_at = ?"
        f" WHERE default_plan_ladder_id IS NOT NULL AND {keep}",
        (now, *keys),
    )


# -- reads for the views -----------------------------------------------------------------------------------------


def _scope(column: str, ids: Sequence[str] | None) -> tuple[str, tuple[str, ...]]:
    """A WHERE clause limiting `column` to `ids`, or every row when `ids` is None."""
    if ids is None:
        return "1 = 1", ()
    if not ids:
        return "1 = 0", ()
    return f"{column} IN ({_in(ids)})", tuple(ids)


async def person(conn: aiosqlite.Connection, person_id: str) -> aiosqlite.Row | None:
    return await fetch_one(conn, "SELECT id, display_name, email FROM persons WHERE id = ?", (person_id,))


async def memberships(conn: aiosqlite.Connection, person_id: str) -> list[aiosqlite.Row]:
    return await fetch_all(
        conn,
        "SELECT o.id, o.name, o.slug, o.org_type, m.role FROM org_members m"
        " JOIN organizations o ON o.id = m.organization_id WHERE m.person_id = ? ORDER BY o.created_at, o.id",
        (person_id,),
    )


async def organizations(conn: aiosqlite.Connection, viewer_person_id: str) -> list[aiosqlite.Row]:
    """Every organization, with the viewer's role in it (null where the viewer is not a member)."""
    return await fetch_all(
        conn,
        "SELECT o.id, o.name, o.slug, o.org_type, m.role FROM organizations o"
        " LEFT JOIN org_members m ON m.organization_id = o.id AND m.person_id = ?"
        " ORDER BY o.created_at, o.id",
        (viewer_person_id,),
    )


async def members(conn: aiosqlite.Connection, org_ids: Sequence[str] | None) -> list[aiosqlite.Row]:
    where, args = _scope("m.organization_id", org_ids)
    return await fetch_all(
        conn,
        "SELECT m.organization_id, p.id AS person_id, p.display_name, p.email, m.role FROM org_members m"
        f" JOIN persons p ON p.id = m.person_id WHERE {where} ORDER BY m.created_at, m.id",
        args,
    )


async def workspaces(conn: aiosqlite.Connection, org_ids: Sequence[str] | None) -> list[aiosqlite.Row]:
    where, args = _scope("organization_id", org_ids)
    return await fetch_all(
        conn, f"SELECT id, organization_id, name FROM workspaces WHERE {where} ORDER BY created_at, id", args
    )


async def pools(conn: aiosqlite.Connection, org_ids: Sequence[str] | None) -> list[aiosqlite.Row]:
    """Pools with their ladder position and the product at that rank (if the ladder still has one there)."""
    where, args = _scope("p.organization_id", org_ids)
    return await fetch_all(
        conn,
        "SELECT p.id, p.organization_id, p.name, p.pool_type, p.is_auto_managed,"
        " l.key AS ladder_key, pl.rank, pr.key AS product_key"
        " FROM resource_pools p"
        " LEFT JOIN pool_provision_ladders pl ON pl.pool_id = p.id"
        " LEFT JOIN billing_plan_ladders l ON l.id = pl.ladder_id"
        " LEFT JOIN billing_plan_ladder_tiers t ON t.ladder_id = pl.ladder_id AND t.rank = pl.rank"
        " LEFT JOIN billing_products pr ON pr.id = t.product_id"
        f" WHERE {where} ORDER BY p.created_at, p.id",
        args,
    )


async def assignments(conn: aiosqlite.Connection, org_ids: Sequence[str] | None) -> list[aiosqlite.Row]:
    where, args = _scope("p.organization_id", org_ids)
    return await fetch_all(
        conn,
        "SELECT a.pool_id, a.workspace_id, a.is_primary FROM pool_assignments a"
        f" JOIN resource_pools p ON p.id = a.pool_id WHERE {where} ORDER BY a.is_primary DESC, a.created_at, a.id",
        args,
    )


async def entitlements_of_orgs(
    conn: aiosqlite.Connection, org_ids: Sequence[str] | None
) -> dict[str, dict[str, EntitlementValue]]:
    where, args = _scope("p.organization_id", org_ids)
    rows = await fetch_all(
        conn,
        "SELECT e.pool_id, e.key, e.value FROM pool_entitlements e"
        f" JOIN resource_pools p ON p.id = e.pool_id WHERE {where} ORDER BY e.pool_id, e.key",
        args,
    )
    found: dict[str, dict[str, EntitlementValue]] = {}
    for row in rows:
        found.setdefault(row["pool_id"], {})[row["key"]] = json.loads(row["value"])
    return found
