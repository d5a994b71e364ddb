"""org:discover against the bundled fake `sf`, which prints the real CLI's envelopes, exit codes and stderr noise."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest

from tests.support.fakesf import FakeSf, scratch_org
from tests.support.harness import RpcError, SidecarProcess

pytestmark = pytest.mark.anyio


async def test_discovery_registers_updates_expires_and_skips(home: Path, fake_sf: FakeSf) -> None:
    no_alias = {**scratch_org("anon", days=5), "alias": None}
    fake_sf.write(
        {
            "orgs": [
                scratch_org("qa1", days=5),
                scratch_org("qa2", days=2),
                scratch_org("manual", days=9),
                no_alias,
                {**scratch_org("stale", days=-2), "status": "Expired"},  # the real listing leaves it out
                scratch_org("overflow", days=20),
            ]
        }
    )
    async with SidecarProcess.start(home, settings=fake_sf.settings(maxOrgs=4), env=fake_sf.env) as sc:
        manual = await sc.call("org:register", "manual")  # known by alias only: discovery fills in its identity
        pool = await sc.call("org:discover")
        report = (await sc.wait_notification("org:discovery"))["params"]
    by_alias = {o["alias"]: o for o in pool}
    assert set(by_alias) == {"qa1", "qa2", "manual", no_alias["username"]}
    assert report["registered"] == ["qa1", "qa2", no_alias["username"]]
    assert report["updated"] == ["manual"]
    assert {s["alias"]: s["reason"] for s in report["skipped"]} == {"overflow": "capacity reached (maxOrgs=4)"}
    assert by_alias["manual"]["id"] == manual["id"]
    assert by_alias["manual"]["username"] == "test-manual@example.com"
    assert by_alias["manual"]["source"] == "manual"
    assert by_alias["qa1"]["source"] == "discovered" and by_alias["qa1"]["status"] == "available"
    assert by_alias["qa2"]["expiresAt"].endswith("T23:59:59Z")
    calls = fake_sf.calls()
    assert calls[-1]["argv"] == ["org", "list", "--json"]  # the fake logs the arguments after the program name


async def test_an_org_that_vanished_from_the_listing_on_its_expiration_day_is_gone(home: Path, fake_sf: FakeSf) -> None:
    """The real `org list` (without --all) shows only Active orgs: an expired org disappears, it never shows
    isExpired. Vanished on its expiration day means gone; vanished before that day proves nothing."""
    fake_sf.write({"orgs": [scratch_org("qa1", days=0), scratch_org("qa2", days=6)]})
    settings = fake_sf.settings(minRemainingHours=0)
    async with SidecarProcess.start(home, settings=settings, env=fake_sf.env) as sc:
        await sc.call("org:discover")
        leased = await sc.call("org:claim", "agent-1")
        assert leased["alias"] == "qa1"  # expires at the end of today: not yet due for the pool's own timer
        state = fake_sf.read()
        state["orgs"][0]["status"] = "Expired"
        state["orgs"][1]["status"] = "Deleted"
        fake_sf.write(state)
        start = len(sc.messages)
        await sc.call("org:discover")
        expired = await sc.wait_notification("org:changed", lambda p: p["reason"] == "expired", start=start)
        assert expired["params"]["agentId"] == "agent-1"
        pool = await sc.call("org:list")
        # qa2 vanished too, six days before its expiry: absence is no proof, so it stays as it was.
        assert {o["alias"]: o["status"] for o in pool} == {"qa1": "expired", "qa2": "available"}
        assert await sc.call("org:lease", "agent-1") is None


async def test_a_failed_listing_marks_nothing_gone(home: Path, fake_sf: FakeSf) -> None:
    fake_sf.write({"orgs": [scratch_org("qa1", days=0)]})
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        await sc.call("org:discover")
        fake_sf.write({**fake_sf.read(), "orgs": [], "scenarios": {"org list": "error"}})
        with pytest.raises(RpcError):
            await sc.call("org:discover")
        assert [o["status"] for o in await sc.call("org:list")] == ["available"]


async def test_discovery_is_idempotent(sidecar: SidecarProcess, fake_sf: FakeSf) -> None:
    fake_sf.write({"orgs": [scratch_org("qa1"), scratch_org("qa2")]})
    first = await sidecar.call("org:discover")
    second = await sidecar.call("org:discover")
    assert first == second
    reports = [n["params"] for n in sidecar.notifications if n["method"] == "org:discovery"]
    assert reports[-1] == {"registered": [], "updated": [], "skipped": []}


@pytest.mark.parametrize("sf_path", ["/nonexistent/sf", "definitely-not-an-sf-binary"])
async def test_no_sf_is_sf_unavailable(home: Path, fake_sf: FakeSf, sf_path: str) -> None:
    async with SidecarProcess.start(home, settings={"orgPool": {"sfPath": sf_path}}, env=fake_sf.env) as sc:
        with pytest.raises(RpcError) as caught:
            await sc.call("org:discover")
        assert (caught.value.code, caught.value.kind) == (-32006, "SF_UNAVAILABLE")
        assert "sfPath" in caught.value.message or "PATH" in caught.value.message
        assert (await sc.call("sidecar:health"))["sf"]["path"] is None


async def test_sf_found_on_path_when_not_configured(home: Path, fake_sf: FakeSf) -> None:
    fake_sf.write({"orgs": [scratch_org("qa1")]})
    import os

    env = {**fake_sf.env, "PATH": f"{Path(fake_sf.path).parent}{os.pathsep}{os.environ['PATH']}"}
    async with SidecarProcess.start(home, settings={}, env=env) as sc:
        assert [o["alias"] for o in await sc.call("org:discover")] == ["qa1"]
        assert (await sc.call("sidecar:health"))["sf"]["path"] == str(Path(fake_sf.path).resolve())


@pytest.mark.parametrize(
    "scenario, name",
    [("error", "SfError"), ("garbage", "UnparsableOutput"), ("empty-stdout", "UnparsableOutput")],
)
async def test_cli_failures_are_sf_failed_with_the_cli_name(
    sidecar: SidecarProcess, fake_sf: FakeSf, scenario: str, name: str
) -> None:
    fake_sf.write({"orgs": [scratch_org("qa1")], "scenarios": {"org list": scenario}})
    with pytest.raises(RpcError) as caught:
        await sidecar.call("org:discover")
    assert (caught.value.code, caught.value.kind) == (-32007, "SF_FAILED")
    assert caught.value.data["name"] == name
    assert caught.value.data["message"]
    assert await sidecar.call("org:list") == []  # nothing half-applied


async def test_discovery_honours_the_step_timeout(home: Path, fake_sf: FakeSf) -> None:
    """org:discover stops a hanging `sf org list` after orgPool.stepTimeoutMinutes, not after a fixed 120 s."""
    fake_sf.write({"orgs": [scratch_org("qa1")], "delays": {"org list": 60}})
    settings = fake_sf.settings(stepTimeoutMinutes=0.03)  # 1.8 s
    async with SidecarProcess.start(home, settings=settings, env=fake_sf.env) as sc:
        started = time.monotonic()
        with anyio.fail_after(20), pytest.raises(RpcError) as caught:
            await sc.call("org:discover")
        assert time.monotonic() - started < 15
        assert "did not finish within 2 s" in caught.value.message
