"""Entry point of the fake `sf`: noise, dispatch, scenarios, error rendering and the invocation log.

The order of checks follows the real CLI: the command must exist (exit 127, nothing on stdout even with --json),
then its flags must parse as the real CLI's grammar says (sidecar/sf/grammar.py; exit 2, the error envelope with
--json), then the target org must be known (exit 2, or 1 for `org delete scratch`); only then does the command run
and a scenario from the state file apply. A list of scenarios is consumed one element per invocation that gets
that far.
"""

from __future__ import annotations

import copy
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from . import orgs, registry
from .context import Command, Invocation, hang, print_garbage
from .envelopes import dumps, error_document, human_error, write_stderr, write_stdout
from .errors import FakeSfError, StateFileError, parse_error
from .grammar import grammar
from .invocation_log import append_invocation
from .state import StateStore, delay_for, take_scenario
from .values import convert

VERSION = "@salesforce/cli/2.146.3 linux-x64 node-v20.20.2 (fake)"
UPDATE_NOISE = " ›   Warning: @salesforce/cli update available from 2.146.3 to 2.150.6.\n"  # noqa: RUF001 - the real CLI's glyph
FAKE_FAILURE_EXIT = 99  # the fake itself is misconfigured (bad state file, unknown scenario)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one invocation and return its exit code; log it to `SF_FAKE_LOG` when it ends."""
    args = list(sys.argv[1:] if argv is None else argv)
    start = time.time()
    for stream in (sys.stdout, sys.stderr):  # Node writes UTF-8 whatever the locale says
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(encoding="utf-8", errors="replace")
    code = 1
    try:
        code = _run(args)
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:  # the reader went away: stop quietly like a CLI whose pipe closed
        _discard_stdout()
        code = 1
    finally:
        try:
            append_invocation(args, start, time.time(), code)
        except OSError as exc:
            write_stderr(f"fake sf: cannot append to the invocation log: {exc}\n")
    return code


def _run(argv: list[str]) -> int:
    store = StateStore.from_env()
    try:
        peek = store.peek()
    except StateFileError as exc:
        write_stderr(f"fake sf: {exc}\n")
        return FAKE_FAILURE_EXIT
    if peek.get("noise", True) is not False:
        write_stderr(UPDATE_NOISE)
    parsed = grammar.parse(argv)
    if parsed.action == "version":
        write_stdout(VERSION + "\n")
        return 0
    if parsed.action == "help":
        command = registry.BY_ID.get(parsed.command_id or "")
        write_stdout(_usage() if command is None else _command_help(parsed.command_id or ""))
        return 0
    json_mode = "--json" in (argv[: argv.index("--")] if "--" in argv else argv)
    if parsed.command_id is None:
        # oclif's command_not_found hook: a warning and a hint on stderr, exit 127, never a JSON document.
        error = parsed.errors[0]
        write_stderr(f" ›   Warning: {error.message}\nError: Run sf help for a list of available commands.\n")  # noqa: RUF001 - the real CLI's glyph
        return int(error.exit_code)
    command = registry.BY_ID.get(parsed.command_id)
    if command is None:
        write_stderr(
            f"fake sf: `sf {parsed.command_id.replace(':', ' ')}` is a real command the fake does not implement\n"
        )
        return FAKE_FAILURE_EXIT
    try:
        if not parsed.ok:
            raise parse_error(parsed.errors[0].message)
        return _dispatch(command, parsed, store)
    except FakeSfError as err:
        return _report(err, command.class_name, json_mode)
    except StateFileError as exc:
        write_stderr(f"fake sf: {exc}\n")
        return FAKE_FAILURE_EXIT


def _dispatch(command: Command, parsed: Any, store: StateStore) -> int:
    args = convert(parsed, command.values)
    target = target_index = None
    with store.transaction() as state:
        if command.target is not None and (command.target != "optional" or args.get("target-org")):
            target_index, target = orgs.resolve_target(
                state,
                args.get("target-org"),
                parse_style=command.target != "late",
                allow_inactive=command.allow_inactive_target,
            )
        scenario = take_scenario(state, command.key)
        delay = delay_for(state, command.key)
        snapshot = copy.deepcopy(state)
    if scenario is not None and scenario not in command.scenarios | registry.GENERIC_SCENARIOS:
        known = ", ".join(sorted(command.scenarios | registry.GENERIC_SCENARIOS))
        raise StateFileError(f"unknown scenario {scenario!r} for {command.key!r} (known: {known})")
    inv = Invocation(command, args, bool(args.get("json")), store, snapshot, scenario, delay, target, target_index)
    if scenario in registry.GENERIC_SCENARIOS and scenario not in command.own_generic:
        return _generic_scenario(inv, scenario)
    return command.handler()(inv)


def _generic_scenario(inv: Invocation, scenario: str) -> int:
    """Scenarios any command can play: hang until killed, unparsable output, no output, or an error."""
    if scenario == "hang":
        hang()
    inv.sleep(inv.delay)
    if scenario == "garbage":
        return print_garbage(inv.json)
    if scenario == "empty-stdout":
        return 0
    raise FakeSfError("SfError", "Request to https://login.salesforce.com failed: socket hang up", 1)


def _report(err: FakeSfError, command_class: str, json_mode: bool) -> int:
    """An error as an envelope on stdout (--json) or as human text on stderr; returns its exit code."""
    if json_mode:
        write_stdout(dumps(error_document(err, command_class)))
    else:
        write_stderr(human_error(err))
    return err.exit_code


def _command_help(command_id: str) -> str:
    flags = grammar.load().commands[command_id]["flags"]
    lines = [f"USAGE\n  $ sf {command_id.replace(':', ' ')} [FLAGS]\n\nFLAGS"]
    lines += [f"  {('-' + f['char'] + ', ') if f.get('char') else '    '}--{name}" for name, f in flags.items()]
    return "\n".join(lines) + "\n"


def _usage() -> str:
    lines = ["Salesforce CLI (fake for tests; see sidecar/fakesf/README.md)", "", "COMMANDS"]
    lines += [f"  {command.key}" for command in registry.COMMANDS]
    return "\n".join(lines) + "\n"


def _discard_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except OSError:
        pass
