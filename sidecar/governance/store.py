"""All SQL of the governance aggregate, and nothing else: no rules, no clock, no session.

Every function takes the `Connection` of the caller's transaction (sidecar/storage), so the service decides what
is atomic; one SQL text runs on both engines. Creation that can race is `INSERT ... ON CONFLICT ... DO NOTHING
RETURNING` (a lost race returns no row instead of raising, which on PostgreSQL would abort the whole transaction),
catalog upserts are `ON CONFLICT ... DO UPDATE`, booleans are TRUE/FALSE, instants are aware datetimes, and
`lock_pool` is where PostgreSQL takes a row lock (`FOR UPDATE OF p`). Reads return dataclasses built by column
name (sidecar/storage/rows.py), whichever engine produced the row.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sidecar.governance.models import EntitlementValue, Subject
from sidecar.storage.connection import Connection
from sidecar.storage.rows import to_model, to_models


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


T = TypeVar("T")


def _in(values: Sequence[str]) -> str:
    return ", ".join("?" for _ in values)


def _insert_sql(table: str, values: Mapping[str, Any]) -> str:
    return f"INSERT INTO {table} ({', '.join(values)}) VALUES ({_in(list(values))})"


Insert = Callable[[Connection, Mapping[str, Any]], Awaitable[None]]


def _inserter(table: str) -> Insert:
    """One named function per table, so callers never spell a table and a test can patch one table's inserts."""

    async def insert(conn: Connection, values: Mapping[str, Any]) -> None:
        await conn.execute(_insert_sql(table, values), tuple(values.values()))

    return insert


async def _insert_unless_taken(conn: Connection, table: str, values: Mapping[str, Any], unique: str) -> bool:
    """False when a row already holds the `unique` columns; DO NOTHING rather than a caught constraint error,
    because on PostgreSQL that error would abort the caller's whole transaction."""
    row = await conn.fetch_one(
        f"{_insert_sql(table, values)} ON CONFLICT ({unique}) DO NOTHING RETURNING id", tuple(values.values())
    )
    return row is not None


async def _one(conn: Connection, make: type[T], sql: str, params: tuple[Any, ...]) -> T | None:
    """The row built by column name: each SELECT names its columns after `make`'s fields, so order cannot drift."""
    row = await conn.fetch_one(sql, params)
    return to_model(make, row) if row is not None else None


async def _all(conn: Connection, make: type[T], sql: str, params: tuple[Any, ...] = ()) -> list[T]:
    return to_models(make, await conn.fetch_all(sql, params))


async def _upserted_id(conn: Connection, sql: str, params: tuple[Any, ...]) -> str:
    """`RETURNING id` gives the existing row's id on a conflict, so callers never read it back by key."""
    row = await conn.fetch_one(sql, params)
    assert row is not None, "ON CONFLICT ... DO UPDATE always returns the row"
    return str(row["id"])


# -- identity and what first sign-in creates --------------------------------------------------------------------


async def insert_user(conn: Connection, values: Mapping[str, Any]) -> bool:
    """False when another sign-in of the same subject got there first."""
    return await _insert_unless_taken(conn, "users", values, "issuer, subject")


async def find_subject(conn: Connection, issuer: str, subject: str) -> Subject | None:
    """The user, person, personal organization, its default workspace and that workspace's primary pool."""
    return await _one(
        conn,
        Subject,
        "SELECT u.id AS user_id, p.id AS person_id, o.id AS organization_id, w.id AS workspace_id,"
        " a.pool_id AS pool_id"
        " FROM users u"
        " JOIN persons p ON p.user_id = u.id"
        " JOIN organizations o ON o.created_by_person_id = p.id AND o.org_type = 'personal'"
        " JOIN workspaces w ON w.organization_id = o.id AND w.name = 'default'"
        " JOIN pool_assignments a ON a.workspace_id = w.id AND a.is_primary"
        " WHERE u.issuer = ? AND u.subject = ?",
        (issuer, subject),
    )


