"""Decide whether an org can get a delta deploy (only the source files that changed) or needs a full deploy.

An org that already holds a recorded state of the project (a commit of the same repository, deployed by an earlier
run or by a hydrating pre-warm) only needs the source files under `sourceDir` that were added or modified since.
Deploy cannot remove metadata, so anything that would need removing, or anything that makes the recorded state
untrustworthy, falls back to a full deploy with a sentence that says why.

How the comparison is exact: `capture()` writes the tree of the worktree as it is now (HEAD plus uncommitted and
untracked, not ignored, files) through a temporary index, so neither the worktree's index nor its files change. The
org records that tree next to its commit. The next plan compares the recorded tree with the tree of the worktree at
that time (`git diff-tree`), so an edit that was deployed uncommitted and later reverted is seen as a change, which
a diff against the commit alone would miss. Worktrees of one repository share objects, so a state recorded from
another worktree (or from `projectDir`) is visible. The tree objects are unreferenced: if `git gc` prunes one
(two weeks by default), the plan says so and falls back to a full deploy.

git runs as an argv list (never a shell) through `anyio.run_process`, stdin `/dev/null`, each call time-limited; a
git that is missing, slow or failing gives a full deploy, never an error of the run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from subprocess import DEVNULL
from typing import Any

import anyio

GIT_TIMEOUT_SECONDS = 30.0
# Bytes of argv one `sf` command may take (strings, their NUL and one 8-byte pointer each). Linux's ARG_MAX is
# 2 MiB and macOS's 1 MiB, both shared with the environment; 128 KiB is also Linux's limit on a single string.
# 64 KiB stays well under all of them and still holds several hundred source paths.
ARGV_BYTES_LIMIT = 64 * 1024
PROJECT_FILE = "sfdx-project.json"
FORCEIGNORE = ".forceignore"
STATE_VERSION = 1
OBJECT_NAME = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # a SHA-1 or SHA-256 object name, as git prints them
# git behaves the same whatever the user's locale and configuration: no prompts, no optional locks on the
# worktree's index, no fsmonitor program from the repository's config.
GIT_CONFIG = ("-c", "core.fsmonitor=false", "-c", "core.quotePath=false")
GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}


@dataclass(frozen=True)
class SourceState:
    """What an org holds of the project after a successful deploy: the pipeline stores it on the org as is.

    `commit` is the worktree's HEAD, `tree` the tree of the files that were deployed (HEAD plus uncommitted and
    untracked files), `uncommitted` whether that tree differs from HEAD under the source dir. The hashes are of
    sfdx-project.json, .forceignore and the scratch definition (None when the file is absent).
    """

    commit: str
    uncommitted: bool
    project_hash: str | None
    scratch_def_hash: str | None
    forceignore_hash: str | None = None
    tree: str | None = None

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready dict for the org's record (one column, so the state can grow without a migration)."""
        return {"version": STATE_VERSION, **asdict(self)}

    @classmethod
    def from_record(cls, record: dict[str, Any] | None) -> SourceState | None:
        """The state stored by `to_record`; None for a missing, older or damaged record (the next deploy is full)."""
        if not isinstance(record, dict) or record.get("version") != STATE_VERSION:
            return None
        commit, tree = record.get("commit"), record.get("tree")
        if not isinstance(commit, str) or not OBJECT_NAME.fullmatch(commit):
            return None
        if tree is not None and (not isinstance(tree, str) or not OBJECT_NAME.fullmatch(tree)):
            return None  # an object name or nothing: what reaches git's argv is never an option or a revision range
        try:
            return cls(
                commit=commit,
                uncommitted=bool(record["uncommitted"]),
                project_hash=record.get("project_hash"),
                scratch_def_hash=record.get("scratch_def_hash"),
                forceignore_hash=record.get("forceignore_hash"),
                tree=tree,
            )
        except (KeyError, TypeError):
            return None


@dataclass(frozen=True)
class Delta:
    """Deploy only `paths` (absolute, sorted; empty when nothing changed) to bring the org from `base` to `head`."""

    paths: tuple[str, ...]
    base: str
    head: str
    base_uncommitted: bool = False


