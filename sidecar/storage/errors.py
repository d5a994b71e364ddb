"""Driver errors the rules care about, recognised without importing a driver the user did not install."""

from __future__ import annotations

import sqlite3


def is_integrity_error(exc: BaseException) -> bool:
    """A constraint refused the write (unique, check, foreign key), on either engine."""
    if isinstance(exc, sqlite3.IntegrityError):
        return True
    for cls in type(exc).__mro__:
        if cls.__module__.startswith("asyncpg") and cls.__name__ == "IntegrityConstraintViolationError":
            return True
    return False
