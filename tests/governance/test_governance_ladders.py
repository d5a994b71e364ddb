"""`ReapplyDefaultsForPool` (issue 4, section 5) inside the caller's transaction: initiate, downgrade, end, the
idempotent no-op, the caller's rollback, and the pool lock taken before any grant."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import anyio
import pytest

from sidecar.errors import NotFound
from sidecar.governance import ladders, store
from sidecar.governance.ladders import reapply_defaults_for_pool
from sidecar.governance.models import ReapplyOutcome, TransitionType
from sidecar.governance.service import GovernanceService
from sidecar.storage.database import Database
from sidecar.storage.errors import is_integrity_error
from sidecar.storage.url import DatabaseTarget
from sidecar.timeutil import to_db
from tests.support.governance import (
    NO_DEFAULT_LADDER,
    catalog_ids,
    claims,
    count,
    make_service,
    move_to_rank,
    open_db,
    rows,
    snapshot,
)

pytestmark = pytest.mark.anyio

LATER_AT = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
LATER = to_db(LATER_AT)  # as rows() reads it back
PUBLIC = {"scratchOrgs.maxActive": 4, "scratchOrgs.maxDurationDays": 7}
TEAM = {"scratchOrgs.maxActive": 10, "scratchOrgs.maxDurationDays": 30}


async def signed_in_pool(db: Database, settings: dict[str, Any] | None = None) -> tuple[GovernanceService, str]:
    service = await make_service(db, settings)
    await service.sign_in(claims())
    (pool,) = await rows(db, "resource_pools")
    return service, pool["id"]


async def reapply(db: Database, pool_id: str) -> ReapplyOutcome:
    async with db.transaction() as conn:
        return await reapply_defaults_for_pool(conn, pool_id, now=LATER_AT)


async def transitions(db: Database) -> list[tuple[str, int | None, int | None]]:
    found = sorted(await rows(db, "pool_provision_transitions"), key=lambda t: t["occurred_at"])
    return [(t["transition_type"], t["from_rank"], t["to_rank"]) for t in found]


async def test_initiate_puts_a_pool_off_the_ladder_at_rank_zero(database_target: DatabaseTarget) -> None:
    async with open_db(database_target) as db:
        service, pool_id = await signed_in_pool(db, NO_DEFAULT_LADDER)
        await service.load_catalog({})  # the personal type gets the `core` ladder
        outcome = await reapply(db, pool_id)
        ids = await catalog_ids(db)

        assert (outcome.changed, outcome.transition, outcome.ladder, outcome.rank) == (
            True,
            TransitionType.INITIATE,
            "core",
            0,
        )
        assert outcome.entitlements == PUBLIC
        (grant,) = await rows(db, "grants")
        assert (grant["product_id"], grant["grant_reason"], grant["quantity"], grant["status"]) == (
            ids["public-tier"],
            "default",
            1,
            "active",
        )
        (provision,) = await rows(db, "pool_provisions")
        assert (provision["id"], provision["grant_id"], provision["status"]) == (
            outcome.provision_id,
            grant["id"],
            "active",
        )
        (position,) = await rows(db, "pool_provision_ladders")
        assert (position["ladder_id"], position["rank"]) == (ids["ladder:core"], 0)
        (transition,) = await rows(db, "pool_provision_transitions")
        assert (transition["transition_type"], transition["from_rank"], transition["to_rank"]) == ("initiate", None, 0)
        assert (transition["ladder_id"], transition["occurred_at"]) == (ids["ladder:core"], LATER)
        assert await store.pool_entitlements(db.reader, pool_id) == PUBLIC


async def test_downgrade_brings_a_pool_from_a_higher_rank_back_to_rank_zero(database_target: DatabaseTarget) -> None:
    async with open_db(database_target) as db:
        _, pool_id = await signed_in_pool(db)
        await move_to_rank(db, pool_id, 1)
        assert await store.pool_entitlements(db.reader, pool_id) == TEAM
        (upgraded,) = await rows(db, "pool_provisions", "status = 'active'")

        outcome = await reapply(db, pool_id)
        assert (outcome.changed, outcome.transition, outcome.rank) == (True, TransitionType.DOWNGRADE, 0)
        assert await transitions(db) == [("initiate", None, 0), ("downgrade", 1, 0)]
        ended = (await rows(db, "pool_provisions", "id = ?", (upgraded["id"],)))[0]
        assert (ended["status"], ended["ended_at"]) == ("ended", LATER)
        purchase = (await rows(db, "grants", "grant_reason = 'purchase'"))[0]
        assert (purchase["status"], purchase["ended_at"]) == ("ended", LATER)
        (active,) = await rows(db, "pool_provisions", "status = 'active'")
        assert active["id"] == outcome.provision_id
        active_grant = (await rows(db, "grants", "id = ?", (active["grant_id"],)))[0]
        public_tier = (await catalog_ids(db))["public-tier"]
        assert (active_grant["grant_reason"], active_grant["product_id"]) == ("default", public_tier)
        assert (await rows(db, "pool_provision_ladders"))[0]["rank"] == 0
        assert await store.pool_entitlements(db.reader, pool_id) == PUBLIC


async def test_end_without_a_default_ladder_records_one_end_and_creates_nothing_else(
    database_target: DatabaseTarget,
) -> None:
    async with open_db(database_target) as db:
        service, pool_id = await signed_in_pool(db)
        await service.load_catalog(NO_DEFAULT_LADDER)
        counts = {t: await count(db, t) for t in ("grants", "pool_provisions")}

        outcome = await reapply(db, pool_id)
        assert (outcome.changed, outcome.transition, outcome.provision_id, outcome.rank) == (
            True,
            TransitionType.END,
            None,
            None,
        )
        assert await transitions(db) == [("initiate", None, 0), ("end", 0, None)]
        end = (await rows(db, "pool_provision_transitions", "transition_type = 'end'"))[0]
        assert (end["ladder_id"], end["actor_type"]) == ((await catalog_ids(db))["ladder:core"], "system")
        assert {t: await count(db, t) for t in ("grants", "pool_provisions")} == counts
        assert len(await rows(db, "pool_provisions", "status = 'active'")) == 0
        assert await count(db, "pool_provision_ladders") == 0
        assert await store.pool_entitlements(db.reader, pool_id) == {}

        # Reapplying an ended pool again changes nothing: still one `end`.
        before = await snapshot(db)
        again = await reapply(db, pool_id)
        assert (again.changed, again.transition) == (False, None)
        assert await snapshot(db) == before


async def test_end_on_a_pool_that_never_had_a_plan(database_target: DatabaseTarget) -> None:
    async with open_db(database_target) as db:
        _, pool_id = await signed_in_pool(db, NO_DEFAULT_LADDER)
        outcome = await reapply(db, pool_id)
        assert outcome.transition is TransitionType.END
        assert await transitions(db) == [("end", None, None)]
        for table in ("grants", "pool_provisions", "pool_entitlements", "pool_provision_ladders"):
            assert await count(db, table) == 0, table


async def test_reapply_on_a_pool_already_on_its_default_plan_writes_nothing(database_target: DatabaseTarget) -> None:
    async with open_db(database_target) as db:
        _, pool_id = await signed_in_pool(db)
        (provision,) = await rows(db, "pool_provisions")
        before = await snapshot(db)
        outcome = await reapply(db, pool_id)
        assert outcome == ReapplyOutcome(
            pool_id=pool_id,
            changed=False,
            transition=None,
            provision_id=provision["id"],
            ladder="core",
            rank=0,
            entitlements=PUBLIC,
        )
        assert await snapshot(db) == before


async def test_a_catalog_whose_rank_zero_changed_is_regranted_without_a_rank_transition(
    database_target: DatabaseTarget,
) -> None:
    async with open_db(database_target) as db:
        service, pool_id = await signed_in_pool(db)
        await service.load_catalog({"governance": {"ladders": {"core": ["team-tier"]}}})
        outcome = await reapply(db, pool_id)
        assert (outcome.changed, outcome.transition, outcome.rank, outcome.entitlements) == (True, None, 0, TEAM)
        assert await transitions(db) == [("initiate", None, 0)]
        assert len(await rows(db, "pool_provisions", "status = 'active'")) == 1


@pytest.mark.parametrize("scenario", ["initiate", "downgrade", "end"])
async def test_the_callers_rollback_undoes_everything_reapply_wrote(
    database_target: DatabaseTarget, scenario: str
) -> None:
    class CallerFailed(Exception):
        pass

    async with open_db(database_target) as db:
        settings = NO_DEFAULT_LADDER if scenario == "initiate" else None
        service, pool_id = await signed_in_pool(db, settings)
        if scenario == "initiate":
            await service.load_catalog({})
        elif scenario == "downgrade":
            await move_to_rank(db, pool_id, 1)
        else:
            await service.load_catalog(NO_DEFAULT_LADDER)
        before = await snapshot(db)
        with pytest.raises(CallerFailed):
            async with db.transaction() as conn:
                outcome = await reapply_defaults_for_pool(conn, pool_id, now=LATER_AT)
                assert outcome.changed and outcome.transition == TransitionType(scenario)
                raise CallerFailed
        assert await snapshot(db) == before


async def test_reapply_for_an_unknown_pool_is_not_found(database_target: DatabaseTarget) -> None:
    async with open_db(database_target) as db:
        await make_service(db)
        with pytest.raises(NotFound):
            await reapply(db, "rpl_missing")


async def test_every_grant_locks_the_pool_before_writing(
    database_target: DatabaseTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real_lock, real_grant = store.lock_pool, store.insert_grant

    async def lock_pool(conn: Any, pool_id: str) -> Any:
        calls.append(f"lock {pool_id}")
        return await real_lock(conn, pool_id)

    async def insert_grant(conn: Any, values: Any) -> None:
        calls.append(f"grant {values['organization_id']}")
        await real_grant(conn, values)

    monkeypatch.setattr(store, "lock_pool", lock_pool)
    monkeypatch.setattr(store, "insert_grant", insert_grant)
    async with open_db(database_target) as db:
        _, pool_id = await signed_in_pool(db)
        (org,) = await rows(db, "organizations")
        assert calls == [f"lock {pool_id}", f"grant {org['id']}"]
        await move_to_rank(db, pool_id, 1)
        calls.clear()
        await reapply(db, pool_id)
        assert calls[0] == f"lock {pool_id}" and calls[-1] == f"grant {org['id']}"
        assert calls.count(f"grant {org['id']}") == 1


async def test_the_database_refuses_a_second_active_provision_on_one_pool(database_target: DatabaseTarget) -> None:
    """The guard behind the lock: even a caller that skips it cannot give a pool two active plans."""
    async with open_db(database_target) as db:
        _, pool_id = await signed_in_pool(db)
        (grant,) = await rows(db, "grants")
        second_grant = ladders.new_id("grt")
        with pytest.raises(Exception) as refused:
            async with db.transaction() as conn:
                await store.insert_grant(conn, {**grant, "id": second_grant, "created_at": LATER_AT})
                await store.insert_provision(
                    conn,
                    {
                        "id": ladders.new_id("prv"),
                        "pool_id": pool_id,
                        "grant_id": second_grant,
                        "status": "active",
                        "created_at": LATER_AT,
                    },
                )
        assert is_integrity_error(refused.value) and "pool_provisions" in str(refused.value)
        assert await count(db, "grants") == 1


async def test_a_grant_waits_for_the_pool_lock_another_sidecar_holds(database_target: DatabaseTarget) -> None:
    """Two sidecars on one database: while A holds the pool's lock (as `lock_pool` takes it before any grant), B's
    reapply on that pool waits for A's commit. On PostgreSQL this is `FOR UPDATE OF p`; without it B would end the
    provision and grant under A's feet."""
    order: list[str] = []
    async with open_db(database_target) as a, open_db(database_target) as b:
        _, pool_id = await signed_in_pool(a)
        await move_to_rank(a, pool_id, 1)

        async def reapply_on_b() -> None:
            await reapply(b, pool_id)
            order.append("b reapplied")

        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg, a.transaction() as conn:
                assert await store.lock_pool(conn, pool_id) is not None
                tg.start_soon(reapply_on_b)
                await anyio.sleep(0.5)
                order.append("a commits")
        assert order == ["a commits", "b reapplied"]
        assert await store.pool_entitlements(a.reader, pool_id) == PUBLIC
