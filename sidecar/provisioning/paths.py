"""The paths a run may touch: an absolute, existing worktree, and settings paths that resolve inside it.

An agent controls its worktree, so a settings path such as `data/sample-data-plan.json` may be a symlink the agent
planted to make the CLI read (and upload) a file elsewhere. Every settings-derived path is resolved (symlinks
followed, `..` refused) and must land inside the resolved worktree; the resolved path is what `sf` receives.
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
            f"orgPool.{setting} {relative!r} resolves outside the worktree (to {candidate}): a symlink points out of it",
            setting=setting,
        )
    return candidate


@dataclass(frozen=True)
class RunPaths:
    worktree: Path
    scratch_def: Path
    source_dir: Path
    data_plan: Path
    user_def: Path


def run_paths(worktree_path: str, settings: OrgPoolSettings) -> RunPaths:
    worktree = check_directory(worktree_path, "worktreePath")
    return RunPaths(
        worktree=worktree,
        scratch_def=inside(worktree, settings.scratchDefPath, "scratchDefPath"),
        source_dir=inside(worktree, settings.sourceDir, "sourceDir"),
        data_plan=inside(worktree, settings.dataPlanPath, "dataPlanPath"),
        user_def=inside(worktree, settings.userDefPath, "userDefPath"),
    )
