"""What a command handler gets: its parsed flags, the resolved target org, the scenario, and output helpers.

Handlers stay small because everything every command does the same way (JSON vs human output, warnings, sleeping
the configured delay, hanging until killed) lives here.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from .envelopes import dumps, human_warning, success, write_stderr, write_stdout
from .state import StateStore
from .values import ParsedArgs, Value


@dataclass(frozen=True)
class Command:
    """One `sf` command the fake implements: its canonical id (as in the real CLI's grammar), the class name the
    real CLI reports, the value checks of its flags (the flags themselves come from the grammar) and its handler.

    `target` says how --target-org resolves: "parse" (unknown org is a flag error, exit 2), "late" (exit 1, like
    `org delete scratch`), "optional" (only checked when given) or None (the command takes no target org).
    `scenarios` are the command-specific scenario names its handler implements; `own_generic` lists the generic
    ones (hang, garbage...) the handler renders itself instead of the shared implementation.
    """

    command_id: str
    class_name: str
    values: dict[str, Value]
    handler_name: str  # "module:function" inside this package, imported only when the command runs
    target: str | None = "parse"
    allow_inactive_target: bool = False
    scenarios: frozenset[str] = frozenset()
    own_generic: frozenset[str] = frozenset()

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(self.command_id.split(":"))

    @property
    def key(self) -> str:
        """The key of this command in the state's `scenarios` and `delays` maps."""
        return " ".join(self.words)

    def handler(self) -> Callable[[Invocation], int]:
        """The handler function; imported lazily so that each start of the fake loads one command module."""
        module_name, _, function = self.handler_name.partition(":")
        module = importlib.import_module(f"{__package__}.{module_name}")
        handler: Callable[[Invocation], int] = getattr(module, function)
        return handler


@dataclass
class Invocation:
    """One run of a command, as its handler sees it."""

    command: Command
    args: ParsedArgs
    json: bool
    store: StateStore
    state: dict[str, Any]
    scenario: str | None = None
    delay: float = 0.0
    target: dict[str, Any] | None = None
    target_index: int | None = None
    started: float = field(default_factory=time.time)

    def finish(
        self, result: Any, *, status: int = 0, warnings: list[str] | None = None, human: str | None = None
    ) -> int:
        """Print the success envelope (--json) or the human text plus warnings on stderr; return the exit code."""
        if self.json:
            write_stdout(dumps(success(result, status, warnings)))
        else:
            for warning in warnings or []:
                write_stderr(human_warning(warning))
            if human:
                write_stdout(human if human.endswith("\n") else human + "\n")
        return status

    def say(self, line: str) -> None:
        """A line of human progress output (never printed with --json: the CLI is silent until it ends)."""
        if not self.json:
            write_stdout(line + "\n")

    def sleep(self, seconds: float) -> None:
        """Sleep in the foreground: SIGTERM/SIGKILL end the process at once (default signal handling)."""
        if seconds > 0:
            time.sleep(seconds)


def hang() -> NoReturn:
    """Never finish, holding one child process, so a test can check that killing the process group reaps both."""
    import shutil
    import subprocess

    sleeper = shutil.which("sleep")
    argv = [sleeper, "1000"] if sleeper else [sys.executable, "-c", "import time; time.sleep(1000)"]
    subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        time.sleep(3600)


GARBAGE_JSON = (
    '{\n  "status": 0,\n  "result": {\n    "scratchOrgs": [\n      {\n        "orgId": "00D'
    "\nnode:internal/process/promises:391\n"
    "    triggerUncaughtException(err, true /* fromPromise */);\n"
    "    ^\n\n"
    "[Error: EPIPE: broken pipe, write] {\n  errno: -32,\n  code: 'EPIPE',\n  syscall: 'write'\n}\n\n"
    "Node.js v20.20.2\n"
)

GARBAGE_HUMAN = (
    "(node:4242) Warning: Closing file descriptor 23 on garbage collection\n"
    "<--- Last few GCs --->\n\n"
    "[4242:0x6f3c2a0]    71251 ms: Mark-Compact 4049.8 (4133.2) -> 4036.6 (4135.4) MB\n\n"
    "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory\n"
)


def print_garbage(json_mode: bool) -> int:
    """Unparsable output with exit code 0: what a crashed or confused CLI can leave on stdout."""
    write_stdout(GARBAGE_JSON if json_mode else GARBAGE_HUMAN)
    return 0
