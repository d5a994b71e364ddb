"""The real `sf` CLI's command-line grammar: which command an argv runs and how the CLI parses its flags.

The data (`grammar.json`) is extracted from the CLI's own oclif manifests by `scripts/sf_grammar.py`; the rules
below follow `@oclif/core` (lib/help/util.js for spaced command ids, lib/config/config.js for flexible-taxonomy
permutations and aliases, lib/parser/parse.js and validate.js for flags), so that the sidecar's command lines, the
fake `sf` and `sf:run` all agree with what the real CLI accepts. Standard library only: the fake `sf` imports it.

What the parser does not see: values checked inside flag parse functions (integers and their bounds, files that
must exist, org aliases that must be authorized), `--flags-dir` files, and `target-org` defaults from the CLI's
config. Those are runtime matters of the command, not of the grammar.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import permutations
from pathlib import Path
from typing import Any

HELP_HINT = "See more help with --help"


@dataclass(frozen=True)
class ParseError:
    """One error the CLI would raise, with its message text and the exit code it ends with."""

    message: str
    exit_code: int = 2
    kind: str = "parse"  # parse | not-found | incomplete


@dataclass
class Parsed:
    """What the CLI would make of an argv.

    `action` is "run" (a command with flags), "help" or "version" (nothing runs), or "error" (see `errors`).
    `flags` holds the values given, by canonical flag name: a string (or a list for `multiple`) for options, a bool
    for booleans; `tokens` the same in the order typed, with the spelling used.
    """

    action: str
    command_id: str | None = None
    typed_id: str | None = None
    flags: dict[str, Any] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    tokens: list[tuple[str, str, str | None]] = field(default_factory=list)  # (flag, spelling, value)
    dashdash: bool = False
    errors: list[ParseError] = field(default_factory=list)
    matches: list[str] = field(default_factory=list)  # candidates of an incomplete command id

    @property
    def ok(self) -> bool:
        return self.action != "error"


class Grammar:
    """The commands of one CLI version and the lookups oclif builds from them."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.version: str = data["version"]
        self.commands: dict[str, dict[str, Any]] = data["commands"]
        self.exit_codes: dict[str, int] = data["exitCodes"]
        self.help_flags: list[str] = data["helpFlags"]
        self.version_flags: list[str] = data["versionFlags"]
        # config.js loadCommands: ids and (standardized) aliases are commands; permutations of the ids resolve too.
        # Permutations of aliases do not: oclif adds the command's own permutations again in their place.
        self._ids: dict[str, str] = {}
        self._valid: dict[str, str] = {}
        self._partial: dict[str, set[str]] = {}
        for command_id in self.commands:
            self._ids.setdefault(command_id, command_id)
        for command_id, spec in self.commands.items():
            for alias in [*spec["aliases"], *spec["hiddenAliases"]]:
                self._ids.setdefault(alias.replace(" ", ":"), command_id)
            words = command_id.split(":")
            perms = spec.get("permutations")
            if perms is None and data.get("flexibleTaxonomy"):
                perms = [":".join(p) for p in permutations(words)]
            for permutation in perms or [command_id]:
                self._valid.setdefault(permutation, command_id)
                parts = permutation.split(":")
                for i in range(1, len(parts) + 1):
                    self._partial.setdefault(":".join(parts[:i]), set()).add(command_id)
        self._usable = {":".join(i.split(":")[: n + 1]) for i in self._ids for n in range(len(i.split(":")))}

    # ---- command ids -------------------------------------------------------------------------------------------

    def find_command(self, typed: str) -> str | None:
        """The canonical id `typed` (colon-separated) runs: an id, an alias or a permutation of an id."""
        if typed in self._ids:
            return self._ids[typed]
        return self._valid.get(typed)

    def _takes_args(self, typed: str) -> bool:
        command = self.find_command(typed) if typed else None
        return command is not None and (not self.commands[command]["strict"] or bool(self.commands[command]["args"]))

    def split_id(self, argv: list[str]) -> tuple[str, list[str]]:
        """help/util.js normalizeArgv: the typed command id (colon-separated) and the argv after it."""
        if not argv:
            return "", []
        if ":" in argv[0] or len(argv) == 1:
            return argv[0], argv[1:]
        final: list[str] = []
        for arg in argv:
            candidate = ":".join([*final, arg])
            if candidate in self._usable:
                final.append(arg)
            elif "=" in arg or arg.startswith("-") or self._takes_args(":".join(final)):
                break
            else:
                final.append(arg)
        if not final:
            return argv[0], argv[1:]
        return ":".join(final), argv[len(final) :]

    # ---- the whole line ----------------------------------------------------------------------------------------

    def parse(self, argv: list[str]) -> Parsed:
        """main.js run: version, help, the command id, then its flags and arguments."""
        argv = list(argv)
        typed, rest = self.split_id(argv)
        if argv[:1] and argv[0] in self.version_flags:
            return Parsed("version")
        if not argv:
            return Parsed("help")
        for token in argv:
            if token in self.help_flags:
                return Parsed("help", command_id=self.find_command(typed), typed_id=typed)
            if token == "--":
                break
        command_id = self.find_command(typed)
        if command_id is None:
            return self._not_found(typed, rest)
        parsed = self.parse_flags(command_id, rest)
        parsed.typed_id = typed
        return parsed

    def _not_found(self, typed: str, rest: list[str]) -> Parsed:
        shown = typed.replace(":", " ")
        code = self.exit_codes.get("commandNotFound", 127)
        flags = [a.replace("-", "") for a in rest if a.startswith("-") and a not in self.help_flags]
        matches = []
        for candidate in sorted(self._partial.get(typed, ())):
            names = [
                n for name, spec in self.commands[candidate]["flags"].items() for n in (name, spec.get("char")) if n
            ]
            if all(f in names for f in flags):
                matches.append(candidate)
        if matches:
            # The CLI's command_incomplete hook asks which one is meant: no command runs without an answer.
            message = (
                f"{shown} is not a complete command; it could be: {', '.join(m.replace(':', ' ') for m in matches)}"
            )
            return Parsed("error", typed_id=typed, matches=matches, errors=[ParseError(message, code, "incomplete")])
        message = f"{shown} is not a sf command."
        return Parsed("error", typed_id=typed, errors=[ParseError(message, code, "not-found")])

    # ---- flags (parse.js) --------------------------------------------------------------------------------------

    def parse_flags(self, command_id: str, argv: list[str]) -> Parsed:
        """Parser.parse then validate() for one command, stopping at the first error the CLI would throw."""
        spec = self.commands[command_id]
        flags: dict[str, dict[str, Any]] = spec["flags"]
        parsed = Parsed("run", command_id=command_id)
        try:
            raw, args, nonexistent = _tokenize(flags, argv, parsed)
            _values(flags, raw, parsed)
            _validate_args(spec, args, nonexistent, parsed)
            _validate_flags(flags, parsed)
        except _Stop as stop:
            parsed.action = "error"
            parsed.errors.append(
                ParseError(f"{stop.message}\n{HELP_HINT}", self.exit_codes.get("failedFlagParsing", 2))
            )
        return parsed


