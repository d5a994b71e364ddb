"""Progressive disclosure, operator-only access and the effective capacity (issue 4, sections 4 to 6), at the
service level with the real pool service, on both engines."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from sidecar.errors import AccessDenied, CapacityReached, NotAuthenticated
from sidecar.governance import store
from sidecar.governance.ladders import new_id
from sidecar.governance.models import FullHome, SoloHome, TransitionType
from sidecar.governance.service import GovernanceChangeReason, GovernanceService
from sidecar.pool.service import PoolLimits, PoolService
from sidecar.storage.database import Database
from sidecar.storage.url import DatabaseTarget
from tests.support.governance import (
    NO_DEFAULT_LADDER,
    NOW,
    Clock,
    claims,
    make_service,
    move_to_rank,
    open_db,
    rows,
)

pytestmark = pytest.mark.anyio


def world_now() -> datetime:
    return NOW + timedelta(hours=1)  # after the rows first sign-in made at NOW


PUBLIC = {"scratchOrgs.maxActive": 4, "scratchOrgs.maxDurationDays": 7}


class NarrowedLimits:
    """The pool's limits source as app.py builds it: the settings' limits, narrowed by governance."""

    def __init__(self, world: World) -> None:
        self._world = world

    def current(self) -> PoolLimits:
        return self._world.governance.narrow(self._world.settings_limits)


@dataclass
class World:
    db: Database
    governance: GovernanceService
    pool: PoolService
    clock: Clock
    settings_limits: PoolLimits
    changes: list[GovernanceChangeReason]


async def build(db: Database, settings: dict[str, Any] | None = None, max_orgs: int = 10, days: int = 20) -> World:
    """Wired as app.py wires it: the pool asks for limits, governance narrows the settings' limits."""
    clock = Clock()
    settings_limits = PoolLimits(max_orgs=max_orgs, default_duration_days=days)
    world = World(db, None, None, clock, settings_limits, [])  # type: ignore[arg-type]
    world.pool = PoolService(db, NarrowedLimits(world), clock=clock)
    world.governance = await make_service(db, settings, clock=clock, pool=world.pool)

    async def record(reason: GovernanceChangeReason) -> None:
        world.changes.append(reason)

    world.governance.subscribe(record)
    return world


@pytest.fixture
async def world(database_target: DatabaseTarget) -> AsyncIterator[World]:
    async with open_db(database_target) as db:
        yield await build(db)


async def test_home_needs_a_session(world: World) -> None:
    with pytest.raises(NotAuthenticated):
        await world.governance.home()


async def test_a_person_alone_sees_the_solo_view_with_their_pool(world: World) -> None:
    session = await world.governance.sign_in(claims())
    await world.pool.register("qa1")
    home = await world.governance.home()
    assert isinstance(home, SoloHome)
    dumped = home.dump()
    assert dumped["view"] == "solo"
    assert "organizations" not in dumped  # no organization or workspace selector
    assert (home.organization_id, home.workspace_id) == (session.organization_id, session.workspace_id)
    assert (home.person.name, home.person.email) == ("Carlos", "carlos.galo@example.com")
    assert home.pool.entitlements == PUBLIC
    assert (home.pool.pool_type, home.pool.is_auto_managed, home.pool.workspace_ids) == (
        "default",
        True,
        [session.workspace_id],
    )
    assert home.pool.ladder is not None and (home.pool.ladder.ladder, home.pool.ladder.rank) == ("core", 0)
    assert home.pool.ladder.product == "public-tier"
    assert [o.alias for o in home.scratch_orgs] == ["qa1"]
    assert home.status.max_orgs == 4


async def add_workspace(db: Database, organization_id: str, name: str) -> None:
    async with db.transaction() as conn:
        await store.insert_workspace(
            conn, {"id": new_id("wks"), "organization_id": organization_id, "name": name, "created_at": world_now()}
        )


async def test_a_second_workspace_turns_home_into_the_full_view(world: World) -> None:
    session = await world.governance.sign_in(claims())
    await add_workspace(world.db, session.organization_id, "staging")
    home = await world.governance.home()
    assert isinstance(home, FullHome)
    (org,) = home.organizations
    assert (org.id, org.slug, org.role) == (session.organization_id, "cgalo", "owner")
    assert [w.name for w in org.workspaces] == ["default", "staging"]
    assert home.pool.entitlements == PUBLIC


async def test_a_second_organization_turns_home_into_the_full_view(world: World) -> None:
    other = await world.governance.sign_in(claims(sub="ana", username="ana", name="Ana"))
    me = await world.governance.sign_in(claims())
    async with world.db.transaction() as conn:
        await store.insert_member(
            conn,
            {
                "id": new_id("mbr"),
                "organization_id": other.organization_id,
                "person_id": me.person_id,
                "role": "member",
                "created_at": world_now(),
            },
        )
    home = await world.governance.home()
    assert isinstance(home, FullHome)
    assert sorted((o.name, o.role) for o in home.organizations) == [
        ("Ana's Organization", "member"),
        ("Carlos's Organization", "owner"),
    ]
    assert home.organization_id == me.organization_id  # the session's own organization stays selected

    # Ana is no longer alone in hers either.
    await world.governance.sign_in(claims(sub="ana", username="ana", name="Ana"))
    assert isinstance(await world.governance.home(), FullHome)


