"""Extract the real Salesforce CLI's command-line grammar into `sidecar/sf/grammar.json` (run only on purpose).

The sidecar checks every `sf` command line against the grammar of the CLI it was built for (sidecar/sf/grammar.py),
so the grammar must come from the real CLI, never be typed by hand. This script installs `@salesforce/cli@2` into
a scratch folder outside the repository (the npm recipe of shared/sf-cli-reference: an `undici` override, because
Node 20 lacks the zstd support newer undici wants), reads the `oclif.manifest.json` of the CLI itself and of every
plugin in its `oclif.plugins` list, and writes:

- `sidecar/sf/grammar.json`: every command id with its aliases, permutations, arguments and flags (name, char,
  aliases, type, multiple, required, options, allowNo, exclusive, dependsOn, exactlyOne, relationships, ...) and
  whether it takes `target-org`; plus the CLI version, the @oclif/core version and the parser's exit codes;
- `tests/sf/data/cli_examples.json`: each command's own `examples` as command lines, for the parser tests.

Usage: `python scripts/sf_grammar.py [--cli-dir DIR] [--version 2]`. With `--cli-dir` an existing install (the
folder holding `node_modules/@salesforce/cli`) is read instead of installing one.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GRAMMAR_PATH = ROOT / "sidecar" / "sf" / "grammar.json"
EXAMPLES_PATH = ROOT / "tests" / "sf" / "data" / "cli_examples.json"

SCHEMA = 1
# The flag properties kept, with the value that is left out when a flag has it (keeps the file small).
FLAG_KEYS: dict[str, Any] = {
    "char": None,
    "aliases": [],
    "charAliases": [],
    "multiple": False,
    "multipleNonGreedy": False,
    "required": False,
    "options": None,
    "allowNo": False,
    "exclusive": [],
    "dependsOn": [],
    "exactlyOne": [],
    "atLeastOne": [],
    "combinable": [],
    "relationships": [],
    "delimiter": None,
    "allowStdin": False,
    "default": None,
    "env": None,
    "hidden": False,
    "deprecateAliases": False,
}
ARG_KEYS: dict[str, Any] = {"required": False, "multiple": False, "options": None}


def install(folder: Path, version: str) -> None:
    """`npm install @salesforce/cli@<version>` in `folder`, with the undici override these machines need."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "package.json").write_text(
        json.dumps({"name": "sf-grammar-scratch", "private": True, "overrides": {"undici": "7.16.0"}}), "utf-8"
    )
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", f"@salesforce/cli@{version}"], cwd=folder, check=True)


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text("utf-8"))


