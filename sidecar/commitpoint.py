"""The commit point: the moment a write became durable, told to whoever asked on the current task's behalf.

A request cancelled after its change committed must not answer CANCELLED (the caller would believe nothing
happened). The database layer calls `reached()` right after COMMIT, still inside its shielded block; the session
listens for it around each request and, from then on, ignores `$/cancelRequest` and lets the request answer its
result. Engine-neutral (SQLite or PostgreSQL store alike), and neither side imports the other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_listener: ContextVar[Callable[[], None] | None] = ContextVar("commit_listener", default=None)


def reached() -> None:
    """A transaction of the current task committed; call right after COMMIT, before any await."""
    listener = _listener.get()
    if listener is not None:
        listener()


@contextmanager
def listen(callback: Callable[[], None]) -> Iterator[None]:
    """Call `callback` at every commit made by this task (and tasks it starts) while the block runs."""
    token = _listener.set(callback)
    try:
        yield
    finally:
        _listener.reset(token)
