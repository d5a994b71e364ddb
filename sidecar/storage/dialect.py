"""The few places the two engines spell SQL differently, in one thin layer the stores never see past.

Stores write one SQL text in SQLite's spelling (`?` placeholders, `billing_` table prefixes) and pass `datetime`
values; the dialect turns that into what the engine runs:
- placeholders: `?` stays on SQLite, becomes `$1, $2, ...` on PostgreSQL;
- schema names: on PostgreSQL the governance tables live in the `billing` schema as the specification names them
  (`billing_products` is `billing.products`); SQLite has no schemas and keeps the prefix;
- instants: SQLite stores the fixed-width UTC text of sidecar/timeutil.py (lexical order is time order),
  PostgreSQL takes the aware `datetime` into a `timestamptz`;
- row locks: `FOR UPDATE` / `FOR UPDATE SKIP LOCKED` mean something on PostgreSQL only; SQLite's `BEGIN IMMEDIATE`
  already holds the one write lock for the whole transaction.
Everything else (RETURNING, ON CONFLICT upserts, partial unique indexes, TRUE/FALSE) means the same on both.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sidecar.storage.url import Engine
from sidecar.timeutil import to_db

# The spec's `billing.` tables; a column such as `grants.billing_account_id` must not match.
BILLING_TABLES = ("accounts", "products", "plan_ladders", "plan_ladder_tiers")
_BILLING = re.compile(r"\bbilling_(" + "|".join(BILLING_TABLES) + r")\b")


def _numbered(sql: str) -> str:
    """`?` to `$n`, leaving quoted literals and identifiers alone."""
    out: list[str] = []
    count = 0
    quote: str | None = None
    for char in sql:
        if quote:
            if char == quote:
                quote = None
        elif char in ("'", '"'):
            quote = char
        elif char == "?":
            count += 1
            out.append(f"${count}")
            continue
        out.append(char)
    return "".join(out)


@dataclass
class Dialect:
    engine: Engine
    for_update: str
    skip_locked: str
    integrity_errors: tuple[type[BaseException], ...]
    _cache: dict[str, str] = field(default_factory=dict, repr=False)

    def sql(self, text: str) -> str:
        """The engine's spelling of one statement (cached: stores build the same texts again and again)."""
        if self.engine is Engine.SQLITE:
            return text
        done = self._cache.get(text)
        if done is None:
            done = self._cache[text] = _numbered(_BILLING.sub(r"billing.\1", text))
        return done

    def table(self, name: str) -> str:
        """A table's name as this engine spells it (for the few statements built from a table name)."""
        return self.sql(name)

    def for_update_of(self, *aliases: str) -> str:
        """`FOR UPDATE OF <aliases>` on PostgreSQL (lock these rows of a join, not every joined row); nothing on
        SQLite, whose write transaction already holds the one lock."""
        return f"{self.for_update} OF {', '.join(aliases)}" if self.for_update else ""

    def params(self, values: Sequence[Any]) -> tuple[Any, ...]:
        if self.engine is Engine.SQLITE:
            return tuple(to_db(v) if isinstance(v, datetime) else v for v in values)
        return tuple(values)


SQLITE = Dialect(Engine.SQLITE, for_update="", skip_locked="", integrity_errors=(sqlite3.IntegrityError,))


def postgres_dialect() -> Dialect:
    """Built on first use so SQLite users never import the PostgreSQL driver."""
    import asyncpg

    return Dialect(
        Engine.POSTGRES,
        for_update=" FOR UPDATE",
        skip_locked=" FOR UPDATE SKIP LOCKED",
        integrity_errors=(asyncpg.IntegrityConstraintViolationError,),
    )
