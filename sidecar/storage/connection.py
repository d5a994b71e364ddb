"""The one connection idiom every store uses, on either engine: `execute`, `fetch_all`, `fetch_one`, `fetch_val`.

A store receives a `Connection` (the caller's transaction, or the database's reader) and writes SQL once, in the
spelling `sidecar/storage/dialect.py` describes; it never imports a driver.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

import aiosqlite

from sidecar.storage.availability import Availability
from sidecar.storage.dialect import SQLITE, Dialect

Row = Mapping[str, Any]


class Connection(Protocol):
    dialect: Dialect

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    async def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    async def fetch_one(self, sql: str, params: Sequence[Any] = ()) -> Row | None: ...

    async def fetch_val(self, sql: str, params: Sequence[Any] = ()) -> Any: ...

    def savepoint(self) -> Any: ...


class _Common:
    dialect: Dialect

    async def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        raise NotImplementedError

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        raise NotImplementedError

    async def fetch_one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None

    async def fetch_val(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = await self.fetch_one(sql, params)
        return None if row is None else next(iter(dict(row).values()))

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A nested try inside the transaction: an error rolls back to here only, on both engines (on PostgreSQL
        the transaction is otherwise aborted by any error, a unique violation included)."""
        await self.execute("SAVEPOINT try_once")
        try:
            yield
        except BaseException:
            await self.execute("ROLLBACK TO SAVEPOINT try_once")
            await self.execute("RELEASE SAVEPOINT try_once")
            raise
        await self.execute("RELEASE SAVEPOINT try_once")


class SqliteConnection(_Common):
    """An aiosqlite connection (the writer inside a transaction, or the WAL reader)."""

    dialect = SQLITE

    def __init__(self, raw: aiosqlite.Connection) -> None:
        self.raw = raw

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        cursor = await self.raw.execute(sql, SQLITE.params(params))
        await cursor.close()

    async def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        # One trip to aiosqlite's thread (execute then fetch would be two).
        return list(await self.raw.execute_fetchall(sql, SQLITE.params(params)))  # type: ignore[arg-type]


class SqliteReader(SqliteConnection):
    """The SQLite reader: each read runs first on the loop's own thread (sidecar/db.py's quick_reader, no thread
    hop), and on aiosqlite's reader thread when that cannot answer at once (busy) or fails, so every error a caller
    sees is the one the worker-thread reader gives, as before."""

    def __init__(self, raw: aiosqlite.Connection, quick: sqlite3.Connection) -> None:
        super().__init__(raw)
        self._quick = quick

    async def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            return list(self._quick.execute(sql, SQLITE.params(params)).fetchall())
        except sqlite3.Error:
            pass  # busy at this instant, or a fault: the reader's thread decides (and waits, and raises)
        return await super().fetch_all(sql, params)


class PostgresConnection(_Common):
    """An asyncpg connection held for one transaction; a lost connection raises DatabaseUnavailable."""

    def __init__(self, raw: Any, dialect: Dialect, link: Availability) -> None:
        self.raw = raw
        self.dialect = dialect
        self._link = link

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        async with self._link.guard():
            await self.raw.execute(self.dialect.sql(sql), *self.dialect.params(params))

    async def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        async with self._link.guard():
            return list(await self.raw.fetch(self.dialect.sql(sql), *self.dialect.params(params)))


class PostgresReader(_Common):
    """Autocommit reads from the pool: each statement borrows a connection for itself only."""

    def __init__(self, pool: Any, dialect: Dialect, link: Availability) -> None:
        self._pool = pool
        self.dialect = dialect
        self._link = link

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        async with self._link.guard(connecting=True):
            raw = await self._pool.acquire()
        try:
            async with self._link.guard():
                yield raw
        finally:
            with contextlib.suppress(Exception):  # a broken connection: the pool opens another when next needed
                await self._pool.release(raw)

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        async with self._connection() as raw:
            await raw.execute(self.dialect.sql(sql), *self.dialect.params(params))

    async def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        async with self._connection() as raw:
            return list(await raw.fetch(self.dialect.sql(sql), *self.dialect.params(params)))

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        raise RuntimeError("a savepoint needs a transaction; the reader has none")
        yield
