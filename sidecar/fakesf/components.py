"""What each fake org holds, and what a deploy costs: the economics of delta deploys, kept out of the parser.

The real CLI resolves every `--source-dir` path to its whole component: a class file brings its `-meta.xml` (and
the other way round), any file of an `lwc`/`aura` folder brings the whole bundle. The fake does the same, and
after a successful deploy it records, per org (by username), each component's files by their path relative to the
project (the folder holding sfdx-project.json) with a hash of their bytes. Tests can then check that an org holds
exactly what a worktree's source tree holds, whichever mix of full and delta deploys put it there. As in the real
Metadata API a deploy adds or replaces components and never removes one, and a redeployed component (a bundle
that lost a file, say) is replaced whole.

A deploy's duration is a fixed start cost plus a cost per component when the state sets `deployCost`, so a
benchmark sees a full deploy of 400 components cost what it costs against a real org, and a delta of 3 much less.
Standard library only, like the rest of the fake.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from .errors import StateFileError
from .metadata import BUNDLE_TYPES, META, Component, scan
from .state import StateStore

PROJECT_FILE = "sfdx-project.json"
SUCCESS_STATUSES = ("Succeeded", "SucceededPartial")


def resolve(paths: list[str]) -> list[Component]:
    """The components under `paths`, each with all its files: the meta companion and the whole bundle included."""
    components = scan(paths)
    for component in components:
        files: dict[str, None] = {}
        for name in component.files:
            for companion in _companions(Path(name)):
                files[str(companion)] = None
        component.files = sorted(files)
    return components


def _companions(path: Path) -> list[Path]:
    """The files deployed with `path`: its bundle folder's files, or itself and its -meta.xml pair."""
    parents = path.parts[:-1]
    for folder in BUNDLE_TYPES:
        if folder in parents:
            index = len(parents) - 1 - parents[::-1].index(folder)
            bundle = Path(*path.parts[: index + 2])
            return sorted(p for p in bundle.rglob("*") if p.is_file() and not p.name.startswith("."))
    if path.name.endswith(META):
        content = path.with_name(path.name[: -len(META)])
        return [p for p in (content, path) if p.is_file()]
    meta = path.with_name(path.name + META)
    return [p for p in (path, meta) if p.is_file()]


def deploy_seconds(state: dict[str, Any], components: int, default: float) -> float:
    """`deployCost.start + deployCost.perComponent * components` when the state sets `deployCost`, else `default`."""
    cost = state.get("deployCost")
    if cost is None:
        return default
    try:
        start = float(cost.get("start", 0.0))
        per_component = float(cost.get("perComponent", 0.0))
    except (AttributeError, TypeError, ValueError):
        raise StateFileError('deployCost must be {"start": seconds, "perComponent": seconds}') from None
    if start < 0 or per_component < 0:
        raise StateFileError("deployCost values must not be negative")
    return start + per_component * components


def record_deployed(store: StateStore, org: dict[str, Any], components: list[Component], final: dict[str, Any]) -> None:
    """After a deploy that succeeded (fully or partly), note its components on the org, failed ones left out."""
    if final.get("status") not in SUCCESS_STATUSES or not components:
        return
    failures = (final.get("details") or {}).get("componentFailures") or []
    failed = {
        (f.get("componentType"), f.get("fullName")) for f in ([failures] if isinstance(failures, dict) else failures)
    }
    root = project_root(Path(components[0].files[0]) if components[0].files else Path.cwd())
    entries = {
        f"{c.type}:{c.full_name}": {_key(root, Path(f)): _digest(Path(f)) for f in c.files}
        for c in components
        if (c.type, c.full_name) not in failed
    }
    with store.transaction() as state:
        held = state.setdefault("components", {}).setdefault(org["username"], {})
        held.update(entries)


def deployed_files(state: dict[str, Any], username: str) -> dict[str, str]:
    """Every file the org holds, by its path relative to the project, with the hash of the bytes deployed."""
    held = (state.get("components") or {}).get(username) or {}
    return {path: digest for files in held.values() for path, digest in files.items()}


def source_files(source_dir: Path) -> dict[str, str]:
    """What a full deploy of `source_dir` would leave on an org, in the shape of `deployed_files`."""
    root = project_root(source_dir)
    return {_key(root, Path(f)): _digest(Path(f)) for c in resolve([str(source_dir)]) for f in c.files}


def project_root(path: Path) -> Path:
    """The nearest folder at or above `path` holding sfdx-project.json (the CLI's project); else the cwd."""
    start = path.resolve()
    for folder in [start, *start.parents]:
        if (folder / PROJECT_FILE).is_file():
            return folder
    return Path.cwd().resolve()


def _key(root: Path, path: Path) -> str:
    resolved = path.resolve()
    try:
        return resolved.relative_to(root).as_posix()
    except ValueError:
        return resolved.as_posix()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