@dataclass(frozen=True)
class Full:
    """Deploy the whole source dir; `reason` is the sentence the pane shows."""

    reason: str


@dataclass(frozen=True)
class Plan:
    """The decision, and the state to record on the org once the deploy succeeded (None when git could not tell)."""

    decision: Delta | Full
    state: SourceState | None


class GitError(Exception):
    """git failed, timed out or is missing; the message is a sentence for the pane."""


async def plan_deploy(
    worktree: Path,
    source_dir: Path,
    scratch_def: Path,
    recorded: SourceState | None,
    *,
    timeout: float = GIT_TIMEOUT_SECONDS,  # noqa: ASYNC109 - each git call's own limit
) -> Plan:
    """Delta or full deploy of `source_dir` (inside `worktree`) to an org that holds `recorded`.

    Two rounds of git calls when the worktree is clean under the source dir, each round's calls side by side: a
    `rev-parse` (the top, the index, HEAD, and whether the recorded commit and snapshot still exist) beside a
    `status` of the source dir; then the ancestry check beside the `diff-tree` of the change. Uncommitted files
    add the snapshot of the worktree (`add` and `write-tree` into a temporary index) before the diff, and the
    rarer answers (a missing object) a call each, so the sentence can say which.
    """
    if recorded is not None and SourceState.from_record(recorded.to_record()) is None:
        recorded = None  # not object names: nothing of it reaches git, and the deploy is full
    git = _Git(worktree, timeout)
    try:
        head, known, clean = await _look(git, source_dir, _recorded_revisions(recorded))
    except GitError as exc:
        return Plan(Full(f"{exc} A full deploy runs."), None)
    asked = _Asked()
    state: SourceState | GitError
    async with anyio.create_task_group() as tg:
        if recorded is not None and known and recorded.commit != head.commit:
            tg.start_soon(asked.ancestry, git, recorded.commit, head.commit)
        try:
            state = await _capture(git, head, worktree, source_dir, scratch_def, clean=clean)
            if recorded is not None and known and _config_change(recorded, state, scratch_def) is None:
                base = _base_tree(recorded)
                if base is not None and base != state.tree:  # the diff beside the ancestry check
                    asked.changes = await git.changes(base, state.tree or "", _pathspec(head.top, source_dir))
        except GitError as exc:
            state = exc
            tg.cancel_scope.cancel()
    if isinstance(state, GitError):
        return Plan(Full(f"{state} A full deploy runs."), None)
    if recorded is None:
        return Plan(Full("The org holds no recorded deploy of this project, so everything is deployed."), state)
    try:
        return Plan(await _decide(git, head, source_dir, scratch_def, recorded, state, known, asked), state)
    except GitError as exc:
        return Plan(Full(f"{exc} A full deploy runs."), state)


async def capture(
    worktree: Path,
    source_dir: Path,
    scratch_def: Path,
    *,
    timeout: float = GIT_TIMEOUT_SECONDS,  # noqa: ASYNC109 - each git call's own limit
) -> SourceState:
    """The worktree's state now: HEAD, the tree of its files under the source dir, and the configuration hashes.

    Call it before the deploy starts: an edit made while the CLI runs is then newer than the recorded tree and is
    deployed next time. Raises GitError when the worktree is not a git worktree with a commit, or git fails.
    """
    git = _Git(worktree, timeout)
    head, _, clean = await _look(git, source_dir, ())
    return await _capture(git, head, worktree, source_dir, scratch_def, clean=clean)


@dataclass(frozen=True)
class _Head:
    """What one `git rev-parse` tells of a worktree: its top folder, its index file, HEAD's commit and tree."""

    top: Path
    index: Path
    commit: str
    tree: str


HEAD_ARGS = (
    "rev-parse", "--show-toplevel", "--path-format=absolute", "--git-path", "index", "HEAD^{commit}", "HEAD^{tree}"
)  # fmt: skip


