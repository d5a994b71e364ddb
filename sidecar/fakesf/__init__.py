"""A fake Salesforce CLI (`sf`) for tests, the demo and developers without a Dev Hub.

The real CLI needs a Dev Hub and the network; the sidecar's tests and its offline demo have neither. This package
prints what the real CLI v2 prints (JSON envelopes, exit codes, stderr noise), driven by a JSON state file named in
`SF_FAKE_STATE` (see README.md beside this file). Only the standard library is used, so the launcher starts fast and
needs no virtual environment.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["executable_path", "main"]


def executable_path() -> Path:
    """Path of the executable launcher `bin/sf`, to hand to the sidecar as its `sf` (argv[0], no shell)."""
    return Path(__file__).resolve().parent / "bin" / "sf"


def main(argv: list[str] | None = None) -> int:
    """Run the fake CLI on `argv` (default: the process's arguments) and return its exit code.

    Imported lazily so that importing this package (for `executable_path`) stays cheap.
    """
    from .cli import main as _main

    return _main(argv)
