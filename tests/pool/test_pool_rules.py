"""The pool's rules as tables: (name, orgs before, call, expected error, orgs after), on a real SQLite file with a
fixed clock, so expiry needs no sleeping, on both engines (a real SQLite file and a real PostgreSQL database). The
last tests bypass the service to show the database itself refuses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sidecar.errors import ErrorCode, SidecarError
from sidecar.pool.service import PoolChange, PoolLimits, PoolService
from sidecar.storage.database import Database
from sidecar.storage.errors import is_integrity_error
from tests.support.postgres import database, database_target, postgres_server, postgres_url  # noqa: F401

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Pool:
    service: PoolService
    clock: Clock
    db: Database
    changes: list[PoolChange]

    async def seed(self, alias: str, hours: float = 72, agent: str | None = None) -> str:
        org = await self.service.register(alias, expires_at=self.clock.now + timedelta(hours=hours))
        if agent:
            assert (await self.service.claim(agent)).id == org.id  # type: ignore[union-attr]
        return org.id

    async def snapshot(self) -> dict[str, tuple[str, str | None]]:
        return {o.alias: (o.status.value, o.assigned_agent_id) for o in await self.service.list_orgs()}


@pytest.fixture
async def pool(database: Database) -> AsyncIterator[Pool]:
    db = database
    clock = Clock()
    service = PoolService(db, PoolLimits(max_orgs=3, default_duration_days=7, min_remaining_hours=4), clock=clock)
    changes: list[PoolChange] = []

    async def record(change: PoolChange) -> None:
        changes.append(change)

    service.subscribe(record)
    yield Pool(service, clock, db, changes)


Seed = list[tuple[str, float, str | None]]  # (alias, hours to expiry, leased to)
Call = Callable[[Pool, dict[str, str]], Awaitable[Any]]

CASES: list[tuple[str, Seed, Call, ErrorCode | None, dict[str, tuple[str, str | None]]]] = [
    (
        "claim takes the org expiring first",
        [("late", 72, None), ("soon", 10, None)],
        lambda p, ids: p.service.claim("a1"),
        None,
        {"late": ("available", None), "soon": ("leased", "a1")},
    ),
    (
        "claim skips an org inside minRemainingHours",
        [("short", 3, None), ("long", 50, None)],
        lambda p, ids: p.service.claim("a1"),
        None,
        {"short": ("available", None), "long": ("leased", "a1")},
    ),
    (
        "claim by a holder returns its org and takes no second",
        [("mine", 50, "a1"), ("other", 60, None)],
        lambda p, ids: p.service.claim("a1"),
        None,
        {"mine": ("leased", "a1"), "other": ("available", None)},
    ),
    (
        "release by another agent is denied",
        [("x", 50, "a1")],
        lambda p, ids: p.service.release(ids["x"], "a2"),
        ErrorCode.ACCESS_DENIED,
        {"x": ("leased", "a1")},
    ),
    (
        "release by the owner frees the org",
        [("x", 50, "a1")],
        lambda p, ids: p.service.release(ids["x"], "a1"),
        None,
        {"x": ("available", None)},
    ),
    (
        "release of an unknown org",
        [],
        lambda p, ids: p.service.release("org_nope"),
        ErrorCode.NOT_FOUND,
        {},
    ),
    (
        "remove a leased org without force",
        [("x", 50, "a1")],
        lambda p, ids: p.service.remove(ids["x"]),
        ErrorCode.ORG_LEASED,
        {"x": ("leased", "a1")},
    ),
    (
        "remove a leased org with force",
        [("x", 50, "a1")],
        lambda p, ids: p.service.remove(ids["x"], force=True),
        None,
        {},
    ),
    (
        "register past capacity",
        [("a", 50, None), ("b", 40, "a1"), ("c", 50, None)],
        lambda p, ids: p.service.register("d"),
        ErrorCode.CAPACITY_REACHED,
        {"a": ("available", None), "b": ("leased", "a1"), "c": ("available", None)},
    ),
    (
        "register a duplicate alias",
        [("a", 50, None)],
        lambda p, ids: p.service.register("a"),
        ErrorCode.ALREADY_EXISTS,
        {"a": ("available", None)},
    ),
    (
        "register with expiresAt in the past",
        [],
        lambda p, ids: p.service.register("a", expires_at=NOW - timedelta(minutes=1)),
        ErrorCode.INVALID_PARAMS,
        {},
    ),
    (
        "checkAccess before any claim",
        [("x", 50, None)],
        lambda p, ids: p.service.check_access("a1", "x"),
        ErrorCode.ACCESS_DENIED,
        {"x": ("available", None)},
    ),
    (
        "checkAccess to another agent's org",
        [("x", 50, "a1"), ("y", 50, "a2")],
        lambda p, ids: p.service.check_access("a1", "y"),
        ErrorCode.ACCESS_DENIED,
        {"x": ("leased", "a1"), "y": ("leased", "a2")},
    ),
    (
        "checkAccess to its own org by pool id",
        [("x", 50, "a1")],
        lambda p, ids: p.service.check_access("a1", ids["x"]),
        None,
        {"x": ("leased", "a1")},
    ),
    (
        "agent release gives the org back",
        [("x", 50, "a1")],
        lambda p, ids: p.service.release_agent("a1"),
        None,
        {"x": ("available", None)},
    ),
]


@pytest.mark.parametrize("name, seed, call, error, after", CASES, ids=[c[0] for c in CASES])
async def test_rule(pool: Pool, name: str, seed: Seed, call: Call, error: ErrorCode | None, after: dict) -> None:
    ids = {alias: await pool.seed(alias, hours, agent) for alias, hours, agent in seed}
    if error is None:
        await call(pool, ids)
    else:
        with pytest.raises(SidecarError) as caught:
            await call(pool, ids)
        assert caught.value.code is error
    assert await pool.snapshot() == after


@pytest.mark.parametrize("alias", ["-o prod", "a;rm -rf ~", "../x", "", "a b", "$(id)", "x" * 81, ".hidden", "a\nb"])
async def test_hostile_aliases_are_refused(pool: Pool, alias: str) -> None:
    with pytest.raises(SidecarError) as caught:
        await pool.service.register(alias)
    assert caught.value.code is ErrorCode.INVALID_PARAMS
    assert await pool.snapshot() == {}


async def test_default_expiry_is_default_duration_days(pool: Pool) -> None:
    org = await pool.service.register("x")
    assert org.expires_at == NOW + timedelta(days=7)


async def test_claim_never_returns_an_expired_org_even_before_refresh(pool: Pool) -> None:
    await pool.seed("x", hours=10)
    pool.clock.now = NOW + timedelta(hours=11)
    assert await pool.service.claim("a1") is None
    assert await pool.snapshot() == {"x": ("expired", None)}


async def test_expiry_ends_a_lease_and_says_whose(pool: Pool) -> None:
    await pool.seed("x", hours=10, agent="a1")
    pool.clock.now = NOW + timedelta(hours=10)
    expired = await pool.service.expire_due()
    assert [o.alias for o in expired] == ["x"]
    assert await pool.snapshot() == {"x": ("expired", None)}
    assert (pool.changes[-1].reason.value, pool.changes[-1].agent_id) == ("expired", "a1")
    with pytest.raises(SidecarError) as caught:
        await pool.service.check_access("a1", "x")
    assert caught.value.code is ErrorCode.ACCESS_DENIED


async def test_expired_orgs_do_not_count_against_capacity(pool: Pool) -> None:
    for alias in ("a", "b", "c"):
        await pool.seed(alias, hours=5)
    pool.clock.now = NOW + timedelta(hours=6)
    await pool.service.expire_due()
    await pool.service.register("d")
    status = await pool.service.status()
    assert (status.total, status.available, status.expired, status.max_orgs) == (4, 1, 3, 3)


async def test_status_counts_an_org_past_expiry_as_expired_before_refresh(pool: Pool) -> None:
    await pool.seed("x", hours=1)
    pool.clock.now = NOW + timedelta(hours=2)
    status = await pool.service.status()
    assert (status.available, status.expired, status.indicator.level) == (0, 1, "red")


@pytest.mark.parametrize(
    "available, max_orgs, label, level",
    [
        (0, 4, "Orgs: 0/4 available", "red"),
        (1, 4, "Orgs: 1/4 available", "yellow"),
        (2, 4, "Orgs: 2/4 available", "green"),
        (2, 8, "Orgs: 2/8 available", "yellow"),
        (3, 8, "Orgs: 3/8 available", "green"),
        (1, 1, "Orgs: 1/1 available", "yellow"),
    ],
)
def test_indicator(available: int, max_orgs: int, label: str, level: str) -> None:
    from sidecar.pool.models import PoolStatus

    indicator = PoolStatus.build(available, available, 0, 0, max_orgs).indicator
    assert (indicator.label, indicator.level) == (label, level)


async def test_changes_are_announced_only_after_commit(pool: Pool) -> None:
    await pool.seed("a")
    with pytest.raises(SidecarError):
        await pool.service.register("a")
    assert [c.reason.value for c in pool.changes] == ["registered"]


@pytest.mark.parametrize(
    "sql",
    [
        # a second org for an agent that already holds one
        "UPDATE scratch_orgs SET status='leased', assigned_agent_id='a1', leased_at=created_at WHERE alias='b'",
        # ... also when the lease names the same holder instance (the one-org-per-agent index)
        "UPDATE scratch_orgs SET status='leased', assigned_agent_id='a1', holder_instance='local',"
        " leased_at=created_at WHERE alias='b'",
        # a holder on an org that is not leased
        "UPDATE scratch_orgs SET holder_instance='inst_x' WHERE alias='b'",
        # a lease without an owner
        "UPDATE scratch_orgs SET status='leased', leased_at=created_at WHERE alias='b'",
        # an owner on an org that is not leased
        "UPDATE scratch_orgs SET assigned_agent_id='a9' WHERE alias='b'",
        "UPDATE scratch_orgs SET status='borrowed' WHERE alias='b'",
    ],
)
async def test_database_refuses_what_the_rules_forbid_even_without_the_service(pool: Pool, sql: str) -> None:
    await pool.seed("a", agent="a1")
    await pool.seed("b")
    with pytest.raises(Exception) as refused:
        async with pool.db.transaction() as conn:
            await conn.execute(sql)
    assert is_integrity_error(refused.value), refused.value
    assert await pool.snapshot() == {"a": ("leased", "a1"), "b": ("available", None)}
