"""settings.json: read-only, per-key fallback with the reason reported, and edits applied without a restart."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from sidecar.settings import OrgPoolSettings, load_settings
from tests.support.fakesf import FakeSf
from tests.support.harness import SidecarProcess

pytestmark = pytest.mark.anyio


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "settings.json")
    assert settings.org_pool.maxOrgs == 4 and settings.org_pool.defaultDurationDays == 7 and settings.errors == ()


@pytest.mark.parametrize(
    "section, key, default",
    [
        ({"maxOrgs": "many"}, "orgPool.maxOrgs", 4),
        ({"maxOrgs": -1}, "orgPool.maxOrgs", 4),
        ({"defaultDurationDays": 31}, "orgPool.defaultDurationDays", 7),
        ({"minRemainingHours": "x"}, "orgPool.minRemainingHours", 4),
        ({"permissionSets": "Admin"}, "orgPool.permissionSets", []),
    ],
)
def test_an_invalid_value_falls_back_alone(tmp_path: Path, section: dict, key: str, default: object) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"orgPool": {**section, "preWarm": True}, "theme": "dark"}))
    settings = load_settings(path)
    attribute = key.split(".")[1]
    assert getattr(settings.org_pool, attribute) == default
    assert settings.org_pool.preWarm is True  # the good key next to it is kept
    assert [e.key for e in settings.errors] == [key]


def test_unparsable_file_means_defaults_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{not json")
    settings = load_settings(path)
    assert settings.org_pool.maxOrgs == 4
    assert "not valid JSON" in settings.errors[0].reason


async def test_invalid_settings_are_reported_in_health_and_stderr_and_the_sidecar_starts(
    home: Path, fake_sf: FakeSf
) -> None:
    settings = {"orgPool": {"sfPath": fake_sf.path, "maxOrgs": "lots"}, "appearance": {"theme": "dark"}}
    async with SidecarProcess.start(home, settings=settings, env=fake_sf.env) as sc:
        health = await sc.call("sidecar:health")
        assert [e["key"] for e in health["settings"]["errors"]] == ["orgPool.maxOrgs"]
        assert (await sc.call("org:status"))["maxOrgs"] == 4
    assert "orgPool.maxOrgs" in sc.stderr_text()
    assert json.loads((home / "settings.json").read_text()) == settings  # never written


async def test_edits_take_effect_without_a_restart(home: Path, fake_sf: FakeSf) -> None:
    async with SidecarProcess.start(home, settings=fake_sf.settings(maxOrgs=2), env=fake_sf.env) as sc:
        assert (await sc.call("org:status"))["maxOrgs"] == 2
        (home / "settings.json").write_text(json.dumps(fake_sf.settings(maxOrgs=7)))
        with anyio.fail_after(10):
            while (await sc.call("org:status"))["maxOrgs"] != 7:
                await anyio.sleep(0.2)


async def test_governance_section_problems_are_in_health_too(home: Path, fake_sf: FakeSf) -> None:
    settings = {**fake_sf.settings(), "governance": {"products": {"bad key!": {"entitlements": {}}}}}
    async with SidecarProcess.start(home, settings=settings, env=fake_sf.env) as sc:
        health = await sc.call("sidecar:health")  # the first request: health waits for governance to be bound
        keys = [e["key"] for e in health["settings"]["errors"]]
        assert "governance.products.bad key!" in keys, keys


def test_a_prewarm_list_is_read(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    entries = [
        {"projectDir": "/w/app", "count": 2},
        {"projectDir": "/w/app", "scratchDefPath": "config/enterprise-def.json", "count": 1},
    ]
    path.write_text(json.dumps({"orgPool": {"prewarm": entries}}))
    settings = load_settings(path)
    assert settings.errors == ()
    assert [(e.projectDir, e.scratchDefPath, e.count) for e in settings.org_pool.prewarm] == [
        ("/w/app", None, 2),
        ("/w/app", "config/enterprise-def.json", 1),
    ]


@pytest.mark.parametrize(
    "entries, where",
    [
        ([{"projectDir": "/w", "count": 0}], "[0].count: Input should be greater than or equal to 1"),
        ([{"projectDir": "/w", "count": 10_001}], "[0].count: Input should be less than or equal to 10000"),
        ([{"projectDir": "/w", "count": True}], "[0].count"),
        ([{"projectDir": "/w", "count": "2"}], "[0].count"),
        ([{"projectDir": "/w", "count": 1.5}], "[0].count"),
        ([{"projectDir": "/w"}], "[0].count: Field required"),
        ([{"count": 1}], "[0].projectDir: Field required"),
        ([{"projectDir": "relative/dir", "count": 1}], "[0].projectDir: Value error, projectDir must be an absolute"),
        ([{"projectDir": "", "count": 1}], "[0].projectDir"),
        ([{"projectDir": "/w\u0000", "count": 1}], "[0].projectDir"),
        ([{"projectDir": "/w", "count": 1}, {"projectDir": "/w", "scratchDefPath": "../x.json", "count": 1}],
         "[1].scratchDefPath: Value error, scratchDefPath must be a path relative to projectDir"),
        ([{"projectDir": "/w", "scratchDefPath": "/abs/def.json", "count": 1}], "[0].scratchDefPath"),
        ([{"projectDir": "/w", "scratchDefPath": 7, "count": 1}], "[0].scratchDefPath"),
        ([{"projectDir": "/w", "count": 1, "cuont": 2}], "[0].cuont: Extra inputs are not permitted"),
        ([{"projectDir": "/w", "count": 1}, {"projectDir": "/w", "count": 2}], "entry 1 repeats an earlier entry"),
        ([{"projectDir": f"/w{i}", "count": 1} for i in range(21)], "at most 20 items"),
        ({"projectDir": "/w", "count": 1}, "Input should be a valid list"),
        (["/w"], "[0]: Input should be a valid dictionary"),
    ],
)  # fmt: skip
def test_an_invalid_prewarm_list_falls_back_whole_and_names_the_entry(
    tmp_path: Path, entries: object, where: str
) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"orgPool": {"prewarm": entries, "maxOrgs": 2}}))
    settings = load_settings(path)
    assert settings.org_pool.prewarm == [] and settings.org_pool.maxOrgs == 2  # the good key beside it is kept
    assert [e.key for e in settings.errors] == ["orgPool.prewarm"]
    assert where in settings.errors[0].reason, settings.errors[0].reason


@pytest.mark.parametrize(
    "key, value",
    [("reuseUnknownShapes", "yes"), ("reuseUnknownShapes", 1), ("deleteOnRemove", "true"), ("deleteOnRemove", 0)],
)
def test_shape_switches_are_strict_booleans(tmp_path: Path, key: str, value: object) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"orgPool": {key: value}}))
    settings = load_settings(path)
    assert [e.key for e in settings.errors] == [f"orgPool.{key}"]
    assert getattr(settings.org_pool, key) is OrgPoolSettings.model_fields[key].default
