"""Delta deploys through the real sidecar process, real git worktrees and the fake `sf`: after every provision the
org holds exactly the worktree's source tree, every fallback case deploys in full and says why, and a re-provision
with nothing changed deploys nothing yet still mints a login URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from sidecar.devtools.client import SidecarProcess
from sidecar.devtools.gitrepo import commit, git
from sidecar.fakesf.components import deployed_files, source_files
from tests.support.fakesf import FakeSf, scratch_org
from tests.support.provisioning import config, fake_state, make_worktree, terminal_text

pytestmark = pytest.mark.anyio

CLASSES = "force-app/main/default/classes"
META = '<?xml version="1.0" encoding="UTF-8"?><ApexClass/>\n'
USERNAME = "test-pool1@example.com"


def project(tmp_path: Path) -> tuple[Path, Path]:
    """A repository (projectDir) with data, a user definition and classes, and one agent worktree of it."""
    repo = make_worktree(tmp_path / "repo", classes=4)
    git(repo, "init", "--quiet", "--initial-branch=main")
    commit(repo, "base")
    agent = tmp_path / "agent wt"
    git(repo, "worktree", "add", "--quiet", "-b", "agent", str(agent), "main")
    return repo, agent


def deploys(fake: FakeSf, since: int) -> list[list[str]]:
    return [c["argv"] for c in fake.calls()[since:] if c["argv"][:3] == ["project", "deploy", "start"]]


def source_dirs(argv: list[str]) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == "--source-dir"]


class Runner:
    """Provisions agent a1 again and again, checking after each run that the org holds the worktree's tree."""

    def __init__(self, sc: SidecarProcess, fake: FakeSf, worktree: Path) -> None:
        self.sc, self.fake, self.worktree = sc, fake, worktree

    async def provision(
        self, *, success: bool = True, exact: bool = True
    ) -> tuple[dict[str, Any], list[list[str]], str]:
        before = len(self.fake.calls())
        pane_before = len(terminal_text(self.sc, "a1"))
        result = await self.sc.call("agent:provision", config("a1", self.worktree), timeout=60)
        assert result["success"] is success, result
        pane = terminal_text(self.sc, "a1")[pane_before:]
        if success:
            assert result["loginUrl"].startswith("https://")
            held = deployed_files(self.fake.read(), USERNAME)
            tree = source_files(self.worktree / "force-app")
            if exact:
                assert held == tree, "the org is not what the worktree holds"
            else:  # a deploy never removes metadata: the org holds the tree, plus what was deleted from it
                assert tree.items() <= held.items(), "the org is behind the worktree"
        return result, deploys(self.fake, before), pane

    def scenario(self, **scenarios: Any) -> None:
        state = self.fake.read()
        state["scenarios"] = scenarios
        self.fake.write(state)


async def test_every_sequence_of_provisions_leaves_the_org_equal_to_the_worktree(
    home: Path, tmp_path: Path, fake_sf: FakeSf
) -> None:
    repo, wt = project(tmp_path)
    fake_sf.write(fake_state(orgs=[scratch_org("pool1")]))
    settings = fake_sf.settings(permissionSets=["QA_Admin"])
    async with SidecarProcess.start(home, settings=settings, env=fake_sf.env) as sc:
        await sc.call("org:register", "pool1")
        run = Runner(sc, fake_sf, wt)

        # 1. Nothing recorded: a full deploy, then the org records the worktree's commit.
        first, argvs, pane = await run.provision()
        head = git(wt, "rev-parse", "HEAD").strip()
        assert [source_dirs(a) for a in argvs] == [[str(wt / "force-app")]]
        assert "Full deploy: The org holds no recorded deploy" in pane
        assert first["org"]["deployedCommit"] == head
        assert {s["name"]: s["status"] for s in first["steps"]}["data"] == "ok"

        # 2. Nothing changed: no deploy at all, data/users/permsets skipped, a login URL all the same.
        second, argvs, pane = await run.provision()
        assert argvs == []
        assert f"Delta deploy: nothing changed since {head[:7]}" in pane
        steps = {s["name"]: s["status"] for s in second["steps"]}
        assert steps["data"] == steps["users"] == steps["permsets"] == "skipped" and steps["login"] == "ok"
        assert "already has the sample data" in pane

        # 3. A committed edit plus an uncommitted edit and an untracked new class: only those files deploy.
        (wt / CLASSES / "Service1.cls").write_text("public class Service1 { Integer committed; }\n")
        commit(wt, "agent edit")
        (wt / CLASSES / "Service2.cls").write_text("public class Service2 { Integer uncommitted; }\n")
        (wt / CLASSES / "Fresh.cls").write_text("public class Fresh {}\n")
        (wt / CLASSES / "Fresh.cls-meta.xml").write_text(META)
        third, argvs, pane = await run.provision()
        assert len(argvs) == 1
        assert sorted(source_dirs(argvs[0])) == sorted(
            str((wt / CLASSES / n).resolve())
            for n in ("Service1.cls", "Service2.cls", "Fresh.cls", "Fresh.cls-meta.xml")
        )
        assert f"Delta deploy: 4 files changed since {head[:7]}" in pane
        assert third["org"]["deployedCommit"] == git(wt, "rev-parse", "HEAD").strip()

        # 4. The uncommitted edit reverted: the org held it, so it is a change again (deployed from the tree).
        git(wt, "checkout", "--", f"{CLASSES}/Service2.cls")
        _, argvs, pane = await run.provision()
        assert [source_dirs(a) for a in argvs] == [[str((wt / CLASSES / "Service2.cls").resolve())]]

        # 5. A changed data plan runs its step again; the others stay skipped.
        (wt / "data" / "Account.json").write_text(
            '{"records": [{"attributes": {"type": "Account", "referenceId": "AccRef2"}, "Name": "Beta"}]}'
        )
        fifth, argvs, _ = await run.provision()
        steps = {s["name"]: s["status"] for s in fifth["steps"]}
        assert steps["data"] == "ok" and steps["users"] == "skipped" and steps["permsets"] == "skipped"
    assert repo.is_dir()