async def _look(git: _Git, source_dir: Path, revisions: Sequence[str]) -> tuple[_Head, bool, bool]:
    """HEAD (`_read_head`) and whether the source dir is clean (nothing staged, modified or untracked under it),
    asked side by side: the status needs no answer of the rev-parse, its pathspec is relative to the worktree."""
    clean: list[bool] = []

    async def status() -> None:
        spec = _relative_pathspec(git.worktree, source_dir)
        if spec is None:
            return  # outside the worktree: the snapshot path says so in its own words
        code, out, _ = await git.exec(
            ["status", "--porcelain=v1", "-z", "--untracked-files=normal", "--no-renames", "--", spec]
        )
        clean.append(code == 0 and not out)

    head: list[tuple[_Head, bool]] = []
    failed: list[GitError] = []

    async def read() -> None:
        try:
            head.append(await _read_head(git, revisions))
        except GitError as exc:
            failed.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(read)
        with contextlib.suppress(GitError):  # not known to be clean: the snapshot runs and meets the same problem
            await status()
    if failed:
        raise failed[0]
    return head[0][0], head[0][1], clean == [True]


async def _read_head(git: _Git, revisions: Sequence[str]) -> tuple[_Head, bool]:
    """The worktree's `_Head`, and whether every one of `revisions` names an object of the repository (one call
    when all is well; on any failure the facts are read one by one, so the sentence names what is wrong)."""
    code, out, _ = await git.exec([*HEAD_ARGS, *revisions])
    lines = out.decode("utf-8", "surrogateescape").split("\n")
    if code == 0 and len(lines) == 4 + len(revisions) + 1 and lines[-1] == "":
        top, index, commit, tree = lines[:4]
        return _Head(Path(top), Path(index), commit, tree), True
    top_dir = Path((await git.run("rev-parse", "--show-toplevel")).strip())
    head = (await git.run("rev-parse", "--verify", "--quiet", "HEAD^{commit}", what="A commit (HEAD)")).strip()
    head_tree = (await git.run("rev-parse", "--verify", "--quiet", "HEAD^{tree}", what="The tree of HEAD")).strip()
    index_file = Path((await git.run("rev-parse", "--path-format=absolute", "--git-path", "index")).strip())
    return _Head(top_dir, index_file, head, head_tree), False


def _recorded_revisions(recorded: SourceState | None) -> list[str]:
    """The recorded commit and snapshot as revisions `rev-parse` checks (object names only, never an option)."""
    if recorded is None:
        return []
    revisions = [f"{recorded.commit}^{{commit}}"]
    if recorded.tree is not None:
        revisions.append(f"{recorded.tree}^{{tree}}")
    return revisions


def _base_tree(recorded: SourceState) -> str | None:
    """The tree the org holds: its snapshot, or its commit's tree for a clean deploy recorded without one; None
    when it included uncommitted changes nobody recorded."""
    if recorded.tree is not None:
        return recorded.tree
    return None if recorded.uncommitted else f"{recorded.commit}^{{tree}}"


def _config_change(recorded: SourceState, now: SourceState, scratch_def: Path) -> Full | None:
    """A change of the files that decide what deploys (or to what org): a full deploy, saying which."""
    short = recorded.commit[:7]
    if recorded.project_hash != now.project_hash:
        return Full(f"{PROJECT_FILE} changed since the org's last deploy ({short}).")
    if recorded.forceignore_hash != now.forceignore_hash:
        return Full(f"{FORCEIGNORE} changed since the org's last deploy ({short}), so other files may now deploy.")
    if recorded.scratch_def_hash != now.scratch_def_hash:
        return Full(f"The scratch definition {scratch_def.name} changed since the org's last deploy ({short}).")
    return None


class _Asked:
    """The answers git gave while the snapshot was taken: the ancestry (None: not asked) and the change (None:
    not asked, because the trees are equal or a full deploy was already certain)."""

    def __init__(self) -> None:
        self.is_ancestor: bool | GitError | None = None
        self.changes: list[tuple[str, str, str]] | None = None

    async def ancestry(self, git: _Git, ancestor: str, descendant: str) -> None:
        try:
            self.is_ancestor = await git.is_ancestor(ancestor, descendant)
        except GitError as exc:
            self.is_ancestor = exc


