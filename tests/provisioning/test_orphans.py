"""org:orphans / org:adopt against the fake Dev Hub's ActiveScratchOrg rows: listed, adopted, then deleted with
org:remove deleteRemote; without orgPool.devHub a clear error naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.fakesf import FakeSf, scratch_org
from tests.support.harness import RpcError, SidecarProcess
from tests.support.provisioning import HUB, fake_state

pytestmark = pytest.mark.anyio


async def test_orphans_listed_adopted_and_deleted(home: Path, fake_sf: FakeSf) -> None:
    elsewhere = scratch_org("elsewhere", days=3)
    fake_sf.write(fake_state(orgs=[scratch_org("known"), scratch_org("stray", days=4)], hubOnly=[elsewhere]))
    async with SidecarProcess.start(home, settings=fake_sf.settings(devHub=HUB), env=fake_sf.env) as sc:
        # The pool learns both from the CLI, then forgets "stray" without deleting it: now an orphan.
        found = {o["alias"]: o for o in await sc.call("org:discover")}
        await sc.call("org:remove", found["stray"]["id"])
        orphans = await sc.call("org:orphans")
        assert sorted(o["username"] for o in orphans) == ["test-elsewhere@example.com", "test-stray@example.com"]
        stray = next(o for o in orphans if o["username"] == "test-stray@example.com")
        assert stray["sfOrgId"] == scratch_org("stray")["orgId"][:15] and stray["expiresAt"] and stray["createdAt"]
        query = next(c["argv"] for c in fake_sf.calls() if c["argv"][:2] == ["data", "query"])
        assert query[:4] == ["data", "query", "--target-org", HUB] and "FROM ActiveScratchOrg" in query[5]

        adopted = await sc.call("org:adopt", "test-stray@example.com", "stray")
        assert adopted["alias"] == "stray" and adopted["status"] == "available" and adopted["source"] == "discovered"
        assert [o["username"] for o in await sc.call("org:orphans")] == ["test-elsewhere@example.com"]
        with pytest.raises(RpcError) as caught:
            await sc.call("org:adopt", "test-nobody@example.com")
        assert caught.value.data["code"] == "NOT_FOUND"

        await sc.call("org:remove", adopted["id"], {"deleteRemote": True})
        assert "stray" not in {o.get("alias") for o in fake_sf.read()["orgs"]}
        assert [o["username"] for o in await sc.call("org:orphans")] == ["test-elsewhere@example.com"]


async def test_orphans_without_a_dev_hub_names_the_setting(home: Path, fake_sf: FakeSf) -> None:
    fake_sf.write(fake_state())
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        for method, params in (("org:orphans", ()), ("org:adopt", ("someone@example.com",))):
            with pytest.raises(RpcError) as caught:
                await sc.call(method, *params)
            assert caught.value.data["code"] == "SF_FAILED" and caught.value.data["setting"] == "orgPool.devHub"
