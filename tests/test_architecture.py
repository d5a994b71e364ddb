"""Imports point one way: handlers -> services -> store -> db; the wire (sidecar.rpc) sits above the handlers'
domain and below nothing: only it imports jsonrpcserver, nothing below the handlers imports it, and the domain never
names a wire method."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "sidecar"
WIRE = ("jsonrpcserver", "sidecar.rpc", "sidecar.handlers", "sidecar.app", "sidecar.devtools")
DOMAIN = ("pool", "governance", "provisioning", "sf")
BELOW_THE_HANDLERS = (*DOMAIN, "db.py", "settings.py", "errors.py", "wiremodel.py", "commitpoint.py", "timeutil.py")

RULES = [
    *[(where, WIRE) for where in BELOW_THE_HANDLERS],
    ("sf", (*WIRE, "sidecar.pool", "sidecar.governance", "sidecar.provisioning")),
    (
        "rpc",
        (
            "sidecar.pool",
            "sidecar.governance",
            "sidecar.provisioning",
            "sidecar.handlers",
            "sidecar.sf",
            "sidecar.db",
            "sidecar.settings",
            "sidecar.app",
            "sidecar.devtools",
        ),
    ),
    ("rpc/framing.py", ("jsonrpcserver", "sidecar.rpc.session", "sidecar.rpc.dispatch", "sidecar.rpc.transport")),
    ("rpc/transport.py", ("jsonrpcserver", "sidecar.rpc.session", "sidecar.rpc.dispatch")),
    ("rpc/session.py", ("jsonrpcserver", "sidecar.rpc.dispatch")),
]


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def files_of(where: str) -> list[Path]:
    target = ROOT / where
    assert target.exists(), f"{where} does not exist (update the rules)"
    return [target] if target.suffix == ".py" else sorted(target.rglob("*.py"))


@pytest.mark.parametrize("where, forbidden", RULES, ids=[r[0] for r in RULES])
def test_import_direction(where: str, forbidden: tuple[str, ...]) -> None:
    for file in files_of(where):
        bad = {name for name in imports_of(file) if name.startswith(forbidden)}
        assert not bad, f"{file.relative_to(ROOT.parent)} imports {sorted(bad)}"


def test_only_the_dispatch_module_imports_jsonrpcserver() -> None:
    importers = {
        file.relative_to(ROOT).as_posix()
        for file in ROOT.rglob("*.py")
        if any(name.startswith("jsonrpcserver") for name in imports_of(file))
    }
    assert importers == {"rpc/dispatch.py"}


def test_nothing_imports_the_composition_root() -> None:
    for file in ROOT.rglob("*.py"):
        if file.name in ("app.py", "__main__.py"):
            continue
        assert "sidecar.app" not in imports_of(file), f"{file} imports sidecar.app"


def test_the_runtime_never_imports_the_devtools() -> None:
    for file in ROOT.rglob("*.py"):
        if "devtools" in file.parts:
            continue
        assert not any(n.startswith("sidecar.devtools") for n in imports_of(file)), f"{file} imports sidecar.devtools"


def wire_names() -> set[str]:
    from sidecar.rpc.surface import method_specs, notifications

    return {spec.name for spec in method_specs()} | {n.name for n in notifications()} | {"$/cancelRequest"}


@pytest.mark.parametrize("where", DOMAIN)
def test_the_domain_never_names_a_wire_method(where: str) -> None:
    names = wire_names()
    for file in files_of(where):
        tree = ast.parse(file.read_text(encoding="utf-8"))
        strings = {
            node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)
        }
        named = {s for s in strings if s in names}
        assert not named, f"{file.relative_to(ROOT.parent)} names wire methods {sorted(named)}"


def test_wire_names_look_like_channels() -> None:
    assert all(re.fullmatch(r"[$a-z]+[:/][A-Za-z]+", name) for name in wire_names())