async def _capture(
    git: _Git, head: _Head, worktree: Path, source_dir: Path, scratch_def: Path, *, clean: bool
) -> SourceState:
    """The state to record. A clean source dir is HEAD's tree as it is; otherwise the snapshot goes through a
    temporary index (a copy of the real one, so git's stat cache spares hashing unchanged files)."""
    spec = _pathspec(head.top, source_dir)
    if clean:
        tree, uncommitted = head.tree, False
    else:
        with tempfile.TemporaryDirectory(prefix="sweatshop-delta-") as scratch:
            temp_index = Path(scratch) / "index"
            env = {"GIT_INDEX_FILE": str(temp_index)}
            if head.index.is_file():
                shutil.copyfile(head.index, temp_index)
            else:
                await git.run("read-tree", "HEAD", env=env)
            await git.run("add", "--all", "--", spec, env=env)
            tree = (await git.run("write-tree", env=env)).strip()
        # The temporary index differs from HEAD only under the source dir and where the real index has staged
        # changes, so an equal tree settles it without a diff.
        uncommitted = tree != head.tree and await git.differs(head.commit, tree, spec)
    return SourceState(
        commit=head.commit,
        uncommitted=uncommitted,
        project_hash=file_hash(worktree / PROJECT_FILE),
        scratch_def_hash=file_hash(scratch_def),
        forceignore_hash=file_hash(worktree / FORCEIGNORE),
        tree=tree,
    )


async def _decide(
    git: _Git,
    head: _Head,
    source_dir: Path,
    scratch_def: Path,
    recorded: SourceState,
    now: SourceState,
    known: bool,
    asked: _Asked,
) -> Delta | Full:
    """The decision; `known` says the recorded commit and snapshot were found, `asked` what git already said."""
    short = recorded.commit[:7]
    config = _config_change(recorded, now, scratch_def)
    if config is not None:
        return config
    if not known and not await git.exists(f"{recorded.commit}^{{commit}}"):
        return Full(f"The org's recorded commit {short} is not in this repository (or was garbage-collected).")
    answer = asked.is_ancestor
    if isinstance(answer, GitError):
        raise answer
    if answer is None:
        answer = recorded.commit == now.commit or await git.is_ancestor(recorded.commit, now.commit)
    if not answer:
        return Full(f"The org's recorded commit {short} is not an ancestor of this worktree's HEAD {now.commit[:7]}.")
    base_tree = _base_tree(recorded)
    if base_tree is None:
        return Full(f"The org's last deploy ({short}) included uncommitted changes that were not recorded.")
    if recorded.tree is not None and not known and not await git.exists(f"{recorded.tree}^{{tree}}"):
        return Full(f"The snapshot of the org's last deploy ({short}) was garbage-collected.")
    assert now.tree is not None
    changes = asked.changes
    if changes is None:
        same = base_tree == now.tree  # equal trees: nothing changed, no diff to run
        changes = [] if same else await git.changes(base_tree, now.tree, _pathspec(head.top, source_dir))
    paths: list[str] = []
    for status, old, new in changes:
        if status == "D":
            return Full(f"{old} was deleted since {short}; a delta deploy cannot remove metadata.")
        if status == "R":
            return Full(f"{old} was renamed to {new} since {short}; a delta deploy cannot remove metadata.")
        paths.append(str(head.top / new))
    return Delta(
        paths=tuple(sorted(paths)), base=recorded.commit, head=now.commit, base_uncommitted=recorded.uncommitted
    )


def _relative_pathspec(worktree: Path, source_dir: Path) -> str | None:
    """The source dir as a literal pathspec relative to the worktree (git's cwd); None when it is outside."""
    try:
        relative = source_dir.resolve().relative_to(worktree.resolve())
    except ValueError:
        return None
    return ":(literal)" + relative.as_posix() if relative.parts else "."


