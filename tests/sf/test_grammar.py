"""The CLI grammar (sidecar/sf/grammar.py) against the real CLI: its data file, its manifests' own examples, and
the lines the real CLI refuses, with its messages (checked against @salesforce/cli 2.146.3 and @oclif/core 4.13)."""

from __future__ import annotations

import importlib.util
import json
import shlex
from pathlib import Path
from types import ModuleType

import pytest

from sidecar.sf import grammar

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sf_grammar_script", ROOT / "scripts" / "sf_grammar.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_data_file_matches_the_scripts_schema() -> None:
    """Fails when grammar.json was written by an older script (or by hand): regenerate it with the script."""
    script = _script()
    data = json.loads((ROOT / "sidecar" / "sf" / "grammar.json").read_text("utf-8"))
    assert data["schema"] == script.SCHEMA and data["generator"] == "scripts/sf_grammar.py"
    assert data["cli"] == "@salesforce/cli" and data["version"].startswith("2.")
    assert data["flexibleTaxonomy"] is True and data["exitCodes"]["commandNotFound"] == 127
    examples = json.loads((DATA / "cli_examples.json").read_text("utf-8"))
    assert examples["schema"] == script.SCHEMA and examples["version"] == data["version"]
    command_keys = {"plugin", "pluginType", "aliases", "hiddenAliases", "strict", "args", "flags", "takesTargetOrg"}
    flag_keys = set(script.FLAG_KEYS) | {"type", "configDefault"}
    for command_id, command in data["commands"].items():
        assert command_keys <= set(command) <= command_keys | {"permutations", "hidden", "state"}, command_id
        assert command["takesTargetOrg"] == ("target-org" in command["flags"])
        for name, flag in command["flags"].items():
            assert set(flag) <= flag_keys and flag["type"] in ("boolean", "option"), (command_id, name)


def test_the_fake_reports_the_version_the_grammar_came_from() -> None:
    from sidecar.fakesf.cli import VERSION

    assert f"/{grammar.load().version} " in VERSION


def _examples() -> list[tuple[str, str]]:
    data = json.loads((DATA / "cli_examples.json").read_text("utf-8"))
    return [(command_id, line) for command_id, lines in data["examples"].items() for line in lines]


def test_the_manifests_own_examples_parse_except_the_listed_ones() -> None:
    refused = json.loads((DATA / "cli_examples_refused.json").read_text("utf-8"))["examples"]
    expected_failures = {(e["command"], e["line"]) for e in refused}
    failures = set()
    examples = _examples()
    for command_id, line in examples:
        try:
            argv = shlex.split(line)[1:]
        except ValueError:
            failures.add((command_id, line))
            continue
        parsed = grammar.parse(argv)
        if parsed.action == "help":
            assert parsed.command_id == command_id, line
        elif not parsed.ok or parsed.command_id != command_id:
            failures.add((command_id, line))
    assert failures == expected_failures
    assert len(examples) > 500 and len(failures) < len(examples) / 20


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("org create scratch -d 7", "Unexpected argument: 7"),  # -d is --set-default, a boolean
        ("org open --url-only --browser chrome", "--url-only=true cannot also be provided when using --browser"),
        ("project deploy start -o a --target-org b", "Flag --target-org can only be specified once"),
        ("org create scratch --def x.json", "Nonexistent flag: --def"),  # long flags are never abbreviated
        ("org list -p", "One of the following must be provided when using --no-prompt: --clean"),
        ("project deploy start --async --wait 3", "--wait=3 cannot also be provided when using --async"),
        ("org open -b safari", "Expected --browser=safari to be one of: chrome, edge, firefox"),
        ("project deploy start --targetusername x", "Nonexistent flag: --targetusername"),
        ("project deploy start --loglevel debug", "Nonexistent flag: --loglevel"),
        ("project deploy start --no-json", "Nonexistent flag: --no-json"),  # --no-x only with allowNo
        ("org create scratch -f", "Flag --definition-file expects a value"),
        ("org create scratch -f --json", "Flag --definition-file expects a value"),
        ("org assign permset", "Missing required flag name"),
        ("org:list stray", "Unexpected argument: stray"),
        ("data query -q x -- y", "Unexpected argument: y"),
    ],
)
def test_lines_the_real_cli_refuses(line: str, message: str) -> None:
    parsed = grammar.parse(shlex.split(line))
    assert not parsed.ok and parsed.errors[0].exit_code == 2
    assert message in parsed.errors[0].message and parsed.errors[0].message.endswith("See more help with --help")


