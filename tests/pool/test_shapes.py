"""Shapes and expiry in the pool, on both engines (a real SQLite file and a real PostgreSQL database), with a fixed
clock: an org of shape A never goes to a request for shape B and does go to the next request for A; unknown shapes
follow reuseUnknownShapes; the claim's filter holds in SQL even when the service is bypassed; orgs near expiry are
not counted available; each expiry warning is sent exactly once, across a restart too."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pytest

from sidecar.errors import ErrorCode, SidecarError
from sidecar.pool import store
from sidecar.pool.holder import LeaseHolder
from sidecar.pool.models import Hydration, OrgStatus
from sidecar.pool.service import ExpiryWarning, PoolChange, PoolLimits, PoolService, WarningKind
from sidecar.pool.shapes import Shape, shape_hash, shape_of_file
from sidecar.storage.database import Database
from tests.pool.test_pool_rules import NOW, Clock
from tests.support.postgres import database, database_target, postgres_server, postgres_url  # noqa: F401

pytestmark = pytest.mark.anyio

A = Shape(shape_hash({"edition": "Developer"}, None), "a-def.json")
B = Shape(shape_hash({"edition": "Enterprise", "features": ["PersonAccounts"]}, None), "b-def.json")


class MutableLimits:
    def __init__(self, limits: PoolLimits) -> None:
        self.value = limits

    def current(self) -> PoolLimits:
        return self.value


@dataclass
class Pool:
    service: PoolService
    clock: Clock
    limits: MutableLimits
    db: Database
    changes: list[PoolChange]
    warnings: list[ExpiryWarning]

    async def seed(self, alias: str, shape: Shape | None, hours: float = 72) -> str:
        org = await self.service.register(alias, expires_at=self.clock.now + timedelta(hours=hours), shape=shape)
        return org.id


def make_service(db: Database, clock: Clock, limits: MutableLimits, warnings: list[ExpiryWarning]) -> PoolService:
    service = PoolService(db, limits, clock=clock)

    async def heard(warning: ExpiryWarning) -> None:
        warnings.append(warning)

    service.subscribe_warnings(heard)
    return service


@pytest.fixture
async def pool(database: Database) -> AsyncIterator[Pool]:
    clock = Clock()
    limits = MutableLimits(PoolLimits(max_orgs=6, min_remaining_hours=4))
    warnings: list[ExpiryWarning] = []
    service = make_service(database, clock, limits, warnings)
    changes: list[PoolChange] = []

    async def record(change: PoolChange) -> None:
        changes.append(change)

    service.subscribe(record)
    yield Pool(service, clock, limits, database, changes, warnings)


def test_shape_ignores_key_order_and_whitespace_but_not_content_or_hub(tmp_path: Path) -> None:
    one = tmp_path / "one.json"
    two = tmp_path / "two.json"
    one.write_text(json.dumps({"edition": "Developer", "settings": {"a": 1, "b": [1, 2]}}), encoding="utf-8")
    two.write_text('{\n  "settings": {"b": [1,2],   "a": 1},\n  "edition": "Developer"\n}\n', encoding="utf-8")
    assert shape_of_file(one, None) == Shape(shape_of_file(two, None).hash, "one.json")
    assert shape_of_file(one, "hub-a").hash != shape_of_file(one, "hub-b").hash
    two.write_text(json.dumps({"edition": "Developer", "settings": {"a": 1, "b": [2, 1]}}), encoding="utf-8")
    assert shape_of_file(one, None).hash != shape_of_file(two, None).hash


async def test_shape_a_never_goes_to_shape_b_and_goes_to_the_next_shape_a(pool: Pool) -> None:
    a_org = await pool.seed("qa-a", A, hours=30)  # expires first: a shapeless claim would take it
    assert await pool.service.claim("agent-b", B.hash) is None
    assert (await pool.service.get(a_org)).status is OrgStatus.AVAILABLE
    got = await pool.service.claim("agent-a", A.hash)
    assert got is not None and got.id == a_org and got.shape == A.hash and got.definition_name == "a-def.json"


async def test_a_matching_org_is_preferred_to_an_unknown_one(pool: Pool) -> None:
    await pool.seed("unknown", None, hours=10)  # expires first
    mine = await pool.seed("qa-a", A, hours=60)
    got = await pool.service.claim("agent-a", A.hash)
    assert got is not None and got.id == mine


@pytest.mark.parametrize("reuse", [True, False])
async def test_unknown_shapes_follow_the_setting(pool: Pool, reuse: bool) -> None:
    pool.limits.value = replace(pool.limits.value, reuse_unknown_shapes=reuse)
    unknown = await pool.seed("handmade", None)
    got = await pool.service.claim("agent-a", A.hash)
    assert (got.id if got else None) == (unknown if reuse else None)


async def test_an_agent_whose_definition_changed_gives_its_org_back_for_the_old_shape(pool: Pool) -> None:
    old = await pool.seed("qa-a", A)
    new = await pool.seed("qa-b", B)
    assert (await pool.service.claim("agent-1", A.hash)).id == old  # type: ignore[union-attr]
    assert (await pool.service.claim("agent-1", B.hash)).id == new  # type: ignore[union-attr]
    assert (await pool.service.get(old)).status is OrgStatus.AVAILABLE
    assert (await pool.service.claim("agent-2", A.hash)).id == old  # type: ignore[union-attr]
    assert [c.reason.value for c in pool.changes[-3:]] == ["released", "claimed", "claimed"]


async def test_a_claim_without_shape_takes_any_org_as_before(pool: Pool) -> None:
    org = await pool.seed("qa-b", B)
    assert (await pool.service.claim("agent-1")).id == org  # type: ignore[union-attr]


async def test_the_shape_filter_is_in_the_claims_sql(pool: Pool) -> None:
    """Bypassing the service: the store's own statement refuses an org of another shape."""
    await pool.seed("qa-a", A)
    async with pool.db.transaction() as conn:
        assert await store.lease_next(conn, "agent-b", "inst-1", "m1", NOW, NOW, B.hash, allow_unknown=True) is None
        taken = await store.lease_next(conn, "agent-a", "inst-1", "m1", NOW, NOW, A.hash, allow_unknown=False)
    assert taken is not None and taken.assigned_agent_id == "agent-a" and taken.machine_name == "m1"
    async with pool.db.transaction() as conn:
        assert await store.lease_of(conn, "agent-a", "inst-1") is not None  # held by that instance
        assert await store.lease_of(conn, "agent-a", "inst-2") is None