async def commits_behind(
    repo: Path,
    commit: str | None,
    *,
    timeout: float = GIT_TIMEOUT_SECONDS,  # noqa: ASYNC109 - the git call's own limit
) -> int | None:
    """How many commits `repo`'s HEAD has that `commit` lacks, in one `rev-list --left-right --count`; None when
    `commit` is not an ancestor of HEAD (it has commits HEAD lacks), is not in the repository, or is not an object
    name at all. Raises GitError when git itself fails or `repo` has no HEAD."""
    if commit is None or not OBJECT_NAME.fullmatch(commit):
        return None
    git = _Git(repo, timeout)
    code, out, err = await git.exec(["rev-list", "--left-right", "--count", f"{commit}...HEAD^{{commit}}", "--"])
    if code != 0:
        await git.run("rev-parse", "--verify", "--quiet", "HEAD^{commit}", what="A commit (HEAD)")  # a repository?
        if await git.exists(f"{commit}^{{commit}}"):
            raise GitError(f"git rev-list failed in {repo} ({err.decode('utf-8', 'replace').strip() or code}).")
        return None
    left, _, right = out.decode("ascii", "replace").strip().partition("\t")
    if not left.isdigit() or not right.isdigit():
        raise GitError(f"git rev-list printed {out[:80]!r} in {repo}.")
    return int(right) if int(left) == 0 else None


def _pathspec(top: Path, source_dir: Path) -> str:
    """The source dir as a literal pathspec relative to the repository's top (no glob magic in odd names)."""
    try:
        relative = source_dir.resolve().relative_to(top.resolve())
    except ValueError:
        raise GitError(f"The source dir {source_dir} is outside the git worktree {top}.") from None
    return ":(top,literal)" + relative.as_posix() if relative.parts else ":(top)"


class _Git:
    """git commands in one worktree, each an argv list with stdin /dev/null and its own time limit."""

    def __init__(self, worktree: Path, timeout: float) -> None:
        self.worktree = worktree
        self.timeout = timeout

    async def exec(self, args: Sequence[str], env: dict[str, str] | None = None) -> tuple[int, bytes, bytes]:
        git = shutil.which("git")
        if git is None:
            raise GitError("git is not installed, so changes cannot be computed.")
        try:
            with anyio.fail_after(self.timeout):
                done = await anyio.run_process(
                    [git, *GIT_CONFIG, *args],
                    stdin=DEVNULL,
                    check=False,
                    cwd=self.worktree,
                    env={**os.environ, **GIT_ENV, **(env or {})},
                )
        except TimeoutError:
            raise GitError(f"git {args[0]} did not answer within {self.timeout:g} s.") from None
        except OSError as exc:
            raise GitError(f"git could not run in {self.worktree}: {exc.strerror or exc}.") from None
        return done.returncode, done.stdout, done.stderr

    async def run(self, *args: str, env: dict[str, str] | None = None, what: str | None = None) -> str:
        code, out, err = await self.exec(args, env)
        if code != 0:
            detail = err.decode("utf-8", "replace").strip().splitlines()
            reason = detail[-1] if detail else f"exit code {code}"
            subject = what or f"git {args[0]}"
            raise GitError(f"{subject} could not be read in {self.worktree} ({reason}).")
        return out.decode("utf-8", "surrogateescape")

    async def exists(self, revision: str) -> bool:
        code, _, _ = await self.exec(["cat-file", "-e", revision])
        return code == 0

    async def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        code, _, err = await self.exec(["merge-base", "--is-ancestor", ancestor, descendant])
        if code in (0, 1):
            return code == 0
        raise GitError(f"git merge-base failed ({err.decode('utf-8', 'replace').strip() or code}).")

    async def differs(self, old: str, new: str, spec: str) -> bool:
        code, _, err = await self.exec(["diff-tree", "--quiet", "-r", old, new, "--", spec])
        if code in (0, 1):
            return code == 1
        raise GitError(f"git diff-tree failed ({err.decode('utf-8', 'replace').strip() or code}).")

    async def changes(self, old: str, new: str, spec: str) -> list[tuple[str, str, str]]:
        """(status letter, old path, new path) per changed file; renames detected so the pane can name them."""
        out = await self.run(
            "diff-tree", "-r", "-z", "--name-status", "-M", "--no-ext-diff", "--no-textconv", old, new, "--", spec
        )
        fields = out.split("\0")
        changes: list[tuple[str, str, str]] = []
        i = 0
        while i < len(fields) and fields[i]:
            status = fields[i][0]
            if status in "RC":
                changes.append((status, fields[i + 1], fields[i + 2]))
                i += 3
            else:
                changes.append((status, fields[i + 1], fields[i + 1]))
                i += 2
        return changes


