"""A small oclif-compatible flag parser: long names, short aliases, `--flag=value`, repeatable flags.

It reproduces the real CLI's parse errors (unknown flag, missing value, stray argument, bad integer, missing file),
all exit code 2, because the sidecar must cope with exactly those.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import failed_validation, flag_usage_error, flag_value_error


@dataclass(frozen=True)
class Flag:
    """One flag of a command. `kind` is "bool", "string" or "int" (minutes are integers too)."""

    name: str
    char: str | None = None
    kind: str = "string"
    multiple: bool = False
    required: bool = False
    exists: str | None = None  # "file" or "dir": the value must name an existing one
    minimum: int | None = None
    maximum: int | None = None
    default: Any = None
    allow_no: bool = False  # a boolean that also accepts --no-<name>
    options: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()


# Flags every `sf` command accepts.
GLOBAL_FLAGS = (Flag("json", kind="bool"), Flag("flags-dir"), Flag("loglevel"))


@dataclass
class ParsedArgs:
    """Flag values by long name (defaults filled in) and the positional arguments left over."""

    values: dict[str, Any] = field(default_factory=dict)
    positionals: list[str] = field(default_factory=list)

    def get(self, name: str, default: Any = None) -> Any:
        value = self.values.get(name)
        return default if value is None else value


def parse(argv: Sequence[str], flags: Sequence[Flag], *, varargs: bool = False) -> ParsedArgs:
    """Parse `argv` (the tokens after the command words) against `flags` plus the global flags.

    Raises FakeSfError (exit 2) the way oclif would. `varargs` accepts `key=value` positionals
    (`sf org create user username=x`).
    """
    all_flags = list(flags) + [f for f in GLOBAL_FLAGS if f.name not in {g.name for g in flags}]
    by_long, by_char = _index(all_flags)

    parsed = ParsedArgs()
    unknown: list[str] = []
    tokens = list(argv)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if token == "--":
            parsed.positionals.extend(tokens[i:])
            break
        inline: str | None = None
        negated = False
        spec: Flag | None
        if token.startswith("--"):
            name, eq, rest = token[2:].partition("=")
            inline = rest if eq else None
            spec = by_long.get(name)
            if spec is None and name.startswith("no-"):
                base = by_long.get(name[3:])
                if base is not None and base.allow_no:
                    spec, negated = base, True
            if spec is None:
                unknown.append(f"--{name}")
                continue
        elif token.startswith("-") and len(token) > 1 and not _is_number(token):
            spec = by_char.get(token[1])
            rest = token[2:]
            inline = (rest.removeprefix("=")) or None
            if spec is None:
                unknown.append(f"-{token[1]}")
                continue
        else:
            parsed.positionals.append(token)
            continue

        assert spec is not None
        if spec.kind == "bool":
            if inline is not None:
                raise flag_usage_error(f"Unexpected argument: {inline}")
            parsed.values[spec.name] = not negated
            continue
        if not spec.multiple and spec.name in parsed.values:
            raise flag_usage_error(f"Flag --{spec.name} can only be specified once")
        if inline is None:
            # Like oclif: a next token that is itself one of the command's flags is not a value.
            if i >= len(tokens) or _names_flag(tokens[i], by_long, by_char):
                raise flag_usage_error(f"Flag --{spec.name} expects a value")
            inline = tokens[i]
            i += 1
        if spec.multiple:
            bucket = parsed.values.setdefault(spec.name, [])
            bucket.append(inline)
            # oclif's multiple flags are greedy: `--name A B` is two values.
            while i < len(tokens) and not tokens[i].startswith("-"):
                bucket.append(tokens[i])
                i += 1
        else:
            parsed.values[spec.name] = inline

    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        raise flag_usage_error(f"Nonexistent flag{plural}: {', '.join(unknown)}")
    if parsed.positionals and not varargs:
        plural = "s" if len(parsed.positionals) > 1 else ""
        raise flag_usage_error(f"Unexpected argument{plural}: {', '.join(parsed.positionals)}")
    if varargs:
        bad = [p for p in parsed.positionals if "=" not in p]
        if bad:
            raise flag_usage_error(f"Unexpected argument{'s' if len(bad) > 1 else ''}: {', '.join(bad)}")

    _validate_and_convert(parsed, flags, all_flags)
    return parsed


def _index(all_flags: Sequence[Flag]) -> tuple[dict[str, Flag], dict[str, Flag]]:
    """Flags by long name (and deprecated long aliases) and by one-character short name."""
    by_long: dict[str, Flag] = {}
    by_char: dict[str, Flag] = {}
    for option in all_flags:
        by_long[option.name] = option
        for alias in option.aliases:
            by_long[alias] = option
        if option.char:
            by_char[option.char] = option
    return by_long, by_char


def _validate_and_convert(parsed: ParsedArgs, flags: Sequence[Flag], all_flags: Sequence[Flag]) -> None:
    """Required flags present, then values converted and checked (integers, ranges, files), defaults filled in."""
    missing = [f"Missing required flag {f.name}" for f in flags if f.required and f.name not in parsed.values]
    if missing:
        raise failed_validation(missing)
    for option in all_flags:
        if option.name in parsed.values:
            parsed.values[option.name] = _convert(option, parsed.values[option.name])
        elif option.default is not None:
            parsed.values[option.name] = option.default


def _names_flag(token: str, by_long: dict[str, Flag], by_char: dict[str, Flag]) -> bool:
    if token.startswith("--"):
        return token[2:].partition("=")[0] in by_long
    return len(token) >= 2 and token[0] == "-" and token[1] in by_char


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _convert(spec: Flag, value: Any) -> Any:
    if spec.kind == "bool":
        return value
    if spec.multiple:
        return [_convert_one(spec, v) for v in value]
    return _convert_one(spec, value)


def _convert_one(spec: Flag, value: str) -> Any:
    if spec.options and value not in spec.options:
        raise flag_usage_error(f"Expected --{spec.name}={value} to be one of: {', '.join(spec.options)}")
    if spec.exists == "file" and not os.path.isfile(value):
        raise flag_value_error(spec.name, f"No file found at {value}")
    if spec.exists == "dir" and not os.path.isdir(value):
        raise flag_value_error(spec.name, f"No directory found at {value}")
    if spec.kind != "int":
        return value
    try:
        number = int(value)
    except ValueError:
        raise flag_value_error(spec.name, f"Expected an integer but received: {value}") from None
    if spec.minimum is not None and number < spec.minimum:
        raise flag_value_error(
            spec.name, f"Expected an integer greater than or equal to {spec.minimum} but received: {value}"
        )
    if spec.maximum is not None and number > spec.maximum:
        raise flag_value_error(
            spec.name, f"Expected an integer less than or equal to {spec.maximum} but received: {value}"
        )
    return number
