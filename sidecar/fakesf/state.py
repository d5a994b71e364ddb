"""The state file that drives the fake: read and written under an exclusive lock, replaced atomically.

Several fake processes run at once (the sidecar provisions several agents in parallel), so every read-modify-write
happens under `fcntl.flock` on a sibling `<state>.lock` file, and the new state is written to a temporary file in
the same directory and moved into place with `os.replace`, so a reader never sees half a document.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import StateFileError

STATE_ENV = "SF_FAKE_STATE"


class StateStore:
    """Access to the state file named by `SF_FAKE_STATE`; without one, an empty in-memory CLI that forgets writes."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    @classmethod
    def from_env(cls) -> StateStore:
        """The store the environment names (none when `SF_FAKE_STATE` is unset or empty)."""
        raw = os.environ.get(STATE_ENV, "").strip()
        return cls(Path(raw) if raw else None)

    def peek(self) -> dict[str, Any]:
        """Read without locking: safe because writers replace the file atomically. For read-only decisions."""
        return self._read()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[dict[str, Any]]:
        """Yield the state under an exclusive lock; write it back (atomically) if the block changed it.

        If the block raises, nothing is written: a failed command leaves the state as it was.
        """
        if self.path is None:
            yield {}
            return
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            state = self._read()
            before = json.dumps(state, sort_keys=True)
            yield state
            if json.dumps(state, sort_keys=True) != before:
                self._write(state)
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def _read(self) -> dict[str, Any]:
        if self.path is None:
            return {}
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise StateFileError(f"cannot read state file {self.path}: {exc}") from exc
        if not text.strip():
            return {}
        try:
            state = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StateFileError(f"state file {self.path} is not valid JSON: {exc}") from exc
        if not isinstance(state, dict):
            raise StateFileError(f"state file {self.path} must hold a JSON object")
        return state

    def _write(self, state: dict[str, Any]) -> None:
        import tempfile  # only writers need it; keeps read-only starts fast

        assert self.path is not None
        directory = self.path.parent
        fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(state, handle, indent=2)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise


def take_scenario(state: dict[str, Any], command_key: str) -> str | None:
    """The scenario for this invocation of `command_key`; a list is consumed one element per invocation.

    A list element of null means "normal behaviour this time", so `["limit", null, "limit"]` is expressible.
    Must be called inside a transaction so parallel invocations never take the same element.
    """
    scenarios = state.get("scenarios")
    if not isinstance(scenarios, dict):
        return None
    value = scenarios.get(command_key)
    if isinstance(value, list):
        if not value:
            return None
        first = value.pop(0)
        return str(first) if first is not None else None
    return str(value) if value else None


def delay_for(state: dict[str, Any], command_key: str) -> float:
    """Seconds this command sleeps before finishing (state key `delays`)."""
    delays = state.get("delays")
    if not isinstance(delays, dict):
        return 0.0
    try:
        return max(0.0, float(delays.get(command_key) or 0.0))
    except (TypeError, ValueError):
        raise StateFileError(f"delays[{command_key!r}] must be a number of seconds") from None
