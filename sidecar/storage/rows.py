"""Rows become models in one place: by column name, through pydantic, whichever engine produced them.

SQLite hands back instants as fixed-width UTC text and booleans as 0/1; PostgreSQL hands back aware datetimes and
booleans. Validating by name into the model's declared types absorbs both, so no store converts columns by hand
and a column added to a SELECT but not to the model fails loudly instead of drifting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter

from sidecar.timeutil import from_db

T = TypeVar("T")


_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(model: type[T]) -> TypeAdapter[T]:
    """Built once per model (building one is the slow part); a plain dict, as `cache` cannot type `type[T]`."""
    adapter = _ADAPTERS.get(model)
    if adapter is None:
        adapter = _ADAPTERS[model] = TypeAdapter(model)
    return adapter


def to_model(model: type[T], row: Mapping[str, Any]) -> T:
    """One row as `model` (a pydantic model or a dataclass), matched by column name."""
    values = dict(row)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return model.model_validate(values)
    return _adapter(model).validate_python(values)


def to_models(model: type[T], rows: Iterable[Mapping[str, Any]]) -> list[T]:
    return [to_model(model, row) for row in rows]


def instant(value: str | datetime | None) -> datetime | None:
    """A single instant read outside a model (an aggregate such as MIN(retry_at)), from either engine."""
    if value is None or isinstance(value, datetime):
        return value
    return from_db(value)