@pytest.mark.parametrize(
    ("line", "command_id", "flags"),
    [
        ("delete org scratch -o qa1 -p", "org:delete:scratch", {"target-org": "qa1", "no-prompt": True}),
        ("scratch delete org --target-org=qa1", "org:delete:scratch", {"target-org": "qa1"}),
        ("env create scratch -f x.json", "org:create:scratch", {"definition-file": "x.json"}),
        ("force:auth:web:login", "org:login:web", {}),
        ("org:delete:scratch -oqa1", "org:delete:scratch", {"target-org": "qa1"}),
        ("org delete scratch -o=qa1", "org:delete:scratch", {"target-org": "qa1"}),
        ("org delete scratch -u qa1", "org:delete:scratch", {"target-org": "qa1"}),  # a legacy alias
        ("org delete scratch --targetusername qa1", "org:delete:scratch", {"target-org": "qa1"}),
        ("project deploy start -cg", "project:deploy:start", {"ignore-conflicts": True, "ignore-warnings": True}),
        ("project deploy start -d a b -d c", "project:deploy:start", {"source-dir": ["a", "b", "c"]}),
        ("project deploy start --manifest p.xml --test-level RunRelevantTests", "project:deploy:start",
         {"manifest": "p.xml", "test-level": "RunRelevantTests"}),
        (
            "org create scratch -f x --no-track-source",
            "org:create:scratch",
            {"definition-file": "x", "track-source": False},
        ),
        ("org open --urlonly", "org:open", {"url-only": True}),
        ("org create user -o x username=a@b.c", "org:create:user", {"target-org": "x"}),
    ],
)  # fmt: skip
def test_lines_the_real_cli_accepts(line: str, command_id: str, flags: dict) -> None:
    parsed = grammar.parse(shlex.split(line))
    assert parsed.ok, parsed.errors
    assert parsed.command_id == command_id and parsed.flags == flags


def test_unknown_and_incomplete_commands_exit_127() -> None:
    for line in ("frobnicate", "org frobnicate --json", "org list extra"):
        parsed = grammar.parse(shlex.split(line))
        assert parsed.command_id is None and parsed.errors[0].exit_code == 127, line
        assert parsed.errors[0].message == f"{line.replace(' --json', '')} is not a sf command."
    incomplete = grammar.parse(["deploy"])
    assert incomplete.errors[0].kind == "incomplete" and "project:deploy:start" in incomplete.matches


def test_help_and_version_run_nothing() -> None:
    assert grammar.parse(["org", "delete", "scratch", "-o", "x", "--help"]).action == "help"
    assert grammar.parse(["org", "delete", "scratch", "-h"]).action == "help"
    assert grammar.parse(["data", "query", "--", "--help"]).action != "help"  # after `--` it is an argument
    assert grammar.parse(["--version"]).action == grammar.parse(["-v"]).action == "version"
    assert grammar.parse([]).action == "help"


def test_aliases_are_not_permuted() -> None:
    """oclif adds a command's own permutations in place of its aliases' (config.js): `sf scratch create env` fails."""
    assert grammar.parse(["env", "create", "scratch"]).command_id == "org:create:scratch"
    assert grammar.parse(["scratch", "create", "env"]).command_id is None