# (name, roles or None for signed out, expected error)
ACCESS = [
    ("signed out", None, NotAuthenticated),
    ("no roles", [], AccessDenied),
    ("other roles", ["developer", "admin"], AccessDenied),
    ("role names are exact", ["Operator"], AccessDenied),
    ("operator", ["operator"], None),
]


@pytest.mark.parametrize("name, roles, error", ACCESS, ids=[a[0] for a in ACCESS])
async def test_overview_and_reapply_are_for_operators_only(
    world: World, name: str, roles: list[str] | None, error: type[Exception] | None
) -> None:
    await world.governance.sign_in(claims(sub="someone", username="someone"))
    (pool,) = await rows(world.db, "resource_pools")
    await world.governance.sign_out()
    if roles is not None:
        await world.governance.sign_in(claims(roles=roles))
    if error is None:
        overview = await world.governance.overview()
        assert len(overview.organizations) == 2
        outcome = await world.governance.reapply_defaults(pool["id"])
        assert outcome.changed is False
        return
    with pytest.raises(error):
        await world.governance.overview()
    with pytest.raises(error):
        await world.governance.reapply_defaults(pool["id"])


async def test_overview_lists_every_organization_with_members_roles_workspaces_and_pools(world: World) -> None:
    ana = await world.governance.sign_in(claims(sub="ana", username="ana", name="Ana"))
    me = await world.governance.sign_in(claims(roles=["operator"]))
    overview = await world.governance.overview()
    by_slug = {o.slug: o for o in overview.organizations}
    assert set(by_slug) == {"ana", "cgalo"}
    assert [(m.person_id, m.name, m.role) for m in by_slug["ana"].members] == [(ana.person_id, "Ana", "owner")]
    assert [m.person_id for m in by_slug["cgalo"].members] == [me.person_id]
    assert (by_slug["cgalo"].role, by_slug["ana"].role) == ("owner", None)
    assert [w.name for w in by_slug["ana"].workspaces] == ["default"]
    (pool,) = by_slug["ana"].pools
    assert by_slug["ana"].workspaces[0].pool_ids == [pool.id]
    assert pool.entitlements == PUBLIC and pool.ladder is not None and pool.ladder.rank == 0
    assert overview.catalog_errors == []


async def test_an_operator_reapply_records_the_operator_and_refreshes_the_limits(world: World) -> None:
    me = await world.governance.sign_in(claims(roles=["operator"]))
    (pool,) = await rows(world.db, "resource_pools")
    await move_to_rank(world.db, pool["id"], 1)
    await world.governance.load_catalog({})  # refreshes the cached entitlements: now the team tier's
    assert world.pool.limits.max_orgs == 10
    outcome = await world.governance.reapply_defaults(pool["id"])
    assert outcome.transition is TransitionType.DOWNGRADE
    (downgrade,) = await rows(world.db, "pool_provision_transitions", "transition_type = 'downgrade'")
    assert (downgrade["actor_type"], downgrade["actor_person_id"]) == ("person", me.person_id)
    assert world.pool.limits.max_orgs == 4
    assert world.changes[-1] is GovernanceChangeReason.DEFAULTS_REAPPLIED


# (settings maxOrgs, the session pool's plan, expected effective maxOrgs)
CAPACITY = [
    ("entitlement is smaller", 10, "public", 4),
    ("settings are smaller", 3, "public", 3),
    ("equal", 4, "public", 4),
    ("higher tier", 12, "team", 10),
    ("no plan: settings alone", 6, "none", 6),
]


@pytest.mark.parametrize("name, max_orgs, plan, expected", CAPACITY, ids=[c[0] for c in CAPACITY])
async def test_effective_capacity_is_the_smaller_of_settings_and_entitlement_while_signed_in(
    database_target: DatabaseTarget, name: str, max_orgs: int, plan: str, expected: int
) -> None:
    async with open_db(database_target) as db:
        world = await build(db, NO_DEFAULT_LADDER if plan == "none" else None, max_orgs=max_orgs)
        assert (await world.pool.status()).max_orgs == max_orgs
        await world.governance.sign_in(claims())
        if plan == "team":
            (pool,) = await rows(db, "resource_pools")
            await move_to_rank(db, pool["id"], 1)
            await world.governance.load_catalog({})
        assert (await world.pool.status()).max_orgs == expected
        await world.governance.sign_out()
        assert (await world.pool.status()).max_orgs == max_orgs


async def test_the_entitlement_caps_registration_and_duration(world: World) -> None:
    await world.governance.sign_in(claims())
    orgs = [await world.pool.register(f"qa{i}") for i in range(4)]
    # defaultDurationDays is 20 in the settings; the public tier allows 7.
    assert {o.expires_at for o in orgs} == {world.clock.now + timedelta(days=7)}
    with pytest.raises(CapacityReached):
        await world.pool.register("qa4")
    await world.governance.sign_out()
    fifth = await world.pool.register("qa4")
    assert fifth.expires_at == world.clock.now + timedelta(days=20)


async def test_listeners_hear_sign_in_sign_out_and_catalog_changes(world: World) -> None:
    await world.governance.sign_in(claims())
    await world.governance.load_catalog({})
    await world.governance.sign_out()
    await world.governance.sign_out()  # already signed out: nothing to announce
    assert world.changes == [
        GovernanceChangeReason.SIGNED_IN,
        GovernanceChangeReason.CATALOG_SYNCED,
        GovernanceChangeReason.SIGNED_OUT,
    ]
