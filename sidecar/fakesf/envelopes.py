"""Rendering of results and errors exactly as the real CLI prints them.

With `--json` the whole document goes to stdout, pretty-printed with two spaces like `JSON.stringify(x, null, 2)`;
without it, errors go to stderr as `Error (code): message` followed by the actions.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from .errors import FakeSfError

_FRAMES = (
    "    at SfCommandError.from (file://<sf-install>/node_modules/@salesforce/sf-plugins-core/lib/"
    "SfCommandError.js:48:16)\n"
    "    at {cls}.catch (file://<sf-install>/node_modules/@salesforce/sf-plugins-core/lib/sfCommand.js:332:47)\n"
    "    at {cls}._run (<sf-install>/node_modules/@oclif/core/lib/command.js:187:29)\n"
    "    at async Config.runCommand (<sf-install>/node_modules/@oclif/core/lib/config/config.js:422:25)\n"
    "    at async run (<sf-install>/node_modules/@oclif/core/lib/main.js:97:16)\n"
    "    at async file://<sf-install>/node_modules/@salesforce/cli/bin/run.js:15:1"
)


def dumps(document: Any) -> str:
    """Serialize like the CLI does: two-space indentation and a final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def success(result: Any, status: int = 0, warnings: list[str] | None = None) -> dict[str, Any]:
    """The success envelope; `status` is the exit code (a failed deploy is a "success" envelope with status 1)."""
    return {"status": status, "result": result, "warnings": list(warnings or [])}


def error_document(err: FakeSfError, command_class: str) -> dict[str, Any]:
    """The error envelope with the real key set and order (see real-outputs/*.json)."""
    doc: dict[str, Any] = {
        "name": err.name,
        "message": err.message,
        "exitCode": err.exit_code,
    }
    if err.actions:
        doc["actions"] = list(err.actions)
    doc.update(
        {
            "context": command_class,
            "stack": f"{err.stack_name}: {err.message}\n" + _FRAMES.format(cls=command_class),
            "cause": err.cause if err.cause is not None else "undefined",
        }
    )
    if err.data is not None:
        doc["data"] = err.data
    doc.update({"warnings": [], "code": err.code, "status": err.exit_code, "commandName": command_class})
    return doc


def human_error(err: FakeSfError) -> str:
    """The text a terminal shows on stderr (see deploy_human_stderr.txt): `Error (<code>): <message>`."""
    text = f"Error ({err.code}): {err.message}\n"
    if err.actions:
        text += "\n\nTry this:\n\n" + "\n".join(err.actions) + "\n"
    return text + "\n"


def human_warning(message: str) -> str:
    """A warning line as `SfCommand.warn` prints it on stderr."""
    return f"Warning: {message}\n"


def write_stdout(text: str) -> None:
    """Write and flush at once: the sidecar streams output line by line while the command runs."""
    sys.stdout.write(text)
    sys.stdout.flush()


def write_stderr(text: str) -> None:
    """Write and flush stderr."""
    sys.stderr.write(text)
    sys.stderr.flush()