@pytest.mark.parametrize(
    "case, reason",
    [
        ("deleted", "was deleted since"),
        ("renamed", "was renamed to"),
        ("project", "sfdx-project.json changed since"),
        ("scratch-def", "The scratch definition project-scratch-def.json changed"),
        ("not-ancestor", "is not an ancestor of this worktree's HEAD"),
        ("missing-commit", "is not in this repository"),
        ("delta-fails", "The delta deploy failed outside the agent's change"),
    ],
)
async def test_every_fallback_case_deploys_in_full_and_says_why(
    home: Path, tmp_path: Path, fake_sf: FakeSf, case: str, reason: str
) -> None:
    repo, wt = project(tmp_path)
    fake_sf.write(fake_state(orgs=[scratch_org("pool1")]))
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        await sc.call("org:register", "pool1")
        run = Runner(sc, fake_sf, wt)
        if case == "missing-commit":  # the recorded commit is the agent's own, so nothing else keeps it
            (wt / CLASSES / "Service2.cls").write_text("public class Service2 { Integer mine; }\n")
            commit(wt, "agent's first commit")
        await run.provision()
        if case == "deleted":
            (wt / CLASSES / "Service3.cls").unlink()
            (wt / CLASSES / "Service3.cls-meta.xml").unlink()
        elif case == "renamed":
            (wt / CLASSES / "Service3.cls").rename(wt / CLASSES / "Renamed.cls")
            (wt / CLASSES / "Service3.cls-meta.xml").rename(wt / CLASSES / "Renamed.cls-meta.xml")
        elif case == "project":
            (wt / "sfdx-project.json").write_text(
                '{"packageDirectories": [{"path": "force-app", "default": true}], "x": 1}'
            )
        elif case == "scratch-def":
            (wt / "config" / "project-scratch-def.json").write_text('{"orgName": "QA2", "edition": "Developer"}')
        elif case in ("not-ancestor", "missing-commit"):
            (wt / CLASSES / "Service1.cls").write_text("public class Service1 { Integer amended; }\n")
            git(wt, "add", "--all")
            git(wt, "commit", "--quiet", "--amend", "-m", "rewritten history")  # the recorded commit is off-branch
            if case == "missing-commit":
                git(wt, "reflog", "expire", "--expire=now", "--expire-unreachable=now", "--all")
                git(wt, "gc", "--quiet", "--prune=now")
        elif case == "delta-fails":
            (wt / CLASSES / "Service1.cls").write_text("public class Service1 { Integer changed; }\n")
            run.scenario(**{"project deploy start": ["error"]})  # the delta does not start; the full one works
        _, argvs, pane = await run.provision(exact=case not in ("deleted", "renamed"))
        assert f"Full deploy: {reason}".split(":")[0] in pane and reason in pane, pane
        assert source_dirs(argvs[-1]) == [str(wt / "force-app")]
        if case == "delta-fails":
            assert len(argvs) == 2 and source_dirs(argvs[0]) == [str((wt / CLASSES / "Service1.cls").resolve())]
        else:
            assert len(argvs) == 1
        if case == "deleted":  # a deploy never removes metadata: the org still holds the deleted class
            assert "force-app/main/default/classes/Service3.cls" in deployed_files(fake_sf.read(), USERNAME)
    assert repo.is_dir()


