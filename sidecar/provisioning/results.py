"""The CLI's JSON results turned into sentences a person can act on, and into short readable terminal summaries.

Shapes handled (see shared/sf-cli-reference): `componentFailures` as an object or an array with numbers as
strings; failed `files[]` entries with integer numbers; `data import tree`'s error `data` list; `assign permset`'s
successes/failures where a duplicate assignment counts as done.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sidecar.provisioning.masking import mask


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _relative(path: str, root: Path) -> str:
    if path and os.path.isabs(path):
        try:
            return str(Path(path).relative_to(root))
        except ValueError:
            return path
    return path


def _location(file: str, line: Any, column: Any) -> str:
    where = file or "unknown file"
    if _text(line):
        where += f":{_text(line)}"
        if _text(column):
            where += f":{_text(column)}"
    return where


def deploy_failures(result: Any, worktree: Path) -> list[str]:
    """One line per component failure: `type name (file:line:column): problem`."""
    if not isinstance(result, dict):
        return []
    details = found if isinstance(found := result.get("details"), dict) else {}
    raw = details.get("componentFailures")
    entries = [raw] if isinstance(raw, dict) else [e for e in raw or [] if isinstance(e, dict)]
    # componentFailures name the file inside the deployed package (`classes/X.cls`); files[] has the local path.
    local: dict[tuple[str, str], str] = {}
    for f in result.get("files") or []:
        if isinstance(f, dict) and f.get("filePath") and not str(f["filePath"]).endswith("-meta.xml"):
            local.setdefault((_text(f.get("type")), _text(f.get("fullName"))), _text(f["filePath"]))
    lines = []
    for e in entries:
        if _text(e.get("problemType")) == "Warning":
            continue  # a warning is not a failure: see deploy_warnings
        kind = _text(e.get("componentType")) or _text(e.get("problemType")) or "Component"
        name = _text(e.get("fullName"))
        file = local.get((_text(e.get("componentType")), name)) or _text(e.get("fileName"))
        lines.append(
            f"{kind} {name or '(unnamed)'} "
            f"({_location(_relative(file, worktree), e.get('lineNumber'), e.get('columnNumber'))}): "
            f"{_text(e.get('problem')) or 'failed without a message'}"
        )
    if lines or any(_text(e.get("problemType")) == "Warning" for e in entries):
        return [mask(line) for line in lines]
    for f in result.get("files") or []:
        if not isinstance(f, dict) or f.get("state") != "Failed":
            continue
        line, column = f.get("lineNumber"), f.get("columnNumber")
        problem = _text(f.get("error")) or "failed without a message"
        suffix = f"({_text(line)}:{_text(column)})"
        if _text(line) and problem.endswith(suffix):
            problem = problem[: -len(suffix)].rstrip()
        lines.append(
            f"{_text(f.get('type')) or 'Component'} {_text(f.get('fullName')) or '(unnamed)'} "
            f"({_location(_relative(_text(f.get('filePath')), worktree), line, column)}): {problem}"
        )
    return [mask(line) for line in lines]


def failed_files(result: Any) -> list[str]:
    """The files a failed deploy names: local paths from files[] and the package paths of componentFailures."""
    if not isinstance(result, dict):
        return []
    names = [
        _text(f.get("filePath"))
        for f in result.get("files") or []
        if isinstance(f, dict) and f.get("state") == "Failed" and f.get("filePath")
    ]
    found = result.get("details")
    details: dict[str, Any] = found if isinstance(found, dict) else {}
    raw = details.get("componentFailures")
    entries = [raw] if isinstance(raw, dict) else [e for e in raw or [] if isinstance(e, dict)]
    names += [_text(e.get("fileName")) for e in entries if e.get("fileName")]
    return names


def deploy_warnings(result: Any, worktree: Path) -> list[str]:
    """The deploy's `problemType: "Warning"` messages, one line each: shown, never counted as failures."""
    found = result.get("details") if isinstance(result, dict) else None
    details: dict[str, Any] = found if isinstance(found, dict) else {}
    raw = details.get("componentFailures")
    entries = [raw] if isinstance(raw, dict) else [e for e in raw or [] if isinstance(e, dict)]
    return [
        mask(
            f"{_text(e.get('componentType')) or 'Component'} {_text(e.get('fullName')) or '(unnamed)'} "
            f"({_location(_relative(_text(e.get('fileName')), worktree), e.get('lineNumber'), e.get('columnNumber'))}): "  # noqa: E501
            f"{_text(e.get('problem')) or 'a warning without a message'}"
        )
        for e in entries
        if _text(e.get("problemType")) == "Warning"
    ]


def deploy_summary(result: Any) -> str:
    if not isinstance(result, dict):
        return "Deploy result: (not an object)"
    return (
        f"Deploy {_text(result.get('id'))}: {_text(result.get('status')) or 'unknown status'}, "
        f"{result.get('numberComponentsDeployed', '?')}/{result.get('numberComponentsTotal', '?')} "
        "components deployed, "
        f"{result.get('numberComponentErrors', 0)} with errors"
    )


_HUMAN_ERROR = re.compile(r"^Error \(([^)]+)\): (.*)$")