class _Stop(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _aliases(flags: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {a: name for name, f in flags.items() for a in [*f.get("aliases", []), *f.get("charAliases", [])]}


def _find(flags: dict[str, dict[str, Any]], aliases: dict[str, str], arg: str) -> tuple[bool, str | None]:
    """parse.js findFlag: (is it long, the flag's name or None). Long names are never abbreviated."""
    if arg.startswith("--"):
        name = arg[2:]
        if name in flags:
            return True, name
        if name in aliases:
            return True, aliases[name]
        if arg.startswith("--no-"):
            base = arg[5:]
            if base in flags and flags[base]["type"] == "boolean" and flags[base].get("allowNo"):
                return True, base
            alias = aliases.get(base)
            if alias is not None and flags[alias]["type"] == "boolean" and flags[alias].get("allowNo"):
                return True, alias
        return True, None
    if arg.startswith("-"):
        char = arg[1:2]
        if not char:
            return False, None
        if char in aliases:
            return False, aliases[char]
        return False, next((n for n, f in flags.items() if f.get("char") == char), None)
    return False, None


def _is_negative_number(token: str) -> bool:
    return len(token) > 1 and token[0] == "-" and token[1].isdigit()


def _tokenize(
    flags: dict[str, dict[str, Any]], argv: list[str], parsed: Parsed
) -> tuple[list[tuple[str, str, str]], list[str], list[str]]:
    """The token loop of Parser.parse: flag tokens (name, spelling, input), plain arguments, unknown flags."""
    aliases = _aliases(flags)
    queue = list(argv)
    raw: list[tuple[str, str, str]] = []
    args: list[str] = []
    nonexistent: list[str] = []
    current: str | None = None  # the last option flag parsed: a greedy `multiple` one takes the plain words after it

    def parse_flag(arg: str) -> bool:
        nonlocal current
        is_long, name = _find(flags, aliases, arg)
        if name is None:
            i = arg.find("=")
            if i != -1:
                queue.insert(0, arg[i + 1 :])
                if parse_flag(arg[:i]):
                    return True
                queue.pop(0)
            return False
        flag = flags[name]
        if flag["type"] == "option":
            if not flag.get("multiple") and any(t[0] == name for t in raw):
                raise _Stop(f"Flag --{name} can only be specified once")
            current = name
            if is_long or len(arg) < 3:
                value = queue.pop(0) if queue else None
            else:
                value = arg[3:] if arg[2] == "=" else arg[2:]
            if value is None or _find(flags, aliases, value)[1] is not None:
                if flag.get("options"):
                    raise _Stop(f"Flag --{name} expects one of these values: {', '.join(flag['options'])}")
                raise _Stop(f"Flag --{name} expects a value")
            raw.append((name, arg, value))
        else:
            raw.append((name, arg, arg))
            if not is_long and len(arg) > 2:
                queue.insert(0, f"-{arg[2:]}")
        return True

    parsing = True
    while queue:
        token = queue.pop(0)
        if parsing and token.startswith("-") and token != "-":
            if token == "--":
                parsing = False
                parsed.dashdash = True
                continue
            if parse_flag(token):
                continue
            if not _is_negative_number(token):
                nonexistent.append(token)
                continue
        if (
            parsing
            and current is not None
            and flags[current].get("multiple")
            and not flags[current].get("multipleNonGreedy")
        ):
            raw.append((current, "", token))
            continue
        args.append(token)
    return raw, args, nonexistent


def _values(flags: dict[str, dict[str, Any]], raw: list[tuple[str, str, str]], parsed: Parsed) -> None:
    """Parser._flags: the value of each flag given (the last token of a non-multiple one), options checked."""
    for name, spelling, value in raw:
        flag = flags[name]
        if flag["type"] == "boolean":
            negated = spelling in {f"--no-{n}" for n in [name, *flag.get("aliases", [])]}
            parsed.flags[name] = not negated
            parsed.tokens.append((name, spelling, None))
            continue
        parsed.tokens.append((name, spelling, value))
        values = [value]
        if flag.get("multiple") and flag.get("delimiter"):
            values = [v.strip() for v in value.split(flag["delimiter"])]
        for v in values:
            if flag.get("options") and v not in flag["options"]:
                raise _Stop(f"Expected --{name}={v} to be one of: {', '.join(flag['options'])}")
        if flag.get("multiple"):
            parsed.flags.setdefault(name, []).extend(values)
        else:
            parsed.flags[name] = value


def _validate_args(spec: dict[str, Any], args: list[str], nonexistent: list[str], parsed: Parsed) -> None:
    """validate.js validateArgs: unknown flags, then arguments beyond the command's, then missing ones."""
    if nonexistent:
        raise _Stop(f"Nonexistent flag{'' if len(nonexistent) == 1 else 's'}: {', '.join(nonexistent)}")
    declared = spec["args"]
    for a, value in zip(declared, args, strict=False):
        if a.get("options") and value not in a["options"]:
            raise _Stop(f"Expected {value} to be one of: {', '.join(a['options'])}")
    variadic = any(a.get("multiple") for a in declared)
    if spec["strict"] and not variadic and len(args) > len(declared):
        extras = args[len(declared) :]
        raise _Stop(f"Unexpected argument{'' if len(extras) == 1 else 's'}: {', '.join(extras)}")
    missing = [a["name"] for a in declared[len(args) :] if a.get("required")]
    if missing:
        raise _Stop(f"Missing {len(missing)} required arg{'' if len(missing) == 1 else 's'}:\n" + "\n".join(missing))
    parsed.args = list(args)


def _validate_flags(flags: dict[str, dict[str, Any]], parsed: Parsed) -> None:
    """validate.js validateFlags: required, dependsOn, exclusive, exactlyOne, relationships; all failures at once."""
    given = parsed.flags
    # A static default fills a flag in (a required one is then satisfied, and dependsOn sees it); exclusivity is
    # never enforced against a defaulted flag (validate.js setFromDefault).
    present = set(given) | {name for name, flag in flags.items() if "default" in flag}
    reasons: list[str] = []

    def shown(name: str) -> str:
        value = given[name]
        return ",".join(value) if isinstance(value, list) else str(value).lower() if isinstance(value, bool) else value

    for name, flag in flags.items():
        if name not in present:
            if flag.get("required") and not flag.get("configDefault"):
                reasons.append(f"Missing required flag {name}")
            elif flag.get("exactlyOne") and not any(f in given for f in flag["exactlyOne"]):
                listed = ", ".join(dict.fromkeys(f"--{f}" for f in flag["exactlyOne"]))
                reasons.append(f"Exactly one of the following must be provided: {listed}")
            elif flag.get("atLeastOne") and not any(f in given for f in flag["atLeastOne"]):
                listed = ", ".join(dict.fromkeys(f"--{f}" for f in flag["atLeastOne"]))
                reasons.append(f"At least one of the following must be provided: {listed}")
            continue
        for relationship in flag.get("relationships", []):
            names = [f if isinstance(f, str) else f.get("name", "") for f in relationship.get("flags", [])]
            kind = relationship.get("type")
            if kind == "all" and not all(n in present for n in names):
                reasons.append(
                    f"All of the following must be provided when using --{name}: " + ", ".join(f"--{n}" for n in names)
                )
            elif kind == "some" and not any(n in present for n in names):
                reasons.append(
                    f"One of the following must be provided when using --{name}: " + ", ".join(f"--{n}" for n in names)
                )
            elif kind == "none":
                other = next((n for n in names if n in given), None)
                if other:
                    reasons.append(f"--{other}={shown(other)} cannot also be provided when using --{name}")
            elif kind == "only":
                stray = [n for n in given if n != name and n not in names]
                if stray:
                    reasons.append(
                        f"Only the following can be provided when using --{name}: " + ", ".join(f"--{n}" for n in names)
                    )
        if flag.get("dependsOn") and not all(n in present for n in flag["dependsOn"]):
            reasons.append(
                f"All of the following must be provided when using --{name}: "
                + ", ".join(f"--{n}" for n in flag["dependsOn"])
            )
        other = next((n for n in flag.get("exclusive", []) if n in given), None)
        if other and name in given:
            reasons.append(f"--{other}={shown(other)} cannot also be provided when using --{name}")
        other = next((n for n in flag.get("exactlyOne", []) if n != name and n in given), None)
        if other:
            reasons.append(f"--{other} cannot also be provided when using --{name}")
        if flag.get("combinable"):
            stray = [n for n in given if n != name and n not in flag["combinable"]]
            if stray:
                reasons.append(
                    f"Only the following can be provided when using --{name}: "
                    + ", ".join(f"--{n}" for n in flag["combinable"])
                )
    if reasons:
        unique = list(dict.fromkeys(reasons))
        noun = "errors" if len(unique) > 1 else "error"
        raise _Stop(f"The following {noun} occurred:\n  " + "\n  ".join(unique))


@lru_cache(maxsize=1)
def load() -> Grammar:
    """The grammar of the CLI version the sidecar was built for (sidecar/sf/grammar.json)."""
    text = (Path(__file__).resolve().parent / "grammar.json").read_text("utf-8")
    return Grammar(json.loads(text))


def parse(argv: list[str]) -> Parsed:
    """What the real CLI would make of `sf <argv>`."""
    return load().parse(argv)
