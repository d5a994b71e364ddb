"""Every number setting at its bounds and beyond: in range is used, out of range is reported with its key and
falls back to its default alone, and values that once harmed (1e300 hours, a 1 µs refresh) no longer do."""

from __future__ import annotations

import json
import math
from pathlib import Path

import anyio
import pytest

from sidecar.settings import OrgPoolSettings, load_settings
from tests.support.fakesf import FakeSf
from tests.support.harness import SidecarProcess

pytestmark = pytest.mark.anyio

# key: (lowest accepted, highest accepted, a value just below, a value just above); the documented bounds.
BOUNDS: dict[str, tuple[float, float, float, float]] = {
    "maxOrgs": (0, 10_000, -1, 10_001),
    "defaultDurationDays": (1, 30, 0, 31),
    "minRemainingHours": (0, 720, -0.001, 720.001),
    "refreshIntervalSeconds": (0.1, 3600, 0.099, 3600.001),
    "stepTimeoutMinutes": (0.01, 1440, 0.009, 1440.001),
    "createWaitMinutes": (1, 120, 0, 121),
    "sfRunConcurrency": (1, 16, 0, 17),
    "leaseTimeoutMinutes": (0.01, 10_080, 0.009, 10_080.001),
    "expiryWarningHours": (1, 720, 0.999, 720.001),
}
INTEGER_KEYS = {"maxOrgs", "defaultDurationDays", "createWaitMinutes", "sfRunConcurrency"}
BEYOND = [1e300, -1e300, 1e-6, True, False, "5", None, [], {}, 2**63, -(2**63)]


def test_settings_bounds_cover_every_number_setting() -> None:
    numbers = {name for name, info in OrgPoolSettings.model_fields.items() if info.annotation in (int, float)}
    assert numbers == set(BOUNDS)


def load(tmp_path: Path, key: str, value: object) -> tuple[OrgPoolSettings, list[str]]:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"orgPool": {key: value, "preWarm": True}}))
    settings = load_settings(path)
    assert settings.org_pool.preWarm is True  # the good key beside it is kept
    return settings.org_pool, [e.key for e in settings.errors]


@pytest.mark.parametrize("key", sorted(BOUNDS))
def test_settings_number_at_its_bounds_is_used(tmp_path: Path, key: str) -> None:
    low, high, _, _ = BOUNDS[key]
    for value in (low, high):
        settings, errors = load(tmp_path, key, int(value) if key in INTEGER_KEYS else value)
        assert errors == [] and getattr(settings, key) == value


@pytest.mark.parametrize("key", sorted(BOUNDS))
def test_settings_number_beyond_its_bounds_is_invalid_and_falls_back(tmp_path: Path, key: str) -> None:
    low, high, below, above = BOUNDS[key]
    default = OrgPoolSettings.model_fields[key].default
    in_range = [
        v for v in BEYOND if type(v) in (int, float) and low <= v <= high and (key not in INTEGER_KEYS or v % 1 == 0)
    ]
    for value in [below, above, *(v for v in BEYOND if v not in in_range or type(v) is bool)]:
        settings, errors = load(tmp_path, key, value)
        assert errors == [f"orgPool.{key}"], (value, errors)
        assert getattr(settings, key) == default


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("key", sorted(BOUNDS))
def test_settings_number_nan_and_infinity_are_invalid(tmp_path: Path, key: str, text: str) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"orgPool": {"' + key + '": ' + text + "}}")  # Python's json reads these non-JSON words
    settings = load_settings(path)
    assert [e.key for e in settings.errors] == [f"orgPool.{key}"]
    value = getattr(settings.org_pool, key)
    assert math.isfinite(value)


def test_settings_bounds_invalid_value_is_shown_short(tmp_path: Path) -> None:
    _, _ = load(tmp_path, "maxOrgs", "x" * 1_000_000)
    reason = load_settings(tmp_path / "settings.json").errors[0].reason
    assert len(reason) < 300, len(reason)


async def test_settings_min_remaining_hours_1e300_claims_still_work(home: Path, fake_sf: FakeSf) -> None:
    async with SidecarProcess.start(home, settings=fake_sf.settings(minRemainingHours=1e300), env=fake_sf.env) as sc:
        with anyio.fail_after(20):
            health = await sc.call("sidecar:health")
            assert [e["key"] for e in health["settings"]["errors"]] == ["orgPool.minRemainingHours"]
            await sc.call("org:register", "qa1")
            claimed = await sc.call("org:claim", "agent-1")
            assert claimed["alias"] == "qa1"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks of 1/100 s


async def test_settings_refresh_interval_1e_6_does_not_spin_a_core(home: Path, fake_sf: FakeSf) -> None:
    async with SidecarProcess.start(
        home, settings=fake_sf.settings(refreshIntervalSeconds=1e-6), env=fake_sf.env
    ) as sc:
        with anyio.fail_after(20):
            health = await sc.call("sidecar:health")
            assert [e["key"] for e in health["settings"]["errors"]] == ["orgPool.refreshIntervalSeconds"]
            before = cpu_seconds(sc.pid)
            await anyio.sleep(3)
            used = cpu_seconds(sc.pid) - before
    assert used < 1.0, f"{used:.2f} s of CPU in 3 s idle"