async def test_a_component_error_in_the_agents_change_fails_the_run_without_a_full_deploy(
    home: Path, tmp_path: Path, fake_sf: FakeSf
) -> None:
    _, wt = project(tmp_path)
    fake_sf.write(fake_state(orgs=[scratch_org("pool1")]))
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        await sc.call("org:register", "pool1")
        run = Runner(sc, fake_sf, wt)
        first, _, _ = await run.provision()
        (wt / CLASSES / "Service1.cls").write_text("public class Service1 { Integer broken }\n")
        run.scenario(**{"project deploy start": ["fail-object"]})
        failed, argvs, _ = await run.provision(success=False)
        assert len(argvs) == 1 and source_dirs(argvs[0]) == [str((wt / CLASSES / "Service1.cls").resolve())]
        assert any("Service1" in e for e in failed["errors"]), failed["errors"]
        # The failed delta rolled back whole, so the org's recorded base still holds: the fix deploys as a delta.
        (wt / CLASSES / "Service1.cls").write_text("public class Service1 { Integer fixed; }\n")
        _, argvs, pane = await run.provision()
        assert "Delta deploy: 1 file changed since" in pane
        assert len(argvs) == 1 and len(source_dirs(argvs[0])) == 1
        org = await sc.call("org:lease", "a1")
        assert org["deployedCommit"] == first["org"]["deployedCommit"]


async def test_a_full_deploy_without_git_records_nothing_and_deploys_in_full_again(
    home: Path, tmp_path: Path, fake_sf: FakeSf
) -> None:
    wt = make_worktree(tmp_path / "plain", data=False, users=False)  # not a git worktree
    fake_sf.write(fake_state(orgs=[scratch_org("pool1")]))
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        await sc.call("org:register", "pool1")
        run = Runner(sc, fake_sf, wt)
        first, _, pane = await run.provision()
        assert "Full deploy: git rev-parse could not be read" in pane
        assert first["org"]["deployedCommit"] is None
        _, argvs, _ = await run.provision()
        assert [source_dirs(a) for a in argvs] == [[str(wt / "force-app")]]


async def test_a_hydrated_org_whose_hydration_failed_is_never_claimed(
    home: Path, tmp_path: Path, fake_sf: FakeSf
) -> None:
    repo, wt = project(tmp_path)
    # The first hydration's deploy fails (it is never claimed meanwhile, then deleted); the second one succeeds.
    fake_sf.write(fake_state(scenarios={"project deploy start": ["fail-object"]}, delays={"project deploy start": 1.0}))
    settings = fake_sf.settings(
        maxOrgs=1, preWarm=True, projectDir=str(repo), permissionSets=["QA_Admin"], refreshIntervalSeconds=0.2
    )
    async with SidecarProcess.start(home, settings=settings, env=fake_sf.env) as sc:
        seen: set[str] = set()
        with anyio.fail_after(20):
            while not any(c["argv"][:3] == ["org", "delete", "scratch"] for c in fake_sf.calls()):
                for org in await sc.call("org:list"):
                    seen.add(org["hydration"])
                assert await sc.call("org:claim", "a0") is None  # hydrating or failed: never handed out
                await anyio.sleep(0.05)
        assert "hydrating" in seen
        assert await sc.call("org:claim", "a0") is None
        assert [o for o in await sc.call("org:list") if o["hydration"] != "failed"] == []
    assert wt.is_dir()


async def test_a_hydrated_pool_org_deploys_only_the_agents_change(home: Path, tmp_path: Path, fake_sf: FakeSf) -> None:
    repo, wt = project(tmp_path)
    fake_sf.write(fake_state())
    settings = fake_sf.settings(
        maxOrgs=1, preWarm=True, projectDir=str(repo), permissionSets=["QA_Admin"], refreshIntervalSeconds=0.2
    )
    async with SidecarProcess.start(home, settings=settings, env=fake_sf.env) as sc:
        with anyio.fail_after(20):
            while not [o for o in await sc.call("org:list") if o["hydration"] == "ready"]:
                await anyio.sleep(0.1)
        ready = (await sc.call("org:list"))[0]
        assert ready["deployedCommit"] == git(repo, "rev-parse", "HEAD").strip()
        for n in (1, 2, 3):
            (wt / CLASSES / f"Service{n}.cls").write_text(f"public class Service{n} {{ Integer branch; }}\n")
        commit(wt, "three files on the agent's branch")
        before = len(fake_sf.calls())
        result = await sc.call("agent:provision", config("a1", wt), timeout=60)
        assert result["success"] and result["org"]["id"] == ready["id"]
        pane = terminal_text(sc, "a1")
        assert f"Delta deploy: 3 files changed since {ready['deployedCommit'][:7]}" in pane
        steps = {s["name"]: s["status"] for s in result["steps"]}
        assert steps["data"] == steps["users"] == steps["permsets"] == "skipped"
        argvs = deploys(fake_sf, before)
        assert len(argvs) == 1 and len(source_dirs(argvs[0])) == 3
        username = result["org"]["username"]
        assert deployed_files(fake_sf.read(), username) == source_files(wt / "force-app")
