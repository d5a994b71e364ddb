"""The CLI's `--json` document: success `{status, result, warnings}` or an error `{name, message, exitCode, ...}`.

Decisions are taken on `name`/`code`, never on message text. A failed deploy is not an error envelope (it is a
result with `success: false`), so callers look at `result` whatever `status` says.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sidecar.errors import SfFailed


@dataclass(frozen=True)
class Envelope:
    exit_code: int
    status: int
    result: Any
    warnings: list[str] = field(default_factory=list)


def error_data(doc: dict[str, Any], exit_code: int) -> dict[str, Any]:
    """What of an error envelope a person or the UI can use; the Node stack trace stays out."""
    data: dict[str, Any] = {"name": doc.get("name"), "message": doc.get("message"), "exitCode": exit_code}
    # The CLI's own `code` travels as cliCode: `code` in error data is always the sidecar's ErrorCode.
    for key, wire_key in (
        ("code", "cliCode"),
        ("actions", "actions"),
        ("data", "data"),
        ("commandName", "commandName"),
    ):
        if doc.get(key) not in (None, [], "undefined"):
            data[wire_key] = doc[key]
    return data


def parse_envelope(stdout: bytes, exit_code: int, command: str) -> Envelope:
    """The envelope, or SfFailed carrying the CLI's name and message (unparsable output included)."""
    text = stdout.decode("utf-8", errors="replace").strip()
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        excerpt = text[:200] if text else "(no output)"
        raise SfFailed(
            f"`sf {command}` printed output that is not JSON (exit code {exit_code}): {excerpt}",
            name="UnparsableOutput",
            message=excerpt,
            exitCode=exit_code,
        ) from None
    if not isinstance(doc, dict):
        raise SfFailed(
            f"`sf {command}` printed JSON that is not an envelope", name="UnexpectedOutput", exitCode=exit_code
        )
    if "result" in doc and "name" not in doc:
        warnings = [w for w in doc.get("warnings") or [] if isinstance(w, str)]
        return Envelope(exit_code, int(doc.get("status", exit_code) or 0), doc["result"], warnings)
    data = error_data(doc, exit_code)
    raise SfFailed(f"`sf {command}` failed: {doc.get('name', 'Error')}: {doc.get('message', '(no message)')}", **data)
