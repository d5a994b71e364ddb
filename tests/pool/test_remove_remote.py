"""org:remove with and without deleteRemote, orgPool.deleteOnRemove, and the CLI logout of orgs past expiry, over
real pipes with the fake sf (its state is the Dev Hub and the CLI's auth store)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest

from tests.support.fakesf import FakeSf, scratch_org
from tests.support.harness import RpcError, SidecarProcess
from tests.support.provisioning import fake_state

pytestmark = pytest.mark.anyio


def fake_aliases(fake_sf: FakeSf) -> set[str]:
    return {o.get("alias") for o in fake_sf.read()["orgs"]}


def argv_of(fake_sf: FakeSf, *words: str) -> list[list[str]]:
    return [c["argv"] for c in fake_sf.calls() if c["argv"][: len(words)] == list(words)]


async def test_remove_without_delete_remote_leaves_the_salesforce_org(home: Path, fake_sf: FakeSf) -> None:
    fake_sf.write(fake_state(orgs=[scratch_org("qa1")]))
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        org = await sc.call("org:register", "qa1")
        assert await sc.call("org:remove", org["id"]) is None
        assert await sc.call("org:list") == []
    assert "qa1" in fake_aliases(fake_sf) and argv_of(fake_sf, "org", "delete") == []


async def test_remove_with_delete_remote_deletes_in_the_dev_hub_first(home: Path, fake_sf: FakeSf) -> None:
    fake_sf.write(fake_state(orgs=[scratch_org("qa1"), scratch_org("qa2")]))
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        org = await sc.call("org:register", "qa1")
        assert await sc.call("org:remove", org["id"], {"deleteRemote": True}) is None
        assert await sc.call("org:list") == []
        assert "qa1" not in fake_aliases(fake_sf)
        assert argv_of(fake_sf, "org", "delete") == [
            ["org", "delete", "scratch", "--target-org", "qa1", "--no-prompt", "--json"]
        ]
        # The Dev Hub refuses (the CLI knows no such org): the row stays, and the answer says why.
        unknown = await sc.call("org:register", "not-in-cli")
        with pytest.raises(RpcError) as caught:
            await sc.call("org:remove", unknown["id"], {"deleteRemote": True})
        assert caught.value.data["code"] == "SF_FAILED"
        assert [o["alias"] for o in await sc.call("org:list")] == ["not-in-cli"]
        # A leased org still needs force, checked before anything is deleted.
        sooner = (datetime.now(UTC) + timedelta(days=3)).isoformat()
        leased = await sc.call("org:register", "qa2", {"expiresAt": sooner})
        assert (await sc.call("org:claim", "agent-1"))["id"] == leased["id"]
        with pytest.raises(RpcError) as caught:
            await sc.call("org:remove", leased["id"], {"deleteRemote": True})
        assert caught.value.data["code"] == "ORG_LEASED" and "qa2" in fake_aliases(fake_sf)


async def test_delete_on_remove_makes_delete_remote_the_default(home: Path, fake_sf: FakeSf) -> None:
    fake_sf.write(fake_state(orgs=[scratch_org("qa1"), scratch_org("qa2")]))
    async with SidecarProcess.start(home, settings=fake_sf.settings(deleteOnRemove=True), env=fake_sf.env) as sc:
        first = await sc.call("org:register", "qa1")
        second = await sc.call("org:register", "qa2")
        await sc.call("org:remove", first["id"])
        await sc.call("org:remove", second["id"], {"deleteRemote": False})
    assert fake_aliases(fake_sf) == {"qa2"}


async def test_orgs_past_expiry_are_logged_out_of_the_cli(home: Path, fake_sf: FakeSf) -> None:
    fake_sf.write(fake_state(orgs=[scratch_org("qa1")]))
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        await sc.call("org:status")  # started: the expiry below is not eaten by start-up under load
        soon = datetime.now(UTC) + timedelta(seconds=3)
        await sc.call("org:register", "qa1", {"expiresAt": soon.isoformat()})
        with anyio.fail_after(10):
            while datetime.now(UTC) <= soon:
                await anyio.sleep(0.2)
        status = await sc.call("org:refresh")
        assert status["expired"] == 1
    assert argv_of(fake_sf, "org", "logout") == [["org", "logout", "--target-org", "qa1", "--no-prompt", "--json"]]
    state = fake_sf.read()
    assert [o["alias"] for o in state["loggedOut"]] == ["qa1"] and state["orgs"] == []


async def test_org_expiring_reaches_the_app_once(home: Path, fake_sf: FakeSf) -> None:
    """Over the wire: an org leased inside its last hour gets `org:expiring` (final) once, however often refreshed."""
    fake_sf.write(fake_state(orgs=[scratch_org("qa1")]))
    async with SidecarProcess.start(home, settings=fake_sf.settings(minRemainingHours=0), env=fake_sf.env) as sc:
        expires = datetime.now(UTC) + timedelta(minutes=30)
        org = await sc.call("org:register", "qa1", {"expiresAt": expires.isoformat()})
        await sc.call("org:claim", "agent-1")
        await sc.call("org:refresh")
        note = await sc.wait_notification("org:expiring", timeout=5)
        assert note["params"]["org"]["id"] == org["id"] and note["params"]["agentId"] == "agent-1"
        assert note["params"]["warning"] == "final"
        await sc.call("org:refresh")
        await sc.call("org:refresh")
        assert sum(1 for n in sc.notifications if n["method"] == "org:expiring") == 1