class HumanErrorScanner:
    """Remembers the `Error (Name): message` a human-mode command printed on stderr (bounded), for the summary."""

    def __init__(self) -> None:
        self.error: str | None = None
        self._pending = ""

    def feed(self, text: str) -> None:
        self._pending = (self._pending + text)[-16384:]
        *lines, self._pending = re.split(r"[\r\n]", self._pending)
        for i, line in enumerate(lines):
            match = _HUMAN_ERROR.match(line.strip())
            if match and self.error is None:
                detail = " ".join(t.strip() for t in lines[i + 1 : i + 3] if t.strip() and "--help" not in t)
                self.error = f"{match.group(1)}: {match.group(2).strip()} {detail}".strip()


_DEPLOY_ID = re.compile(r"Deploy ID:\s*(0Af[A-Za-z0-9]{12,15})")


class DeployIdScanner:
    """Picks `Deploy ID: 0Af...` out of a stream that arrives in arbitrary chunks (lines end in \\n or \\r)."""

    def __init__(self) -> None:
        self.deploy_id: str | None = None
        self._pending = ""

    def feed(self, text: str) -> None:
        if self.deploy_id is not None:
            return
        self._pending = (self._pending + text)[-4096:]
        *lines, self._pending = re.split(r"[\r\n]", self._pending)
        for line in lines:
            match = _DEPLOY_ID.search(line)
            if match:
                self.deploy_id = match.group(1)
                return


def data_failure(name: str | None, message: str | None, data: Any) -> str:
    details = []
    for entry in data if isinstance(data, list) else []:
        if isinstance(entry, dict):
            ref = _text(entry.get("referenceId")) or "record"
            details.append(f"{ref}: {_text(entry.get('StatusCode'))} {_text(entry.get('Message'))}".strip())
    text = f"Sample data was not loaded ({name or 'error'}: {_text(message) or 'no message'}"
    text += f"; {'; '.join(details[:5])})" if details else ")"
    return mask(text + ". The org is usable; fix the data plan and load it again with `sf data import tree`.")


def data_summary(result: Any) -> str:
    records = [r for r in result if isinstance(r, dict)] if isinstance(result, list) else []
    counts: dict[str, int] = {}
    for r in records:
        counts[_text(r.get("type")) or "record"] = counts.get(_text(r.get("type")) or "record", 0) + 1
    detail = ", ".join(f"{kind} {n}" for kind, n in counts.items())
    return f"Imported {len(records)} record{'s' if len(records) != 1 else ''}" + (f" ({detail})" if detail else "")


def user_summary(result: Any) -> str:
    fields = found if isinstance(result, dict) and isinstance(found := result.get("fields"), dict) else {}
    username = _text(fields.get("username")) or "(unknown username)"
    return f"Created QA user {username}" + (f" ({_text(fields.get('id'))})" if fields.get("id") else "")


@dataclass
class PermsetOutcome:
    assigned: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # sentences


def _failure_messages(failure: dict[str, Any]) -> list[str]:
    """Each message of one failure: with several API errors the CLI's `message` only says "Multiple errors
    occurred. See JSON output for details." and the messages are in `details`."""
    details = [d for d in failure.get("details") or [] if isinstance(d, dict) and _text(d.get("message"))]
    if details:
        return [
            _text(d.get("message")) + (f" ({_text(d.get('errorCode'))})" if _text(d.get("errorCode")) else "")
            for d in details
        ]
    return [_text(failure.get("message")) or "no message"]


def permset_outcome(result: Any, names: list[str]) -> PermsetOutcome:
    """Successes name the set in `value`. Failures name the user, not the set: the CLI assigns the sets one at a
    time in the order given, so the failures are the sets not in `successes`, in order, unless a message names
    its set. A failure whose every message says duplicate is an assignment already done."""
    outcome = PermsetOutcome()
    if not isinstance(result, dict):
        outcome.failed.append("The permission set assignment returned no result.")
        return outcome
    for success in result.get("successes") or []:
        if isinstance(success, dict):
            outcome.assigned.append(_text(success.get("value")))
    failures = [f for f in result.get("failures") or [] if isinstance(f, dict)]
    pending = [n for n in names if n not in outcome.assigned]
    for index, failure in enumerate(failures):
        messages = _failure_messages(failure)
        text = " ".join(messages)
        named = next((n for n in names if f'"{n}"' in text or re.search(rf"\b{re.escape(n)}\b", text)), None)
        if named is None and len(pending) == len(failures):
            named = pending[index]
        if all("duplicate" in m.lower() for m in messages):
            outcome.already.append(named or "a permission set")
            continue
        outcome.failed.append(
            mask(f"Permission set {named + ' ' if named else ''}was not assigned: {'; '.join(messages)}")
        )
    return outcome


def permset_summary(outcome: PermsetOutcome) -> str:
    parts = []
    if outcome.assigned:
        parts.append("assigned " + ", ".join(outcome.assigned))
    if outcome.already:
        parts.append("already assigned " + ", ".join(outcome.already))
    if outcome.failed:
        parts.append(f"{len(outcome.failed)} failed")
    return "Permission sets: " + ("; ".join(parts) if parts else "nothing to do")