def file_hash(path: Path) -> str | None:
    """sha256 of a regular file's bytes; None when it is absent (a FIFO or device is never read)."""
    if not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def split_source_dirs(
    base_argv: Sequence[str], paths: Sequence[str], *, limit: int = ARGV_BYTES_LIMIT
) -> list[list[str]]:
    """`base_argv + --source-dir P...` as one argv, or as several when one would pass `limit` bytes.

    Each argv string costs its UTF-8 bytes, a NUL and an 8-byte pointer (what execve copies). Paths stay in order,
    so the files of one component usually land in the same deploy (the CLI resolves each to its component anyway).
    A single path too long for any argv raises ValueError rather than building a command the kernel refuses.
    """

    def cost(arg: str) -> int:
        return len(os.fsencode(arg)) + 1 + 8

    fixed = sum(cost(a) for a in base_argv)
    argvs: list[list[str]] = []
    current: list[str] = []
    used = fixed
    for path in paths:
        pair = cost("--source-dir") + cost(path)
        if fixed + pair > limit:
            raise ValueError(f"the path {path[:80]}... is too long for one command line ({limit} bytes)")
        if current and used + pair > limit:
            argvs.append([*base_argv, *current])
            current, used = [], fixed
        current += ["--source-dir", path]
        used += pair
    if current or not argvs:
        argvs.append([*base_argv, *current])
    return argvs


def describe(decision: Delta | Full) -> str:
    """The sentence the pane shows for the deploy mode: `Delta deploy: 3 files changed since a1b2c3d`."""
    if isinstance(decision, Full):
        return f"Full deploy: {decision.reason}"
    since = decision.base[:7] + (" (and the uncommitted edits deployed with it)" if decision.base_uncommitted else "")
    count = len(decision.paths)
    if count == 0:
        return f"Delta deploy: nothing changed since {since}, so nothing is deployed."
    return f"Delta deploy: {count} file{'' if count == 1 else 's'} changed since {since}"


@dataclass(frozen=True)
class StepInputs:
    """Hashes of what the data, users and permsets steps were given, so each step can be skipped on its own."""

    data: str
    users: str
    permsets: str


def step_inputs(worktree: Path, data_plan: Path, user_def: Path, permission_sets: Iterable[str]) -> StepInputs:
    """Hash the inputs of the three steps after the deploy; an org that already got equal hashes skips the step.

    The data hash covers the plan and the sObject tree files it names (a changed record file reloads data); a
    named file that is missing, not a regular file or outside the worktree counts by its name only. Permission set
    order does not matter. Blocking file reads: call it from a worker thread in the event loop.
    """
    root = worktree.resolve()
    data = hashlib.sha256(b"data-v1\0")
    plan_bytes = data_plan.read_bytes() if data_plan.is_file() else None
    data.update(b"absent" if plan_bytes is None else plan_bytes)
    for name in _plan_files(plan_bytes):
        data.update(b"\0" + name.encode("utf-8", "surrogateescape") + b"\0")
        target = (data_plan.parent / name).resolve()
        if target.is_file() and (target == root or root in target.parents):
            data.update(hashlib.sha256(target.read_bytes()).digest())
        else:
            data.update(b"unreadable")
    users = hashlib.sha256(b"users-v1\0" + (user_def.read_bytes() if user_def.is_file() else b"absent"))
    permsets = hashlib.sha256(b"permsets-v1\0" + "\0".join(sorted(set(permission_sets))).encode("utf-8"))
    return StepInputs(data=data.hexdigest(), users=users.hexdigest(), permsets=permsets.hexdigest())


def _plan_files(plan: bytes | None) -> list[str]:
    """The sObject tree files a data plan names (`[{"sobject", "files": [...]}]`); none for any other shape."""
    if plan is None:
        return []
    try:
        entries = json.loads(plan)
    except (ValueError, UnicodeDecodeError):
        return []
    names: list[str] = []
    for entry in entries if isinstance(entries, list) else []:
        files = entry.get("files") if isinstance(entry, dict) else None
        names += [f for f in files if isinstance(f, str)] if isinstance(files, list) else []
    return names
