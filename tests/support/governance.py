"""Helpers the governance tests share (this module holds no tests): a fixed clock, claims, table snapshots.

Everything runs on a real database with the real migrations, once per engine (a SQLite file, a PostgreSQL database:
the `database_target` fixture of tests/support/postgres.py); a snapshot reads every table of the database, so
"nothing changed" means nothing anywhere, not just in the tables a test thought of. Rows read back are normalized to
one form (instants as sidecar/timeutil.py's text, booleans as 0/1), so one assertion holds on both engines.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sidecar.governance import store
from sidecar.governance.ladders import grant_tier
from sidecar.governance.models import SYSTEM, Claims
from sidecar.governance.service import GovernanceService
from sidecar.governance.store import LadderRef
from sidecar.storage.database import Database, SqliteDatabase, open_target
from sidecar.storage.url import DatabaseTarget, Engine
from sidecar.timeutil import to_db

ISSUER = "https://login.example.com"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

# The tables first sign-in may write to, in the order the issue lists them.
STRUCTURE_TABLES = (
    "users",
    "persons",
    "organizations",
    "org_members",
    "workspaces",
    "resource_pools",
    "pool_assignments",
    "billing_accounts",
)
PLAN_TABLES = ("grants", "pool_provisions", "pool_entitlements", "pool_provision_ladders", "pool_provision_transitions")

NO_DEFAULT_LADDER: dict[str, Any] = {"governance": {"orgTypes": {"personal": {"defaultPlanLadder": None}}}}
DEFAULT_CATALOG: dict[str, Any] = {}


class Clock:
    """A clock tests move by hand, so timestamps are predictable and snapshots comparable."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 1) -> None:
        self.now += timedelta(seconds=seconds)


def claims(
    sub: str = "00u-carlos",
    username: str | None = "cgalo",
    name: str | None = "Carlos",
    email: str | None = "carlos.galo@example.com",
    roles: Sequence[str] = (),
    issuer: str = ISSUER,
) -> Claims:
    return Claims(iss=issuer, sub=sub, email=email, name=name, preferred_username=username, roles=list(roles))


@asynccontextmanager
async def open_db(target: DatabaseTarget | Path) -> AsyncIterator[Database]:
    """One opened database (two calls on one target are two sidecars' connections to it)."""
    db = open_target(target) if isinstance(target, DatabaseTarget) else SqliteDatabase(target)
    await db.open()
    try:
        yield db
    finally:
        await db.close()


async def make_service(db: Database, settings: dict[str, Any] | None = None, **kwargs: Any) -> GovernanceService:
    """A service on `db` with its catalog loaded from `settings` (the built-in catalog when empty)."""
    service = GovernanceService(db, clock=kwargs.pop("clock", Clock()), **kwargs)
    await service.load_catalog(settings or DEFAULT_CATALOG)
    return service


async def table_names(db: Database) -> list[str]:
    """Every table, in the SQLite spelling the stores use (`billing_products` for PostgreSQL's billing.products)."""
    if db.engine is Engine.SQLITE:
        found = await db.reader.fetch_all(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
        return [row["name"] for row in found]
    found = await db.reader.fetch_all(
        "SELECT CASE WHEN table_schema = 'billing' THEN 'billing_' || table_name ELSE table_name END AS name"
        " FROM information_schema.tables WHERE table_schema IN ('public', 'billing') AND table_type = 'BASE TABLE'"
        " ORDER BY name"
    )
    return [row["name"] for row in found]


def _plain(value: Any) -> Any:
    """One engine-free form of a column value: instants as fixed-width UTC text, booleans as 0/1."""
    if isinstance(value, datetime):
        return to_db(value)
    if isinstance(value, bool):
        return int(value)
    return value


async def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted: equal snapshots mean the database did not change."""
    found = {}
    for name in await table_names(db):
        found[name] = sorted((tuple(_plain(v) for v in row.values()) for row in await rows(db, name)), key=repr)
    return found


async def rows(db: Database, table: str, where: str = "1 = 1", args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    result = await db.reader.fetch_all(f"SELECT * FROM {table} WHERE {where}", args)
    return [{key: _plain(value) for key, value in dict(row).items()} for row in result]


async def count(db: Database, table: str) -> int:
    return len(await rows(db, table))


async def catalog_ids(db: Database) -> dict[str, str]:
    """Catalog keys to row ids: products, their entitlement sets (`set:<key>`) and ladders (`ladder:<key>`)."""
    ids = {r["key"]: r["id"] for r in await rows(db, "billing_products")}
    ids |= {f"set:{r['key']}": r["id"] for r in await rows(db, "entitlement_sets")}
    ids |= {f"ladder:{r['key']}": r["id"] for r in await rows(db, "billing_plan_ladders")}
    return ids


async def move_to_rank(db: Database, pool_id: str, rank: int, now: datetime = NOW + timedelta(minutes=30)) -> None:
    """Stand a pool at `rank` of its ladder with a purchased grant, as an upgrade would (no upgrade API yet).

    Setup, not an oracle: it grants through the library so it writes what a real grant writes; no transition is
    recorded, so the tests' transition histories hold only what reapply wrote.
    """
    async with db.transaction() as conn:
        pool = await store.lock_pool(conn, pool_id)
        position = await store.ladder_position(conn, pool_id)
        assert pool is not None and position is not None
        await store.end_active_provision(conn, pool_id, now)
        await grant_tier(
            conn,
            pool,
            LadderRef(position.ladder_id, position.ladder_key),
            rank,
            grant_reason="purchase",
            billing_account_id=None,
            transition=None,
            from_rank=None,
            actor=SYSTEM,
            reason="test setup",
            now=now,
        )
