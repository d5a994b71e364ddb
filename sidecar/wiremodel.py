"""Base for every shape that crosses the wire: snake_case in Python, camelCase in JSON for the JavaScript side."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class WireModel(BaseModel):
    # defer_build: a model's validator is built on first use, not at import, so start-up pays only for what the
    # first requests touch (dozens of wire models would otherwise cost tens of milliseconds before the first answer).
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", defer_build=True)

    def dump(self) -> dict[str, Any]:
        """JSON-ready dict; datetimes become ISO 8601 text (the dispatcher cannot serialize datetime objects)."""
        return self.model_dump(mode="json", by_alias=True)