async def next_free_slug(conn: Connection, base: str) -> str:
    """`base` if free, else `base-N` with the smallest free N >= 2, found with one statement whatever N is.

    `base` is `[a-z0-9-]` (see signin.slug_base), so it holds no LIKE wildcard; the suffix is parsed here rather
    than cast in SQL, so the statement stays the same on SQLite and PostgreSQL.
    """
    rows = await conn.fetch_all("SELECT slug FROM organizations WHERE slug = ? OR slug LIKE ?", (base, base + "-%"))
    taken = {str(row["slug"]) for row in rows}
    if base not in taken:
        return base
    prefix = base + "-"
    numbers = {int(s[len(prefix) :]) for s in taken if s[len(prefix) :].isdigit() and s[len(prefix)] != "0"}
    n = 2
    while n in numbers:
        n += 1
    return f"{base}-{n}"


async def insert_organization(conn: Connection, values: Mapping[str, Any]) -> bool:
    """False when the slug is taken, so the caller retries with the next suffix."""
    return await _insert_unless_taken(conn, "organizations", values, "slug")


insert_person = _inserter("persons")
insert_member = _inserter("org_members")
insert_workspace = _inserter("workspaces")
insert_pool = _inserter("resource_pools")
insert_pool_assignment = _inserter("pool_assignments")
insert_billing_account = _inserter("billing_accounts")


async def default_billing_account(conn: Connection, organization_id: str) -> str | None:
    row = await conn.fetch_one(
        "SELECT id FROM billing_accounts WHERE organization_id = ? AND name = 'Default' AND status = 'active'",
        (organization_id,),
    )
    return row["id"] if row else None


# -- ladders, grants, provisions ----------------------------------------------------------------------------------


async def lock_pool(conn: Connection, pool_id: str) -> PoolRef | None:
    """Lock the pool before any grant, so two grants cannot race on its ladder position.

    On SQLite this is a plain read: the caller's `BEGIN IMMEDIATE` already holds the database's single write lock.
    On PostgreSQL it is `SELECT ... FROM resource_pools p ... WHERE p.id = $1 FOR UPDATE OF p`, which serializes
    grants per pool while other pools (and the organization row) proceed.
    """
    return await _one(
        conn,
        PoolRef,
        "SELECT p.id, p.organization_id, o.org_type FROM resource_pools p"
        f" JOIN organizations o ON o.id = p.organization_id WHERE p.id = ?{conn.dialect.for_update_of('p')}",
        (pool_id,),
    )


async def default_ladder(conn: Connection, org_type: str) -> LadderRef | None:
    return await _one(
        conn,
        LadderRef,
        "SELECT l.id, l.key FROM org_types t JOIN billing_plan_ladders l ON l.id = t.default_plan_ladder_id"
        " WHERE t.key = ? AND l.is_active",
        (org_type,),
    )


async def ladder_tier(conn: Connection, ladder_id: str, rank: int) -> Tier | None:
    return await _one(
        conn,
        Tier,
        "SELECT p.id AS product_id, p.key AS product_key, p.entitlement_set_id FROM billing_plan_ladder_tiers t"
        " JOIN billing_products p ON p.id = t.product_id WHERE t.ladder_id = ? AND t.rank = ?",
        (ladder_id, rank),
    )


async def ladder_position(conn: Connection, pool_id: str) -> Position | None:
    return await _one(
        conn,
        Position,
        "SELECT l.id AS ladder_id, l.key AS ladder_key, pl.rank FROM pool_provision_ladders pl"
        " JOIN billing_plan_ladders l ON l.id = pl.ladder_id WHERE pl.pool_id = ?",
        (pool_id,),
    )


