"""The one id maker: a readable prefix says what a row is; 80 random bits make collisions a non-event."""

from __future__ import annotations

import uuid


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"
