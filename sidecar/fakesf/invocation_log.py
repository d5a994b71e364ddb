"""The optional invocation log (`SF_FAKE_LOG`): one JSON line per finished invocation.

Tests read it to check which argv the sidecar passed and whether commands that must be serialized overlapped in
time, so each line carries the start and end wall-clock times; it is written once, at exit, under `flock`.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Sequence

LOG_ENV = "SF_FAKE_LOG"


def append_invocation(argv: Sequence[str], start: float, end: float, exit_code: int) -> None:
    """Append `{"argv", "start", "end", "pid", "exitCode", "cwd", "configEnv"}` to the log, if one is configured;
    `configEnv` names the SF_*/SFDX_* variables the process got (not SF_FAKE_*), so a test sees what could have
    redirected the real CLI."""
    path = os.environ.get(LOG_ENV, "").strip()
    if not path:
        return
    line = json.dumps(
        {
            "argv": list(argv),
            "start": start,
            "end": end,
            "pid": os.getpid(),
            "exitCode": exit_code,
            "cwd": os.getcwd(),
            "configEnv": sorted(
                k for k in os.environ if k.upper().startswith(("SF_", "SFDX_")) and not k.upper().startswith("SF_FAKE_")
            ),
        }
    )
    with open(path, "a", encoding="utf-8") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            handle.write(line + "\n")
            handle.flush()
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
