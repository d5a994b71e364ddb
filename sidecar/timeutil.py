"""One text form for instants, so SQL can compare them as strings on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import overload

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_db(instant: datetime) -> str:
    """Fixed-width UTC text: lexical order equals time order, which the expiry queries rely on."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime: every instant in the pool is UTC-aware")
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@overload
def from_db(text: str) -> datetime: ...
@overload
def from_db(text: None) -> None: ...
@overload
def from_db(text: str | None) -> datetime | None: ...
def from_db(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def end_of_day(day: date) -> datetime:
    """The CLI reports expiry as a date; an org lives through that whole day (UTC)."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