async def test_a_hydrating_org_of_the_wanted_shape_is_not_claimed(pool: Pool) -> None:
    """The shape filter and the hydration filter hold together in the claim's statement."""
    org = await pool.service.register(
        "warm-a", expires_at=NOW + timedelta(days=5), shape=A, hydration=Hydration.HYDRATING
    )
    assert await pool.service.claim("agent-1", A.hash) is None
    await pool.service.set_hydration(org.id, Hydration.READY)
    claimed = await pool.service.claim("agent-1", A.hash)
    assert claimed is not None and claimed.id == org.id and claimed.shape == A.hash


async def test_a_malformed_shape_is_refused(pool: Pool) -> None:
    with pytest.raises(SidecarError) as caught:
        await pool.service.claim("agent-1", "not a shape")
    assert caught.value.code is ErrorCode.INVALID_PARAMS and caught.value.data["param"] == "shape"


async def test_orgs_near_expiry_are_not_counted_available(pool: Pool) -> None:
    await pool.seed("short-a", A, hours=3)  # inside minRemainingHours (4)
    await pool.seed("long-a", A, hours=50)
    await pool.seed("long-b", B, hours=50)
    await pool.seed("unknown", None, hours=2)
    status = await pool.service.status()
    assert (status.total, status.available, status.expiring_soon, status.leased) == (4, 2, 2, 0)
    assert status.indicator.label == "Orgs: 2/6 available"
    per = {c.shape: (c.total, c.available, c.expiring_soon) for c in status.by_shape}
    assert per == {A.hash: (2, 1, 1), B.hash: (1, 1, 0), None: (1, 0, 1)}
    assert {c.shape: c.definition_name for c in status.by_shape}[A.hash] == "a-def.json"
    assert await pool.service.claim("agent-1", A.hash) is not None
    assert await pool.service.claim("agent-2", A.hash) is None  # the short one is not claimable


async def test_each_expiry_warning_is_sent_exactly_once_even_after_a_restart(pool: Pool) -> None:
    org = await pool.seed("qa-a", A, hours=72)
    assert (await pool.service.claim("agent-1", A.hash)).id == org  # type: ignore[union-attr]
    assert await pool.service.warn_expiring() == []
    pool.clock.now = NOW + timedelta(hours=72 - 24)  # exactly expiryWarningHours left
    first = await pool.service.warn_expiring()
    assert [(w.org.id, w.agent_id, w.kind) for w in first] == [(org, "agent-1", WarningKind.EARLY)]
    assert first[0].expires_at == NOW + timedelta(hours=72)
    pool.clock.now += timedelta(hours=10)
    assert await pool.service.warn_expiring() == []
    # A restart: a new service on the same database remembers what was sent.
    again: list[ExpiryWarning] = []
    restarted = make_service(pool.db, pool.clock, pool.limits, again)
    assert await restarted.warn_expiring() == []
    pool.clock.now = NOW + timedelta(hours=71, minutes=30)
    final = await restarted.warn_expiring()
    assert [(w.org.id, w.kind) for w in final] == [(org, WarningKind.FINAL)]
    pool.clock.now += timedelta(minutes=20)
    assert await restarted.warn_expiring() == [] and await pool.service.warn_expiring() == []
    assert [w.kind for w in pool.warnings + again] == [WarningKind.EARLY, WarningKind.FINAL]


async def test_an_org_leased_inside_the_last_hour_gets_only_the_final_warning(pool: Pool) -> None:
    org = await pool.seed("qa-a", None, hours=72)
    await pool.service.claim("agent-1")
    pool.clock.now = NOW + timedelta(hours=71, minutes=45)
    assert [w.kind for w in await pool.service.warn_expiring()] == [WarningKind.FINAL]
    assert await pool.service.warn_expiring() == []
    assert (await pool.service.get(org)).status is OrgStatus.LEASED


async def test_unleased_orgs_get_no_warning(pool: Pool) -> None:
    await pool.seed("qa-a", A, hours=20)
    assert await pool.service.warn_expiring() == []


async def test_expiry_warnings_go_only_to_the_instance_holding_the_lease(pool: Pool) -> None:
    """In a shared pool each sidecar warns its own agents: another instance's agent is not its to tell."""
    here = PoolService(pool.db, pool.limits, clock=pool.clock, holder=LeaseHolder("inst-here"))
    there_warnings: list[ExpiryWarning] = []
    there = PoolService(pool.db, pool.limits, clock=pool.clock, holder=LeaseHolder("inst-there"))

    async def heard(warning: ExpiryWarning) -> None:
        there_warnings.append(warning)

    there.subscribe_warnings(heard)
    org = await pool.seed("qa-a", A, hours=72)
    assert (await here.claim("agent-1", A.hash)).id == org  # type: ignore[union-attr]
    pool.clock.now = NOW + timedelta(hours=72 - 24)
    assert await there.warn_expiring() == [] and there_warnings == []
    assert [w.kind for w in await here.warn_expiring()] == [WarningKind.EARLY]
