"""The one path check of provisioning: an absolute worktree that is a Salesforce project, and settings paths that
resolve inside it, checked again right before each command that uses them.

An agent controls its worktree, so a settings path such as `data/sample-data-plan.json` may be a symlink the agent
planted to make the CLI read (and upload) a file elsewhere, and it may plant it while the run is under way (swap
`data/` for a link during the deploy). Every settings-derived path is resolved (symlinks followed, `..` refused)
and must land inside the resolved worktree, when the request arrives (so nothing is leased for a run that cannot
succeed) and again each time a step reads it (`RunPaths`' properties); the resolved path is what `sf` receives.
A worktree must be a Salesforce project (`sfdx-project.json` and the source directory inside it): `/`, `/etc`,
`/proc` or a link to them are refused before any org is taken.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from sidecar.errors import AccessDenied, InvalidParams
from sidecar.settings import OrgPoolSettings

# Permission set API names: letters, digits and underscores, starting with a letter (no leading '-': no flag).
PERMSET_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")


def check_directory(path: str, param: str) -> Path:
    """An absolute, existing directory, resolved (symlinks followed)."""
    if not isinstance(path, str) or not path or "\x00" in path:
        raise InvalidParams(f"{param} must be a non-empty path", param=param)
    if not os.path.isabs(path):
        raise InvalidParams(f"{param} must be an absolute path, got {path!r}", param=param)
    resolved = Path(path).resolve()
    if not resolved.is_dir():
        raise InvalidParams(f"{param} {path!r} is not an existing directory", param=param)
    return resolved


def inside(root: Path, relative: str, setting: str) -> Path:
    """`root/relative`, resolved, or ACCESS_DENIED when the settings value escapes `root`."""
    if not relative or "\x00" in relative:
        raise InvalidParams(f"orgPool.{setting} is empty", param=f"orgPool.{setting}")
    if os.path.isabs(relative) or PureWindowsPath(relative).drive:
        raise AccessDenied(
            f"orgPool.{setting} must be a path relative to the worktree, not {relative!r}", setting=setting
        )
    if ".." in PurePosixPath(relative.replace("\\", "/")).parts:
        raise AccessDenied(f"orgPool.{setting} {relative!r} must not contain '..'", setting=setting)
    candidate = (root / relative).resolve()
    if candidate != root and root not in candidate.parents:
        raise AccessDenied(
            f"orgPool.{setting} {relative!r} resolves outside the worktree (to {candidate}): "
            "a symlink points out of it",
            setting=setting,
        )
    return candidate


PROJECT_FILE = "sfdx-project.json"


def check_project(worktree: Path, settings: OrgPoolSettings) -> None:
    """INVALID_PARAMS naming worktreePath unless the resolved worktree holds `sfdx-project.json` and the source
    directory (the filesystem root never does: it is refused by name, whatever it holds)."""
    if worktree == Path(worktree.anchor):
        raise InvalidParams(
            f"worktreePath {str(worktree)!r} is the filesystem root, not a Salesforce project", param="worktreePath"
        )
    project = (worktree / PROJECT_FILE).resolve()
    if project.parent != worktree or not project.is_file():  # absent, or a link to a file elsewhere
        raise InvalidParams(
            f"worktreePath {str(worktree)!r} is not a Salesforce project: it has no {PROJECT_FILE}",
            param="worktreePath",
        )
    if not inside(worktree, settings.sourceDir, "sourceDir").is_dir():
        raise InvalidParams(
            f"worktreePath {str(worktree)!r} has no source directory {settings.sourceDir} (orgPool.sourceDir)",
            param="worktreePath",
        )


def check_unchanged(worktree: Path) -> Path:
    """The worktree as it was resolved when the run began, or ACCESS_DENIED when a link now leads elsewhere."""
    now = worktree.resolve()
    if now != worktree:
        raise AccessDenied(
            f"worktree {worktree} now resolves to {now}: a symlink was swapped in while the run was under way",
            param="worktreePath",
        )
    return worktree


@dataclass(frozen=True)
class RunPaths:
    """A run's worktree (resolved once) and the settings paths, resolved and checked again at every access, so the
    path a command receives is the one checked just before it (an agent may swap in a symlink mid-run)."""

    worktree: Path
    settings: OrgPoolSettings

    @property
    def cwd(self) -> Path:
        """Where a command runs: the worktree, checked unchanged."""
        return check_unchanged(self.worktree)

    def _inside(self, relative: str, setting: str) -> Path:
        return inside(check_unchanged(self.worktree), relative, setting)

    @property
    def scratch_def(self) -> Path:
        return self._inside(self.settings.scratchDefPath, "scratchDefPath")

    @property
    def source_dir(self) -> Path:
        return self._inside(self.settings.sourceDir, "sourceDir")

    @property
    def data_plan(self) -> Path:
        return self._inside(self.settings.dataPlanPath, "dataPlanPath")

    @property
    def user_def(self) -> Path:
        return self._inside(self.settings.userDefPath, "userDefPath")

    def check_all(self) -> None:
        for name in ("scratch_def", "source_dir", "data_plan", "user_def"):
            getattr(self, name)


def run_paths(worktree_path: str, settings: OrgPoolSettings) -> RunPaths:
    """Every path of a run checked now (the request's answer names what is wrong); `check_project` is separate so a
    settings path that escapes is reported as ACCESS_DENIED before the project's shape is judged."""
    paths = RunPaths(worktree=check_directory(worktree_path, "worktreePath"), settings=settings)
    paths.check_all()
    check_project(paths.worktree, settings)
    return paths