async def set_ladder_position(conn: Connection, pool_id: str, ladder_id: str, rank: int, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO pool_provision_ladders (pool_id, ladder_id, rank, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (pool_id) DO UPDATE SET ladder_id = excluded.ladder_id, rank = excluded.rank,"
        " updated_at = excluded.updated_at",
        (pool_id, ladder_id, rank, now),
    )


async def clear_ladder_position(conn: Connection, pool_id: str) -> None:
    await conn.execute("DELETE FROM pool_provision_ladders WHERE pool_id = ?", (pool_id,))


async def active_default_provision(conn: Connection, pool_id: str, ladder_id: str, product_id: str) -> str | None:
    """The pool's active default provision of `product_id`, if the pool stands at rank 0 of `ladder_id`."""
    row = await conn.fetch_one(
        "SELECT pv.id FROM pool_provisions pv"
        " JOIN grants g ON g.id = pv.grant_id"
        " JOIN pool_provision_ladders pl ON pl.pool_id = pv.pool_id"
        " WHERE pv.pool_id = ? AND pv.status = 'active' AND g.status = 'active' AND g.grant_reason = 'default'"
        " AND g.product_id = ? AND pl.ladder_id = ? AND pl.rank = 0",
        (pool_id, product_id, ladder_id),
    )
    return row["id"] if row else None


async def has_active_provision(conn: Connection, pool_id: str) -> bool:
    row = await conn.fetch_one("SELECT 1 FROM pool_provisions WHERE pool_id = ? AND status = 'active'", (pool_id,))
    return row is not None


async def end_active_provision(conn: Connection, pool_id: str, now: datetime) -> None:
    """End the pool's active provision and the grant behind it (history stays; nothing is deleted)."""
    rows = await conn.fetch_all(
        "UPDATE pool_provisions SET status = 'ended', ended_at = ?"
        " WHERE pool_id = ? AND status = 'active' RETURNING grant_id",
        (now, pool_id),
    )
    for row in rows:
        await conn.execute(
            "UPDATE grants SET status = 'ended', ended_at = ? WHERE id = ? AND status = 'active'",
            (now, row["grant_id"]),
        )


insert_grant = _inserter("grants")
insert_provision = _inserter("pool_provisions")
insert_transition = _inserter("pool_provision_transitions")


async def has_end_transition(conn: Connection, pool_id: str) -> bool:
    row = await conn.fetch_one(
        "SELECT 1 FROM pool_provision_transitions WHERE pool_id = ? AND transition_type = 'end' LIMIT 1",
        (pool_id,),
    )
    return row is not None


async def materialize_entitlements(conn: Connection, pool_id: str, now: datetime) -> None:
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


async def clear_entitlements(conn: Connection, pool_id: str) -> None:
    await conn.execute("DELETE FROM pool_entitlements WHERE pool_id = ?", (pool_id,))


async def pool_entitlements(conn: Connection, pool_id: str) -> dict[str, EntitlementValue]:
    rows = await conn.fetch_all("SELECT key, value FROM pool_entitlements WHERE pool_id = ? ORDER BY key", (pool_id,))
    return {row["key"]: json.loads(row["value"]) for row in rows}


async def pools_with_active_provision(conn: Connection) -> list[str]:
    rows = await conn.fetch_all("SELECT pool_id FROM pool_provisions WHERE status = 'active' ORDER BY pool_id")
    return [row["pool_id"] for row in rows]


# -- the catalog -------------------------------------------------------------------------------------------------


async def upsert_entitlement_set(conn: Connection, new_id: str, key: str, now: datetime) -> str:
    # `SET key = excluded.key` changes nothing; it is there because DO NOTHING would return no row to take the id from.
    return await _upserted_id(
        conn,
        "INSERT INTO entitlement_sets (id, key, created_at) VALUES (?, ?, ?)"
        " ON CONFLICT (key) DO UPDATE SET key = excluded.key RETURNING id",
        (new_id, key, now),
    )


async def replace_entitlement_items(conn: Connection, set_id: str, items: Mapping[str, EntitlementValue]) -> None:
    await conn.execute("DELETE FROM entitlement_set_items WHERE entitlement_set_id = ?", (set_id,))
    for key, value in items.items():
        await conn.execute(
            "INSERT INTO entitlement_set_items (entitlement_set_id, key, value) VALUES (?, ?, ?)",
            (set_id, key, json.dumps(value)),
        )


async def upsert_product(conn: Connection, new_id: str, key: str, name: str, set_id: str, now: datetime) -> str:
    return await _upserted_id(
        conn,
        "INSERT INTO billing_products (id, key, name, entitlement_set_id, is_active, updated_at)"
        " VALUES (?, ?, ?, ?, TRUE, ?)"
        " ON CONFLICT (key) DO UPDATE SET name = excluded.name, entitlement_set_id = excluded.entitlement_set_id,"
        " is_active = TRUE, updated_at = excluded.updated_at RETURNING id",
        (new_id, key, name, set_id, now),
    )


def _not_in(column: str, keys: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """A WHERE clause for the rows whose `column` is none of `keys` (every row when `keys` is empty)."""
    if not keys:
        return "1 = 1", ()
    return f"{column} NOT IN ({_in(keys)})", tuple(keys)


async def _deactivate_except(conn: Connection, table: str, keys: Sequence[str], now: datetime) -> None:
    gone, args = _not_in("key", keys)
    await conn.execute(f"UPDATE {table} SET is_active = FALSE, updated_at = ? WHERE is_active AND {gone}", (now, *args))


async def deactivate_products_except(conn: Connection, keys: Sequence[str], now: datetime) -> None:
    await _deactivate_except(conn, "billing_products", keys, now)


async def upsert_ladder(conn: Connection, new_id: str, key: str, now: datetime) -> str:
    return await _upserted_id(
        conn,
        "INSERT INTO billing_plan_ladders (id, key, is_active, updated_at) VALUES (?, ?, TRUE, ?)"
        " ON CONFLICT (key) DO UPDATE SET is_active = TRUE, updated_at = excluded.updated_at RETURNING id",
        (new_id, key, now),
    )


async def replace_ladder_tiers(conn: Connection, ladder_id: str, product_ids: Sequence[str]) -> None:
    await conn.execute("DELETE FROM billing_plan_ladder_tiers WHERE ladder_id = ?", (ladder_id,))
    for rank, product_id in enumerate(product_ids):
        await conn.execute(
            "INSERT INTO billing_plan_ladder_tiers (ladder_id, rank, product_id) VALUES (?, ?, ?)",
            (ladder_id, rank, product_id),
        )


async def deactivate_ladders_except(conn: Connection, keys: Sequence[str], now: datetime) -> None:
    await _deactivate_except(conn, "billing_plan_ladders", keys, now)


async def upsert_org_type(conn: Connection, key: str, ladder_id: str | None, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO org_types (key, default_plan_ladder_id, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (key) DO UPDATE SET default_plan_ladder_id = excluded.default_plan_ladder_id,"
        " updated_at = excluded.updated_at",
        (key, ladder_id, now),
    )


async def clear_org_types_except(conn: Connection, keys: Sequence[str], now: datetime) -> None:
    """Org types gone from the catalog keep their rows (organizations refer to them) but lose their default plan."""
    gone, args = _not_in("key", keys)
    await conn.execute(
        f"UPDATE org_types SET default_plan_ladder_id = NULL, updated_at = ?"
        f" WHERE default_plan_ladder_id IS NOT NULL AND {gone}",
        (now, *args),
    )


# -- reads for the views -----------------------------------------------------------------------------------------


def _scope(column: str, ids: Sequence[str] | None) -> tuple[str, tuple[str, ...]]:
    """A WHERE clause limiting `column` to `ids`, or every row when `ids` is None."""
    if ids is None:
        return "1 = 1", ()
    if not ids:
        return "1 = 0", ()
    return f"{column} IN ({_in(ids)})", tuple(ids)


@dataclass(frozen=True)
class PersonRow:
    id: str
    display_name: str
    email: str | None


@dataclass(frozen=True)
class OrganizationRow:
    id: str
    name: str
    slug: str
    org_type: str
    role: str | None


@dataclass(frozen=True)
class MemberRow:
    organization_id: str
    person_id: str
    display_name: str
    email: str | None
    role: str


@dataclass(frozen=True)
class WorkspaceRow:
    id: str
    organization_id: str
    name: str


@dataclass(frozen=True)
class PoolRow:
    id: str
    organization_id: str
    name: str
    pool_type: str
    is_auto_managed: bool
    ladder_key: str | None
    rank: int | None
    product_key: str | None


@dataclass(frozen=True)
class AssignmentRow:
    pool_id: str
    workspace_id: str
    is_primary: bool


async def person(conn: Connection, person_id: str) -> PersonRow | None:
    return await _one(conn, PersonRow, "SELECT id, display_name, email FROM persons WHERE id = ?", (person_id,))


async def memberships(conn: Connection, person_id: str) -> list[OrganizationRow]:
    return await _all(
        conn,
        OrganizationRow,
        "SELECT o.id, o.name, o.slug, o.org_type, m.role FROM org_members m"
        " JOIN organizations o ON o.id = m.organization_id WHERE m.person_id = ? ORDER BY o.created_at, o.id",
        (person_id,),
    )


async def organizations(conn: Connection, viewer_person_id: str) -> list[OrganizationRow]:
    """Every organization, with the viewer's role in it (null where the viewer is not a member)."""
    return await _all(
        conn,
        OrganizationRow,
        "SELECT o.id, o.name, o.slug, o.org_type, m.role FROM organizations o"
        " LEFT JOIN org_members m ON m.organization_id = o.id AND m.person_id = ?"
        " ORDER BY o.created_at, o.id",
        (viewer_person_id,),
    )


async def members(conn: Connection, org_ids: Sequence[str] | None) -> list[MemberRow]:
    where, args = _scope("m.organization_id", org_ids)
    return await _all(
        conn,
        MemberRow,
        "SELECT m.organization_id, p.id AS person_id, p.display_name, p.email, m.role FROM org_members m"
        f" JOIN persons p ON p.id = m.person_id WHERE {where} ORDER BY m.created_at, m.id",
        args,
    )


async def workspaces(conn: Connection, org_ids: Sequence[str] | None) -> list[WorkspaceRow]:
    where, args = _scope("organization_id", org_ids)
    return await _all(
        conn,
        WorkspaceRow,
        f"SELECT id, organization_id, name FROM workspaces WHERE {where} ORDER BY created_at, id",
        args,
    )


async def pools(conn: Connection, org_ids: Sequence[str] | None) -> list[PoolRow]:
    """Pools with their ladder position and the product at that rank (if the ladder still has one there)."""
    where, args = _scope("p.organization_id", org_ids)
    return await _all(
        conn,
        PoolRow,
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


async def assignments(conn: Connection, org_ids: Sequence[str] | None) -> list[AssignmentRow]:
    where, args = _scope("p.organization_id", org_ids)
    return await _all(
        conn,
        AssignmentRow,
        "SELECT a.pool_id, a.workspace_id, a.is_primary FROM pool_assignments a"
        f" JOIN resource_pools p ON p.id = a.pool_id WHERE {where} ORDER BY a.is_primary DESC, a.created_at, a.id",
        args,
    )


async def entitlements_of_orgs(
    conn: Connection, org_ids: Sequence[str] | None
) -> dict[str, dict[str, EntitlementValue]]:
    where, args = _scope("p.organization_id", org_ids)
    rows = await conn.fetch_all(
        "SELECT e.pool_id, e.key, e.value FROM pool_entitlements e"
        f" JOIN resource_pools p ON p.id = e.pool_id WHERE {where} ORDER BY e.pool_id, e.key",
        args,
    )
    found: dict[str, dict[str, EntitlementValue]] = {}
    for row in rows:
        found.setdefault(row["pool_id"], {})[row["key"]] = json.loads(row["value"])
    return found
