"""The flag values a command checks after the CLI's parser accepted the line: integers and their bounds, files
that must exist, defaults.

The grammar (which flags exist, their spellings, `multiple`, options, exclusions) comes from the real CLI's
manifests through `sidecar.sf.grammar`; what lives here is only what the manifests cannot say, because the real
CLI checks it inside each flag's parse function (sf-plugins-core's `Flags.integer`, `Flags.file`, `Flags.duration`).
Those failures are exit 2 too, as "Parsing --flag".
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from .errors import flag_value_error
from .grammar import grammar


@dataclass(frozen=True)
class Value:
    """How one flag's value is checked and converted. `kind` is "int", "file" or "dir"."""

    kind: str
    minimum: int | None = None
    maximum: int | None = None
    default: Any = None


@dataclass
class ParsedArgs:
    """Flag values by canonical long name (defaults filled in) and the positional arguments left over."""

    values: dict[str, Any] = field(default_factory=dict)
    positionals: list[str] = field(default_factory=list)

    def get(self, name: str, default: Any = None) -> Any:
        value = self.values.get(name)
        return default if value is None else value


def convert(
    parsed: grammar.Parsed,  # type: ignore[name-defined]  # the fake loads sf/grammar.py by path (no venv), so mypy sees a module object
    rules: dict[str, Value],
) -> ParsedArgs:
    """The parser's values checked and converted by `rules`; raises FakeSfError (exit 2) like the real flags."""
    args = ParsedArgs(values=dict(parsed.flags), positionals=list(parsed.args))
    for name, rule in rules.items():
        if name in args.values:
            value = args.values[name]
            args.values[name] = (
                [_one(name, rule, v) for v in value] if isinstance(value, list) else _one(name, rule, value)
            )
        elif rule.default is not None:
            args.values[name] = rule.default
    return args


def _one(name: str, rule: Value, value: str) -> Any:
    if rule.kind == "file":
        if not os.path.isfile(value):
            raise flag_value_error(name, f"No file found at {value}")
        return value
    if rule.kind == "dir":
        if not os.path.isdir(value):
            raise flag_value_error(name, f"No directory found at {value}")
        return value
    try:
        number = int(value)
    except ValueError:
        raise flag_value_error(name, f"Expected an integer but received: {value}") from None
    if rule.minimum is not None and number < rule.minimum:
        raise flag_value_error(
            name, f"Expected an integer greater than or equal to {rule.minimum} but received: {value}"
        )
    if rule.maximum is not None and number > rule.maximum:
        raise flag_value_error(name, f"Expected an integer less than or equal to {rule.maximum} but received: {value}")
    return number
