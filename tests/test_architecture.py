"""Imports point one way: handlers -> services -> store -> db; the pool and governance know nothing of JSON-RPC."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "sidecar"
WIRE = ("jsonrpcserver", "sidecar.transport", "sidecar.framing", "sidecar.rpc", "sidecar.handlers", "sidecar.app")

RULES = [
    ("pool", WIRE),
    ("governance", WIRE),
    ("provisioning", WIRE),
    ("sf", WIRE + ("sidecar.pool", "sidecar.governance", "sidecar.provisioning")),
    ("framing.py", ("sidecar.pool", "sidecar.governance", "sidecar.provisioning", "sidecar.handlers", "jsonrpcserver")),
    ("transport.py", ("sidecar.pool", "sidecar.governance", "sidecar.provisioning", "sidecar.handlers", "jsonrpcserver")),
]


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("where, forbidden", RULES, ids=[r[0] for r in RULES])
def test_import_direction(where: str, forbidden: tuple[str, ...]) -> None:
    target = ROOT / where
    files = [target] if target.suffix == ".py" else sorted(target.rglob("*.py"))
    if not files or not target.exists():
        pytest.skip(f"{where} does not exist yet")
    for file in files:
        bad = {name for name in imports_of(file) if name.startswith(forbidden)}
        assert not bad, f"{file.relative_to(ROOT.parent)} imports {sorted(bad)}"


def test_nothing_imports_the_composition_root() -> None:
    for file in ROOT.rglob("*.py"):
        if file.name in ("app.py", "__main__.py"):
            continue
        assert "sidecar.app" not in imports_of(file), f"{file} imports sidecar.app"
