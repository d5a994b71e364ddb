"""org:limits and the up-front refusal: with orgPool.devHub set, a Dev Hub without room queues the request at once
(no several-minute creation attempt), and the limits are read from `sf org list limits` at most once a minute."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.fakesf import FakeSf
from tests.support.harness import RpcError, SidecarProcess
from tests.support.provisioning import HUB, config, fake_state, make_worktree

pytestmark = pytest.mark.anyio


def creations(fake_sf: FakeSf) -> int:
    return sum(1 for c in fake_sf.calls() if c["argv"][:3] == ["org", "create", "scratch"])


def limit_reads(fake_sf: FakeSf) -> int:
    return sum(1 for c in fake_sf.calls() if c["argv"][:3] == ["org", "list", "limits"])


async def test_org_limits_reports_and_caches(home: Path, fake_sf: FakeSf) -> None:
    fake_sf.write(
        fake_state(
            limits={"ActiveScratchOrgs": {"max": 3, "remaining": 2}, "DailyScratchOrgs": {"max": 6, "remaining": 5}}
        )
    )
    async with SidecarProcess.start(home, settings=fake_sf.settings(devHub=HUB), env=fake_sf.env) as sc:
        limits = await sc.call("org:limits")
        assert limits["devHub"] == HUB
        assert limits["activeScratchOrgs"] == {"max": 3, "remaining": 2}
        assert limits["dailyScratchOrgs"] == {"max": 6, "remaining": 5}
        await sc.call("org:limits")
        assert limit_reads(fake_sf) == 1  # the second answer came from the minute's cache
        assert ["org", "list", "limits", "--target-org", HUB, "--json"] in [c["argv"] for c in fake_sf.calls()]


async def test_org_limits_without_a_dev_hub_names_the_setting(home: Path, fake_sf: FakeSf) -> None:
    fake_sf.write(fake_state())
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        with pytest.raises(RpcError) as caught:
            await sc.call("org:limits")
        assert caught.value.data["code"] == "SF_FAILED" and caught.value.data["setting"] == "orgPool.devHub"
        assert "orgPool.devHub" in caught.value.message


@pytest.mark.parametrize("which", ["ActiveScratchOrgs", "DailyScratchOrgs"])
async def test_a_creation_is_refused_up_front_when_the_hub_has_no_room(
    home: Path, tmp_path: Path, fake_sf: FakeSf, which: str
) -> None:
    worktree = make_worktree(tmp_path / "wt", data=False, users=False)
    fake_sf.write(fake_state(limits={which: {"max": 3, "remaining": 0}}))
    async with SidecarProcess.start(home, settings=fake_sf.settings(devHub=HUB), env=fake_sf.env) as sc:
        result = await sc.call("agent:provision", config("a1", worktree), timeout=30)
        assert result["queued"] is True and result["success"] is False
        assert which in result["warnings"][0] and "no creation was attempted" in result["warnings"][0]
        assert [(e["agentId"], e["reason"]) for e in await sc.call("provision:queue")] == [("a1", "devhub-limit")]
        assert creations(fake_sf) == 0


async def test_a_hub_with_room_creates_as_before(home: Path, tmp_path: Path, fake_sf: FakeSf) -> None:
    worktree = make_worktree(tmp_path / "wt", data=False, users=False)
    fake_sf.write(fake_state(limits={"ActiveScratchOrgs": {"max": 3, "remaining": 1}}))
    async with SidecarProcess.start(home, settings=fake_sf.settings(devHub=HUB), env=fake_sf.env) as sc:
        result = await sc.call("agent:provision", config("a1", worktree), timeout=30)
        assert result["success"], result
        assert creations(fake_sf) == 1
        # The creation dropped the cached answer: the hub is asked afresh, and now it is full.
        assert (await sc.call("org:limits"))["activeScratchOrgs"]["remaining"] == 0
