"""Base for every shape that crosses the wire: snake_case in Python, camelCase in JSON for the JavaScript side."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

# pydantic's own StrictStr and StrictBool live in pydantic.types, whose import (with annotated_types) adds ~15 ms
# to start-up; the same constraint through Field costs nothing more. Strict: 5 is not an agent id, "yes" not a bool.
StrictStr = Annotated[str, Field(strict=True)]
StrictBool = Annotated[bool, Field(strict=True)]


class WireModel(BaseModel):
    # defer_build: a model's validator is built on first use, not at import, so start-up pays only for what the
    # first requests touch (dozens of wire models would otherwise cost tens of milliseconds before the first answer).
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", defer_build=True)

    def dump(self) -> dict[str, Any]:
        """JSON-ready dict; datetimes become ISO 8601 text (the dispatcher cannot serialize datetime objects)."""
        return self.model_dump(mode="json", by_alias=True)