def _flag(spec: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": spec["type"]}
    for key, absent in FLAG_KEYS.items():
        value = spec.get(key, absent)
        if value != absent and value is not None:
            out[key] = value
    # A required flag with a dynamic default (target-org, target-dev-hub...) is filled from the CLI's config or
    # environment when absent: the parser then raises no "Missing required flag".
    if spec.get("required") and spec.get("hasDynamicHelp"):
        out["configDefault"] = True
    return out


def _arg(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name}
    for key, absent in ARG_KEYS.items():
        value = spec.get(key, absent)
        if value != absent and value is not None:
            out[key] = value
    return out


def _command(spec: dict[str, Any], plugin: str, plugin_type: str) -> dict[str, Any]:
    flags = {name: _flag(f) for name, f in spec.get("flags", {}).items()}
    out: dict[str, Any] = {
        "plugin": plugin,
        "pluginType": plugin_type,
        "aliases": list(spec.get("aliases") or []),
        "hiddenAliases": list(spec.get("hiddenAliases") or []),
        "strict": spec.get("strict", True) is not False,
        "args": [_arg(name, a) for name, a in (spec.get("args") or {}).items()],
        "flags": flags,
        "takesTargetOrg": "target-org" in flags,
    }
    if spec.get("permutations") is not None:
        out["permutations"] = list(spec["permutations"])
    if spec.get("hidden"):
        out["hidden"] = True
    if spec.get("state"):
        out["state"] = spec["state"]
    return out


_BIN = re.compile(r"<%=\s*config\.bin\s*%>")
_ID = re.compile(r"<%=\s*command\.id\s*%>")


def example_lines(spec: dict[str, Any], command_id: str) -> list[str]:
    """The command lines of a command's `examples` (descriptions dropped), with the templates filled in."""
    lines: list[str] = []
    for example in spec.get("examples") or []:
        text = example if isinstance(example, str) else str(example.get("command", ""))
        for line in text.splitlines():
            line = _ID.sub(command_id.replace(":", " "), _BIN.sub("sf", line)).strip()
            if line.startswith("$ "):
                line = line[2:]
            if line.startswith("sf "):
                lines.append(line)
    return lines


def extract(cli_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The grammar and the examples, from the install in `cli_dir`."""
    modules = cli_dir / "node_modules"
    cli_root = modules / "@salesforce" / "cli"
    pjson = _read(cli_root / "package.json")
    oclif = pjson["oclif"]
    commands: dict[str, Any] = {}
    examples: dict[str, list[str]] = {}
    plugins: dict[str, str] = {}
    sources = [("@salesforce/cli", cli_root)] + [(name, modules / name) for name in oclif.get("plugins", [])]
    for name, folder in sources:
        manifest_path = folder / "oclif.manifest.json"
        if not manifest_path.is_file():
            raise SystemExit(f"{name} has no oclif.manifest.json at {manifest_path}")
        manifest = _read(manifest_path)
        plugins[name] = _read(folder / "package.json")["version"]
        for command_id, spec in manifest["commands"].items():
            plugin_type = spec.get("pluginType") or "core"
            if name == "@salesforce/cli" and spec.get("pluginName") != "@salesforce/cli":
                plugin_type = "jit"  # listed by the CLI, installed on first use (oclif.jitPlugins)
            if command_id in commands and plugin_type == "jit":
                continue
            commands[command_id] = _command(spec, spec.get("pluginName") or name, plugin_type)
            lines = example_lines(spec, command_id)
            if lines and plugin_type != "jit":
                examples[command_id] = lines
    core = _read(modules / "@oclif" / "core" / "package.json")["version"]
    grammar = {
        "schema": SCHEMA,
        "generator": "scripts/sf_grammar.py",
        "cli": "@salesforce/cli",
        "version": pjson["version"],
        "oclifCore": core,
        "flexibleTaxonomy": bool(oclif.get("flexibleTaxonomy")),
        "topicSeparator": oclif.get("topicSeparator", ":"),
        "helpFlags": sorted({"--help", *oclif.get("additionalHelpFlags", [])}),
        "versionFlags": sorted({"--version", *oclif.get("additionalVersionFlags", [])}),
        "exitCodes": {**oclif.get("exitCodes", {}), "commandNotFound": 127},
        "plugins": plugins,
        "commands": dict(sorted(commands.items())),
    }
    return grammar, {"schema": SCHEMA, "version": pjson["version"], "examples": dict(sorted(examples.items()))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cli-dir", type=Path, help="an existing install (holds node_modules/@salesforce/cli)")
    parser.add_argument("--version", default="2", help="the @salesforce/cli version to install (default 2)")
    options = parser.parse_args(argv)
    if options.cli_dir is not None:
        grammar, examples = extract(options.cli_dir)
    else:
        with tempfile.TemporaryDirectory(prefix="sf-grammar-") as scratch:
            install(Path(scratch), options.version)
            grammar, examples = extract(Path(scratch))
    GRAMMAR_PATH.write_text(json.dumps(grammar, indent=1, sort_keys=False) + "\n", "utf-8")
    EXAMPLES_PATH.parent.mkdir(parents=True, exist_ok=True)
    EXAMPLES_PATH.write_text(json.dumps(examples, indent=1) + "\n", "utf-8")
    print(
        f"{len(grammar['commands'])} commands of {grammar['cli']} {grammar['version']} -> {GRAMMAR_PATH}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
