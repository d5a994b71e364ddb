"""Delta or full deploy, decided against real git repositories with worktrees in temporary directories."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import anyio
import pytest

from sidecar.devtools.gitrepo import commit, git
from sidecar.provisioning.delta import (
    ARGV_BYTES_LIMIT,
    Delta,
    Full,
    GitError,
    Plan,
    SourceState,
    capture,
    commits_behind,
    describe,
    plan_deploy,
    split_source_dirs,
    step_inputs,
)

pytestmark = pytest.mark.anyio

CLASSES = "force-app/main/default/classes"
LWC = "force-app/main/default/lwc"
META = '<?xml version="1.0" encoding="UTF-8"?><ApexClass/>\n'


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "main repo"
    root.mkdir()
    git(root, "init", "--quiet", "--initial-branch=main")
    write(root, "sfdx-project.json", '{"packageDirectories": [{"path": "force-app", "default": true}]}')
    write(root, "config/project-scratch-def.json", '{"edition": "Developer"}')
    write(root, ".gitignore", "*.log\n")
    for name in ("Alpha", "Beta", "Gamma"):
        write(root, f"{CLASSES}/{name}.cls", f"public class {name} {{}}\n")
        write(root, f"{CLASSES}/{name}.cls-meta.xml", META)
    write(root, f"{LWC}/card/card.js", "export default class Card {}\n")
    write(root, f"{LWC}/card/card.html", "<template></template>\n")
    write(root, "README.md", "docs\n")
    commit(root, "base")
    return root


def worktree(repo: Path, name: str, start: str = "main") -> Path:
    path = repo.parent / name
    branch = "".join(c if c.isascii() and c.isalnum() else "-" for c in name)
    git(repo, "worktree", "add", "--quiet", "-b", branch, str(path), start)
    return path


async def plan(wt: Path, recorded: SourceState | None, **kwargs: float) -> Plan:
    with anyio.fail_after(60):
        return await plan_deploy(wt, wt / "force-app", wt / "config/project-scratch-def.json", recorded, **kwargs)


async def state_of(wt: Path) -> SourceState:
    with anyio.fail_after(60):
        return await capture(wt, wt / "force-app", wt / "config/project-scratch-def.json")


def delta_paths(result: Plan, wt: Path) -> list[str]:
    assert isinstance(result.decision, Delta), result.decision
    return [str(Path(p).relative_to(wt)) for p in result.decision.paths]


async def test_no_recorded_base_is_a_full_deploy_that_still_records_the_state(repo: Path) -> None:
    result = await plan(repo, None)
    assert isinstance(result.decision, Full)
    assert "no recorded deploy" in result.decision.reason
    assert result.state is not None and result.state.commit == git(repo, "rev-parse", "HEAD").strip()
    assert result.state.uncommitted is False


async def test_nothing_changed_deploys_nothing(repo: Path) -> None:
    base = await state_of(repo)
    result = await plan(repo, base)
    assert delta_paths(result, repo) == []
    assert describe(result.decision).startswith(f"Delta deploy: nothing changed since {base.commit[:7]}")


async def test_branch_commits_in_another_worktree_are_the_delta(repo: Path) -> None:
    base = await state_of(repo)  # recorded from the main worktree, as hydration does from projectDir
    wt = worktree(repo, "agent-1")
    write(wt, f"{CLASSES}/Alpha.cls", "public class Alpha { Integer x; }\n")
    write(wt, f"{CLASSES}/Delta.cls", "public class Delta {}\n")
    write(wt, f"{CLASSES}/Delta.cls-meta.xml", META)
    write(wt, "README.md", "outside the source dir\n")
    head = commit(wt, "agent work")
    result = await plan(wt, base)
    assert delta_paths(result, wt) == [f"{CLASSES}/Alpha.cls", f"{CLASSES}/Delta.cls", f"{CLASSES}/Delta.cls-meta.xml"]
    assert isinstance(result.decision, Delta)
    assert (result.decision.base, result.decision.head) == (base.commit, head)
    assert describe(result.decision) == f"Delta deploy: 3 files changed since {base.commit[:7]}"
    assert all(os.path.isabs(p) and os.path.exists(p) for p in result.decision.paths)


async def test_uncommitted_staged_and_untracked_files_are_included_and_ignored_ones_are_not(repo: Path) -> None:
    wt = worktree(repo, "agent-2")
    base = await state_of(wt)
    write(wt, f"{CLASSES}/Beta.cls", "public class Beta { /* edited */ }\n")
    write(wt, f"{CLASSES}/Gamma.cls", "public class Gamma { /* staged */ }\n")
    git(wt, "add", f"{CLASSES}/Gamma.cls")
    write(wt, f"{LWC}/card/card.css", ".x {}\n")  # untracked
    write(wt, f"{CLASSES}/debug.log", "ignored\n")
    status_before = git(wt, "status", "--porcelain=v1", "-z", "--untracked-files=all")
    index = Path(git(wt, "rev-parse", "--path-format=absolute", "--git-path", "index").strip())
    index_before = index.read_bytes()
    result = await plan(wt, base)
    assert delta_paths(result, wt) == [f"{CLASSES}/Beta.cls", f"{CLASSES}/Gamma.cls", f"{LWC}/card/card.css"]
    assert result.state is not None and result.state.uncommitted is True
    assert result.state.commit == base.commit
    # The plan reads the worktree without changing it: same status, same index bytes.
    assert git(wt, "status", "--porcelain=v1", "-z", "--untracked-files=all") == status_before
    assert index.read_bytes() == index_before


async def test_an_uncommitted_edit_deployed_and_then_reverted_is_deployed_again(repo: Path) -> None:
    wt = worktree(repo, "agent-3")
    write(wt, f"{CLASSES}/Alpha.cls", "public class Alpha { /* experiment */ }\n")
    deployed = await state_of(wt)  # the org now holds the experiment
    assert deployed.uncommitted is True
    git(wt, "checkout", "--", f"{CLASSES}/Alpha.cls")  # worktree equals HEAD again
    result = await plan(wt, deployed)
    assert delta_paths(result, wt) == [f"{CLASSES}/Alpha.cls"]
    assert "uncommitted edits deployed with it" in describe(result.decision)


async def test_an_uncommitted_base_without_its_snapshot_falls_back(repo: Path) -> None:
    base = replace(await state_of(repo), uncommitted=True, tree=None)
    result = await plan(repo, base)
    assert isinstance(result.decision, Full) and "uncommitted changes that were not recorded" in result.decision.reason


async def test_a_clean_base_recorded_without_a_tree_uses_its_commit(repo: Path) -> None:
    base = replace(await state_of(repo), tree=None)
    write(repo, f"{CLASSES}/Beta.cls", "public class Beta { Integer y; }\n")
    assert delta_paths(await plan(repo, base), repo) == [f"{CLASSES}/Beta.cls"]


@pytest.mark.parametrize("committed", [True, False])
async def test_a_deleted_file_falls_back(repo: Path, committed: bool) -> None:
    wt = worktree(repo, f"del-{committed}")
    base = await state_of(wt)
    (wt / CLASSES / "Beta.cls-meta.xml").unlink()
    if committed:
        commit(wt, "delete")
    result = await plan(wt, base)
    assert isinstance(result.decision, Full)
    assert f"{CLASSES}/Beta.cls-meta.xml was deleted" in result.decision.reason
    assert "cannot remove metadata" in result.decision.reason


async def test_a_renamed_file_falls_back_naming_both_paths(repo: Path) -> None:
    wt = worktree(repo, "rename")
    base = await state_of(wt)
    git(wt, "mv", f"{LWC}/card/card.html", f"{LWC}/card/tile.html")
    commit(wt, "rename")
    result = await plan(wt, base)
    assert isinstance(result.decision, Full)
    assert f"{LWC}/card/card.html was renamed to {LWC}/card/tile.html" in result.decision.reason


async def test_deleting_a_file_outside_the_source_dir_is_not_a_fallback(repo: Path) -> None:
    wt = worktree(repo, "outside")
    base = await state_of(wt)
    (wt / "README.md").unlink()
    commit(wt, "drop readme")
    assert delta_paths(await plan(wt, base), wt) == []


async def test_a_missing_recorded_commit_falls_back(repo: Path) -> None:
    base = replace(await state_of(repo), commit="0123456789abcdef0123456789abcdef01234567")
    result = await plan(repo, base)
    assert isinstance(result.decision, Full)
    assert "0123456 is not in this repository" in result.decision.reason


async def test_a_recorded_commit_that_is_not_an_ancestor_falls_back(repo: Path) -> None:
    other = worktree(repo, "other")
    write(other, f"{CLASSES}/Alpha.cls", "public class Alpha { /* other branch */ }\n")
    other_head = commit(other, "other branch")
    base = await state_of(other)
    agent = worktree(repo, "agent-4")  # from main: does not contain other's commit
    write(agent, f"{CLASSES}/Beta.cls", "public class Beta { /* agent */ }\n")
    commit(agent, "agent")
    result = await plan(agent, base)
    assert isinstance(result.decision, Full)
    assert f"{other_head[:7]} is not an ancestor" in result.decision.reason


async def test_a_garbage_collected_snapshot_falls_back(repo: Path) -> None:
    base = replace(await state_of(repo), uncommitted=True, tree="fedcba9876543210fedcba9876543210fedcba98")
    result = await plan(repo, base)
    assert isinstance(result.decision, Full) and "garbage-collected" in result.decision.reason


@pytest.mark.parametrize(
    "relative, words",
    [
        ("sfdx-project.json", "sfdx-project.json changed"),
        ("config/project-scratch-def.json", "scratch definition project-scratch-def.json changed"),
        (".forceignore", ".forceignore changed"),
    ],
)
async def test_a_changed_project_file_falls_back(repo: Path, relative: str, words: str) -> None:
    wt = worktree(repo, "cfg-" + relative.replace("/", "-").lstrip("."))
    base = await state_of(wt)
    write(wt, relative, '{"changed": true}\n')
    commit(wt, "config")
    result = await plan(wt, base)
    assert isinstance(result.decision, Full) and words in result.decision.reason


async def test_paths_with_spaces_and_unicode(repo: Path) -> None:
    wt = worktree(repo, "unicode wt é")
    base = await state_of(wt)
    odd = [f"{CLASSES}/Über Klasse.cls", f"{CLASSES}/Über Klasse.cls-meta.xml", f"{LWC}/kärtchen/[x] *.js"]
    for relative in odd:
        write(wt, relative, "x\n")
    commit(wt, "odd names")
    write(wt, f"{CLASSES}/naïve\tname.cls", "untracked\n")
    result = await plan(wt, base)
    assert delta_paths(result, wt) == sorted([*odd, f"{CLASSES}/naïve\tname.cls"])
    assert isinstance(result.decision, Delta) and all(os.path.isfile(p) for p in result.decision.paths)


async def test_a_source_dir_with_glob_characters_is_taken_literally(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    git(root, "init", "--quiet")
    write(root, "src [x]/a.cls", "a\n")
    write(root, "src x/b.cls", "b\n")  # would match the glob "src [x]" if it were one
    commit(root, "base")
    with anyio.fail_after(60):
        base = await capture(root, root / "src [x]", root / "none.json")
        write(root, "src x/b.cls", "changed\n")
        write(root, "src [x]/a.cls", "changed\n")
        result = await plan_deploy(root, root / "src [x]", root / "none.json", base)
    assert delta_paths(result, root) == ["src [x]/a.cls"]


async def test_not_a_git_worktree_falls_back_without_a_state(tmp_path: Path) -> None:
    write(tmp_path / "plain", "force-app/x.cls", "x\n")
    result = await plan(tmp_path / "plain", None)
    assert isinstance(result.decision, Full) and result.state is None
    assert "could not be read" in result.decision.reason


async def test_a_repository_without_a_commit_falls_back(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    write(root, "force-app/x.cls", "x\n")
    git(root, "init", "--quiet")
    result = await plan(root, None)
    assert isinstance(result.decision, Full) and result.state is None
    assert "A commit (HEAD) could not be read" in result.decision.reason


async def test_a_git_that_does_not_answer_in_time_falls_back(repo: Path) -> None:
    base = await state_of(repo)
    result = await plan(repo, base, timeout=0.000_001)
    assert isinstance(result.decision, Full) and "did not answer within" in result.decision.reason


def test_the_state_survives_its_record_and_rejects_other_shapes() -> None:
    state = SourceState(commit="a" * 40, uncommitted=True, project_hash="p", scratch_def_hash=None, tree="b" * 40)
    assert SourceState.from_record(state.to_record()) == state
    assert SourceState.from_record({**state.to_record(), "version": 0}) is None
    assert SourceState.from_record({"version": 1}) is None
    # Only object names: nothing of a damaged record reaches git's argv as an option or a revision range.
    for name, tree in [("--output=/tmp/x", None), ("a" * 40, "HEAD..b"), ("A" * 40, None), ("a" * 39, None)]:
        assert SourceState.from_record({**state.to_record(), "commit": name, "tree": tree}) is None
    assert SourceState.from_record(None) is None


def test_describe_counts_files_and_names_the_full_reason() -> None:
    assert describe(Delta(paths=("/a",), base="a1b2c3d4e5", head="f")) == "Delta deploy: 1 file changed since a1b2c3d"
    assert describe(Delta(paths=("/a", "/b", "/c"), base="a1b2c3d4e5", head="f")) == (
        "Delta deploy: 3 files changed since a1b2c3d"
    )
    assert describe(Full("sfdx-project.json changed.")) == "Full deploy: sfdx-project.json changed."


def argv_bytes(argv: list[str]) -> int:
    return sum(len(os.fsencode(a)) + 1 + 8 for a in argv)


def test_split_keeps_one_command_while_it_fits() -> None:
    base = ["/usr/bin/sf", "project", "deploy", "start", "--target-org", "qa1"]
    paths = [f"/work/wt/force-app/main/default/classes/C{n}.cls" for n in range(100)]
    (argv,) = split_source_dirs(base, paths)
    assert argv[: len(base)] == base and argv[len(base) :: 2] == ["--source-dir"] * 100
    assert argv[len(base) + 1 :: 2] == paths
    assert argv_bytes(argv) < ARGV_BYTES_LIMIT
    assert split_source_dirs(base, []) == [base]


def test_split_cuts_only_at_the_byte_bound_and_keeps_every_path_in_order() -> None:
    base = ["sf", "project", "deploy", "start"]
    paths = [f"/wt/force-app/ü/Klasse {n}.cls" for n in range(5000)]
    argvs = split_source_dirs(base, paths)
    assert len(argvs) > 1
    assert all(argv_bytes(a) <= ARGV_BYTES_LIMIT and a[:4] == base for a in argvs)
    assert [p for a in argvs for p in a[5::2]] == paths
    # Each command but the last is full: the next path would not have fitted.
    pair = argv_bytes(["--source-dir", paths[0]])
    assert all(argv_bytes(a) + pair > ARGV_BYTES_LIMIT for a in argvs[:-1])
    with pytest.raises(ValueError, match="too long"):
        split_source_dirs(base, ["/" + "x" * 300], limit=200)


def test_step_inputs_change_only_with_their_own_inputs(tmp_path: Path) -> None:
    wt = tmp_path / "wt"
    plan_file = write(wt, "data/plan.json", '[{"sobject": "Account", "files": ["accounts.json"]}]')
    records = write(wt, "data/accounts.json", '{"records": []}')
    user_def = write(wt, "config/user-def.json", '{"LastName": "QA"}')
    first = step_inputs(wt, plan_file, user_def, ["B", "A"])
    assert step_inputs(wt, plan_file, user_def, ["A", "B", "A"]) == first
    records.write_text('{"records": [1]}')
    second = step_inputs(wt, plan_file, user_def, ["A", "B"])
    assert second.data != first.data and (second.users, second.permsets) == (first.users, first.permsets)
    user_def.write_text('{"LastName": "Other"}')
    third = step_inputs(wt, plan_file, user_def, ["A", "B", "C"])
    assert third.data == second.data and third.users != second.users and third.permsets != second.permsets
    missing = step_inputs(wt, wt / "data/none.json", wt / "config/none.json", [])
    assert missing.data != third.data and missing.users != third.users


def test_step_inputs_never_read_outside_the_worktree(tmp_path: Path) -> None:
    wt = tmp_path / "wt"
    secret = write(tmp_path, "secret.json", "one")
    plan_file = write(wt, "data/plan.json", '[{"sobject": "Account", "files": ["../../secret.json"]}]')
    before = step_inputs(wt, plan_file, wt / "u.json", [])
    secret.write_text("two")
    assert step_inputs(wt, plan_file, wt / "u.json", []) == before


async def test_commits_behind_counts_only_along_the_history(repo: Path, tmp_path: Path) -> None:
    base = git(repo, "rev-parse", "HEAD").strip()
    for n in range(3):
        commit(repo, f"on {n}")
    with anyio.fail_after(60):
        assert await commits_behind(repo, base) == 3
        assert await commits_behind(repo, git(repo, "rev-parse", "HEAD").strip()) == 0
        side = worktree(repo, "side", start=base)
        off = commit(side, "off the main line")
        assert await commits_behind(repo, off) is None  # not an ancestor of main's HEAD
        assert await commits_behind(repo, "0123456789abcdef0123456789abcdef01234567") is None  # not in the repository
        assert await commits_behind(repo, "--all") is None and await commits_behind(repo, None) is None
        write(tmp_path / "plain", "x.txt", "x\n")
        with pytest.raises(GitError):
            await commits_behind(tmp_path / "plain", base)
