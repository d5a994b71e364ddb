"""orgPool.rehydrateAfterCommits through the real sidecar process, a real git repository (projectDir) and the fake
`sf`: a pooled org at most that many commits behind HEAD is left alone; one further behind is re-hydrated in place
by a delta deploy (never claimable meanwhile) and then holds exactly HEAD's source tree; one whose commit left the
history, or whose change a delta cannot deploy, is replaced by a new org."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from sidecar.devtools.client import SidecarProcess
from sidecar.devtools.gitrepo import commit, git
from sidecar.fakesf.components import deployed_files, source_files
from tests.provisioning.test_delta_pipeline import CLASSES, deploys, project, source_dirs
from tests.support.fakesf import FakeSf
from tests.support.provisioning import fake_state

pytestmark = pytest.mark.anyio


def settings(fake: FakeSf, repo: Path, **extra: Any) -> dict[str, Any]:
    return fake.settings(
        maxOrgs=1, preWarm=True, projectDir=str(repo), permissionSets=["QA_Admin"], refreshIntervalSeconds=0.1, **extra
    )


async def ready_org(sc: SidecarProcess, not_id: str | None = None) -> dict[str, Any]:
    with anyio.fail_after(30):
        while True:
            ready = [o for o in await sc.call("org:list") if o["hydration"] == "ready" and o["id"] != not_id]
            if ready:
                return ready[0]
            await anyio.sleep(0.05)


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


def change(repo: Path, n: int, text: str) -> str:
    (repo / CLASSES / f"Service{n}.cls").write_text(f"public class Service{n} {{ /* {text} */ }}\n")
    return commit(repo, text)


async def test_an_org_further_behind_than_the_setting_is_rehydrated_in_place_by_a_delta(
    home: Path, tmp_path: Path, fake_sf: FakeSf
) -> None:
    repo, _ = project(tmp_path)
    fake_sf.write(fake_state(delays={"project deploy start": 0.6}))
    async with SidecarProcess.start(
        home, settings=settings(fake_sf, repo, rehydrateAfterCommits=2), env=fake_sf.env
    ) as sc:
        org = await ready_org(sc)
        assert org["deployedCommit"] == head(repo)
        before = len(fake_sf.calls())

        # Two commits on: not more than rehydrateAfterCommits, so the org stays as it is over many rounds.
        change(repo, 1, "first")
        change(repo, 2, "second")
        await anyio.sleep(1.5)
        assert deploys(fake_sf, before) == []
        assert (await sc.call("org:list"))[0]["deployedCommit"] == org["deployedCommit"]

        # A third: re-hydrated in place, unclaimable meanwhile, by a delta of exactly the three changed files.
        target = change(repo, 3, "third")
        seen: set[str] = set()
        with anyio.fail_after(30):
            while (now := (await sc.call("org:list"))[0])["deployedCommit"] != target or now["hydration"] != "ready":
                seen.add(now["hydration"])
                if now["hydration"] == "hydrating":
                    assert await sc.call("org:claim", "a0") is None
                await anyio.sleep(0.05)
        assert "hydrating" in seen
        assert now["id"] == org["id"] and now["status"] == "available"
        argvs = deploys(fake_sf, before)
        assert len(argvs) == 1
        assert sorted(source_dirs(argvs[0])) == [str((repo / CLASSES / f"Service{n}.cls").resolve()) for n in (1, 2, 3)]
        assert deployed_files(fake_sf.read(), now["username"]) == source_files(repo / "force-app")
        # Same data plan, user definition and permission sets: none of those ran again.
        assert not [c for c in fake_sf.calls()[before:] if c["argv"][:2] in (["data", "import"], ["org", "create"])]
        assert not [c for c in fake_sf.calls() if c["argv"][:3] == ["project", "deploy", "report"]]
        claimed = await sc.call("org:claim", "a1")
        assert claimed["id"] == org["id"]


@pytest.mark.parametrize("case", ["rewritten", "deleted"])
async def test_an_org_off_the_history_or_past_a_deletion_is_replaced(
    home: Path, tmp_path: Path, fake_sf: FakeSf, case: str
) -> None:
    repo, _ = project(tmp_path)
    fake_sf.write(fake_state())
    extra = {"rehydrateAfterCommits": 0} if case == "deleted" else {}  # rewritten: the default, 20
    async with SidecarProcess.start(home, settings=settings(fake_sf, repo, **extra), env=fake_sf.env) as sc:
        org = await ready_org(sc)
        if case == "rewritten":  # the org's commit is no ancestor of HEAD any more (still an object: the reflog)
            (repo / CLASSES / "Service1.cls").write_text("public class Service1 { /* amended */ }\n")
            git(repo, "add", "--all")
            git(repo, "commit", "--quiet", "--amend", "-m", "rewritten base")
        else:  # one commit on, deleting a class: a delta cannot remove it
            (repo / CLASSES / "Service3.cls").unlink()
            (repo / CLASSES / "Service3.cls-meta.xml").unlink()
            commit(repo, "drop Service3")
        fresh = await ready_org(sc, not_id=org["id"])
        assert fresh["deployedCommit"] == head(repo)
        deleted = [c["argv"] for c in fake_sf.calls() if c["argv"][:3] == ["org", "delete", "scratch"]]
        assert deleted == [["org", "delete", "scratch", "--target-org", org["alias"], "--no-prompt", "--json"]]
        assert [o["id"] for o in await sc.call("org:list")] == [fresh["id"]]
        assert deployed_files(fake_sf.read(), fresh["username"]) == source_files(repo / "force-app")
