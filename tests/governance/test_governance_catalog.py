"""The `governance` section of settings.json (issue 4, section 6): the built-in catalog, bad values reported by key
and dropped with what depends on them, and the sync into the tables at start and on change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sidecar.governance import store
from sidecar.governance.catalog import DEFAULT_SECTION, Catalog, Product, parse_catalog
from sidecar.pool.service import PoolLimits
from sidecar.settings import SettingsStore
from sidecar.storage.url import DatabaseTarget
from tests.support.governance import Clock, claims, make_service, open_db, rows, snapshot

pytestmark = pytest.mark.anyio

BUILT_IN = Catalog(
    org_types={"personal": "core"},
    ladders={"core": ("public-tier", "team-tier")},
    products={
        "public-tier": Product(
            "public-tier", "Public Tier", {"scratchOrgs.maxActive": 4, "scratchOrgs.maxDurationDays": 7}
        ),
        "team-tier": Product(
            "team-tier", "Team Tier", {"scratchOrgs.maxActive": 10, "scratchOrgs.maxDurationDays": 30}
        ),
    },
)


def test_the_built_in_catalog_is_the_issues_example() -> None:
    assert DEFAULT_SECTION == {
        "orgTypes": {"personal": {"defaultPlanLadder": "core"}},
        "ladders": {"core": ["public-tier", "team-tier"]},
        "products": {
            "public-tier": {
                "name": "Public Tier",
                "entitlements": {"scratchOrgs.maxActive": 4, "scratchOrgs.maxDurationDays": 7},
            },
            "team-tier": {
                "name": "Team Tier",
                "entitlements": {"scratchOrgs.maxActive": 10, "scratchOrgs.maxDurationDays": 30},
            },
        },
    }


@pytest.mark.parametrize("document", [{}, {"orgPool": {"maxOrgs": 3}}, {"governance": None}])
def test_an_absent_section_is_the_built_in_catalog(document: dict[str, Any]) -> None:
    assert parse_catalog(document) == (BUILT_IN, [])


def test_the_issues_example_verbatim_parses_to_the_built_in_catalog() -> None:
    assert parse_catalog({"governance": json.loads(json.dumps(DEFAULT_SECTION))}) == (BUILT_IN, [])


def test_null_default_plan_ladder_means_no_default_plan() -> None:
    catalog, errors = parse_catalog({"governance": {"orgTypes": {"personal": {"defaultPlanLadder": None}}}})
    assert errors == [] and catalog.org_types == {"personal": None}
    assert catalog.ladders == BUILT_IN.ladders


def with_product(key: str, entry: Any) -> dict[str, Any]:
    """A governance section whose products are the built-in ones with `key` set to `entry`."""
    return {"products": {**DEFAULT_SECTION["products"], key: entry}}


# (name, governance section, expected problem keys, check on the resulting catalog)
BAD_SECTIONS: list[tuple[str, Any, list[str], Any]] = [
    ("not an object", "core", ["governance"], lambda c: c == BUILT_IN),
    ("unknown top-level key", {"plans": {}}, ["governance.plans"], lambda c: c == BUILT_IN),
    ("products not an object", {"products": []}, ["governance.products"], lambda c: c == BUILT_IN),
    (
        "entitlement out of range is dropped alone",
        with_product("team-tier", {"entitlements": {"scratchOrgs.maxActive": -1, "scratchOrgs.maxDurationDays": 30}}),
        ["governance.products.team-tier.entitlements.scratchOrgs.maxActive"],
        lambda c: c.products["team-tier"].entitlements == {"scratchOrgs.maxDurationDays": 30},
    ),
    (
        "a duration past 30 days is refused",
        with_product("public-tier", {"entitlements": {"scratchOrgs.maxDurationDays": 90}}),
        ["governance.products.public-tier.entitlements.scratchOrgs.maxDurationDays"],
        lambda c: c.products["public-tier"] == Product("public-tier", "public-tier", {}),
    ),
    (
        "a string where a count is expected",
        with_product("public-tier", {"entitlements": {"scratchOrgs.maxActive": "4"}}),
        ["governance.products.public-tier.entitlements.scratchOrgs.maxActive"],
        lambda c: c.products["public-tier"].entitlements == {},
    ),
    (
        "other entitlements are carried as scalars",
        with_product("public-tier", {"entitlements": {"support.sla": "48h", "ai.enabled": True, "bad": [1]}}),
        ["governance.products.public-tier.entitlements.bad"],
        lambda c: c.products["public-tier"].entitlements == {"support.sla": "48h", "ai.enabled": True},
    ),
    (
        "a product that is not an object drops the ladders using it and the org types' default",
        with_product("team-tier", 10),
        ["governance.products.team-tier", "governance.ladders.core", "governance.orgTypes.personal.defaultPlanLadder"],
        lambda c: "team-tier" not in c.products and c.ladders == {} and c.org_types == {"personal": None},
    ),
    (
        "a ladder naming an unknown product",
        {"ladders": {"core": ["public-tier", "gold-tier"]}},
        ["governance.ladders.core", "governance.orgTypes.personal.defaultPlanLadder"],
        lambda c: c.ladders == {} and c.org_types == {"personal": None},
    ),
    (
        "an empty ladder",
        {"ladders": {"core": []}},
        ["governance.ladders.core", "governance.orgTypes.personal.defaultPlanLadder"],
        lambda c: c.ladders == {},
    ),
    (
        "a product twice on a ladder",
        {"ladders": {"core": ["public-tier", "public-tier"]}},
        ["governance.ladders.core", "governance.orgTypes.personal.defaultPlanLadder"],
        lambda c: c.ladders == {},
    ),
    (
        "an org type naming an unknown ladder",
        {"orgTypes": {"personal": {"defaultPlanLadder": "platinum"}}},
        ["governance.orgTypes.personal.defaultPlanLadder"],
        lambda c: c.org_types == {"personal": None} and c.ladders == BUILT_IN.ladders,
    ),
    (
        "the personal type is always there",
        {"orgTypes": {"team": {"defaultPlanLadder": "core"}}},
        ["governance.orgTypes.personal"],
        lambda c: c.org_types == {"team": "core", "personal": None},
    ),
    (
        "a hostile product key",
        with_product("../x", {"name": "x"}),
        ["governance.products.../x"],
        lambda c: set(c.products) == {"public-tier", "team-tier"},
    ),
    (
        "unknown product key is reported and ignored",
        with_product("extra", {"name": "Extra", "price": 5}),
        ["governance.products.extra.price"],
        lambda c: c.products["extra"] == Product("extra", "Extra", {}),
    ),
]


@pytest.mark.parametrize("name, section, problem_keys, check", BAD_SECTIONS, ids=[c[0] for c in BAD_SECTIONS])
def test_bad_values_are_reported_by_key_and_dropped_with_their_dependants(
    name: str, section: Any, problem_keys: list[str], check: Any
) -> None:
    catalog, errors = parse_catalog({"governance": section})
    assert [e.key for e in errors] == problem_keys
    assert all(e.reason for e in errors)
    assert check(catalog), catalog


async def test_sync_writes_the_catalog_into_the_tables(database_target: DatabaseTarget) -> None:
    async with open_db(database_target) as db:
        await make_service(db)
        products = {r["key"]: r for r in await rows(db, "billing_products")}
        assert {k: (p["name"], p["is_active"]) for k, p in products.items()} == {
            "public-tier": ("Public Tier", 1),
            "team-tier": ("Team Tier", 1),
        }
        items = await rows(db, "entitlement_set_items")
        by_set = {(i["entitlement_set_id"], i["key"]): json.loads(i["value"]) for i in items}
        assert by_set[(products["team-tier"]["entitlement_set_id"], "scratchOrgs.maxActive")] == 10
        (ladder,) = await rows(db, "billing_plan_ladders")
        tiers = sorted((t["rank"], t["product_id"]) for t in await rows(db, "billing_plan_ladder_tiers"))
        assert tiers == [(0, products["public-tier"]["id"]), (1, products["team-tier"]["id"])]
        (org_type,) = await rows(db, "org_types")
        assert (org_type["key"], org_type["default_plan_ladder_id"]) == ("personal", ladder["id"])


async def test_sync_is_idempotent(database_target: DatabaseTarget) -> None:
    async with open_db(database_target) as db:
        service = await make_service(db, clock=Clock())
        await service.sign_in(claims())
        before = await snapshot(db)
        await service.load_catalog({})
        assert await snapshot(db) == before


async def test_a_catalog_change_is_synced_and_reaches_the_pools_on_that_tier(database_target: DatabaseTarget) -> None:
    async with open_db(database_target) as db:
        service = await make_service(db)
        await service.sign_in(claims())
        (pool,) = await rows(db, "resource_pools")
        changed = json.loads(json.dumps(DEFAULT_SECTION))
        changed["products"]["public-tier"]["entitlements"]["scratchOrgs.maxActive"] = 2
        del changed["products"]["team-tier"]
        changed["ladders"]["core"] = ["public-tier"]
        errors = await service.load_catalog({"governance": changed})
        assert errors == []
        assert await store.pool_entitlements(db.reader, pool["id"]) == {
            "scratchOrgs.maxActive": 2,
            "scratchOrgs.maxDurationDays": 7,
        }
        products = {r["key"]: r["is_active"] for r in await rows(db, "billing_products")}
        assert products == {"public-tier": 1, "team-tier": 0}
        assert len(await rows(db, "billing_plan_ladder_tiers")) == 1
        # The cached limits follow at once.
        assert service.narrow(PoolLimits(max_orgs=10)).max_orgs == 2


async def test_settings_file_changes_reach_the_service_through_the_settings_store(
    database_target: DatabaseTarget, tmp_path: Path
) -> None:
    settings_path = tmp_path / "settings.json"
    settings_path.write_text(json.dumps({"orgPool": {"maxOrgs": 8}}), encoding="utf-8")
    settings = SettingsStore(settings_path)
    async with open_db(database_target) as db:
        service = await make_service(db, settings.current.raw)
        settings.subscribe(service.on_settings_changed)
        no_plan = {"orgTypes": {"personal": {"defaultPlanLadder": None}}}
        settings_path.write_text(json.dumps({"orgPool": {"maxOrgs": 8}, "governance": no_plan}), encoding="utf-8")
        assert await settings.reload_if_changed()
        (org_type,) = await rows(db, "org_types")
        assert org_type["default_plan_ladder_id"] is None
        assert [r["is_active"] for r in await rows(db, "billing_plan_ladders")] == [1]
