"""The PostgreSQL engine under real concurrency: several sidecars migrating one empty database at once, and the
pool's rules where READ COMMITTED would let two writers both act on one read (capacity, claims)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
import pytest

from sidecar.errors import SidecarError
from sidecar.pool.service import PoolLimits, PoolService
from sidecar.storage.database import PostgresDatabase, postgres_migrations
from sidecar.storage.url import parse_database_url
from tests.support.postgres import postgres_server, postgres_url  # noqa: F401

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


async def test_five_sidecars_migrate_one_empty_database_at_once(postgres_url: str) -> None:
    dbs = [PostgresDatabase(parse_database_url(postgres_url), max_size=2) for _ in range(5)]
    applied: list[list[int]] = []

    async def start(db: PostgresDatabase) -> None:
        await db.open()

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            for db in dbs:
                tg.start_soon(start, db)
        try:
            for db in dbs:
                assert await db.schema_version() == postgres_migrations()[-1][0]
            rows = await dbs[0].reader.fetch_all("SELECT version FROM schema_migrations ORDER BY version")
            applied.append([r["version"] for r in rows])
            tables = await dbs[0].reader.fetch_all(
                "SELECT table_schema || '.' || table_name AS name FROM information_schema.tables"
                " WHERE table_schema = 'billing' ORDER BY 1"
            )
        finally:
            for db in dbs:
                await db.close()
    assert applied == [[v for v, _, _ in postgres_migrations()]]
    assert [t["name"] for t in tables] == [
        "billing.accounts",
        "billing.plan_ladder_tiers",
        "billing.plan_ladders",
        "billing.products",
    ]


def _service(db: PostgresDatabase, max_orgs: int) -> PoolService:
    return PoolService(db, PoolLimits(max_orgs=max_orgs, default_duration_days=7), clock=lambda: NOW)


async def test_three_sidecars_racing_to_register_never_pass_capacity(postgres_url: str) -> None:
    """Each sidecar has its own pool of connections; 30 registrations race for 4 places."""
    dbs = [PostgresDatabase(parse_database_url(postgres_url), max_size=5) for _ in range(3)]
    outcomes: list[str] = []
    with anyio.fail_after(60):
        for db in dbs:
            await db.open()
        try:
            services = [_service(db, 4) for db in dbs]

            async def register(i: int) -> None:
                try:
                    await services[i % 3].register(f"org-{i}", expires_at=NOW + timedelta(days=2))
                    outcomes.append("ok")
                except SidecarError as exc:
                    outcomes.append(exc.code.name)

            async with anyio.create_task_group() as tg:
                for i in range(30):
                    tg.start_soon(register, i)
            held = await services[0].status()
        finally:
            for db in dbs:
                await db.close()
    assert outcomes.count("ok") == 4 and held.total == 4
    assert set(outcomes) == {"ok", "CAPACITY_REACHED"}


async def test_hundred_claims_from_three_sidecars_for_four_orgs_give_four_winners(postgres_url: str) -> None:
    dbs = [PostgresDatabase(parse_database_url(postgres_url), max_size=5) for _ in range(3)]
    won: dict[str, str] = {}
    with anyio.fail_after(60):
        for db in dbs:
            await db.open()
        try:
            services = [_service(db, 10) for db in dbs]
            for i in range(4):
                await services[0].register(f"org-{i}", expires_at=NOW + timedelta(days=2 + i))

            async def claim(i: int) -> None:
                org = await services[i % 3].claim(f"agent-{i}")
                if org is not None:
                    assert org.id not in won, "one org leased twice"
                    won[org.id] = f"agent-{i}"

            async with anyio.create_task_group() as tg:
                for i in range(100):
                    tg.start_soon(claim, i)
            leased = [o for o in await services[1].list_orgs() if o.assigned_agent_id]
        finally:
            for db in dbs:
                await db.close()
    assert len(won) == 4
    assert {o.id: o.assigned_agent_id for o in leased} == won
