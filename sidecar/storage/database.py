"""The two databases behind one API: `open`, `close`, `transaction()`, `reader`, `schema_version()`, `describe()`.

Services get transactions from a database and hand the `Connection` to their store; they never learn the engine.
`SqliteDatabase` wraps sidecar/db.py's `Database` (one writer behind a lock, `BEGIN IMMEDIATE`, WAL reader);
`PostgresDatabase` is a connection pool in which each transaction holds one connection until it commits or rolls
back. Both commit on success and roll back on any exception or cancellation, never acknowledging what did not commit.
On PostgreSQL a lost connection (server restarted, backend terminated) answers DATABASE_UNAVAILABLE and backs off
until the server is reachable again (sidecar/storage/availability.py); a COMMIT that fails that way raises too, so
no caller announces a change the server may not have kept. Each connection carries `sweatshop.origin`, this
process's random id, which the pool's NOTIFY trigger puts in every payload (sidecar/storage/listener.py).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import anyio

from sidecar.db import Database as SqliteFile
from sidecar.storage.availability import Availability, is_connection_loss
from sidecar.storage.connection import Connection, PostgresConnection, PostgresReader, SqliteConnection, SqliteReader
from sidecar.storage.dialect import Dialect, postgres_dialect
from sidecar.storage.url import DatabaseTarget, Engine

log = logging.getLogger(__name__)

# pg_advisory_lock key for migrations: any constant every sidecar agrees on ("swsh" in ASCII).
MIGRATION_LOCK_KEY = 0x73777368
POOL_MAX_SIZE = 10


class Database(Protocol):
    engine: Engine

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    def transaction(self) -> Any: ...

    @property
    def reader(self) -> Connection: ...

    async def schema_version(self) -> int: ...

    def describe(self) -> str: ...

    def check_file(self) -> str | None:
        """Why the database can no longer be trusted with writes (the SQLite file deleted or replaced), or None."""
        ...


class SqliteDatabase:
    """The embedded default: one file, as before; the store idiom over sidecar/db.py's connections."""

    engine = Engine.SQLITE

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = SqliteFile(path)
        self._reader: SqliteConnection | None = None

    @classmethod
    def over(cls, file: SqliteFile) -> SqliteDatabase:
        """The storage idiom over a `sidecar.db.Database` someone else opened (and will close)."""
        made = cls(file.path)
        made.file = file
        made._reader = SqliteReader(file.reader, file.quick_reader)
        return made

    async def open(self, migrations: Iterable[tuple[int, str, str]] | None = None) -> None:
        await self.file.open(migrations)
        self._reader = SqliteReader(self.file.reader, self.file.quick_reader)

    async def close(self) -> None:
        self._reader = None
        await self.file.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self.file.transaction() as raw:
            yield SqliteConnection(raw)

    @property
    def reader(self) -> Connection:
        if self._reader is None:
            raise RuntimeError("database is not open")
        return self._reader

    async def schema_version(self) -> int:
        return await self.file.schema_version()

    def describe(self) -> str:
        return str(self.path)

    def check_file(self) -> str | None:
        return self.file.check_file()


def postgres_migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of sidecar/migrations/postgres, numbered like the SQLite ones they mirror."""
    folder = resources.files("sidecar.migrations").joinpath("postgres")
    found = sorted(
        (int(entry.name.split("_", 1)[0]), entry.name, entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    )
    versions = [v for v, _, _ in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two PostgreSQL migrations share a version number: {versions}")
    return found


class PostgresDatabase:
    """A team database: an asyncpg pool; migrations serialized across sidecars by an advisory lock."""

    engine = Engine.POSTGRES

    def __init__(self, target: DatabaseTarget, max_size: int = POOL_MAX_SIZE) -> None:
        self.target = target
        self.dialect: Dialect = postgres_dialect()
        self._max_size = max_size
        self._pool: Any = None
        self._reader: PostgresReader | None = None
        # This process on the database: the NOTIFY payloads of its own commits name it, so it does not announce
        # its own changes twice. Random per process (two processes on one home are one instance, two origins).
        self.origin = f"proc_{secrets.token_hex(8)}"
        self.availability = Availability(target.masked(), on_lost=self.expire_connections)

    def server_settings(self) -> dict[str, str]:
        """Session settings of every connection this process opens (the pool's and the listener's)."""
        return {"application_name": "sweatshop-sidecar", "sweatshop.origin": self.origin}

    async def open(self, migrations: Iterable[tuple[int, str, str]] | None = None) -> None:
        import asyncpg

        try:
            self._pool = await asyncpg.create_pool(
                dsn=self.target.url,
                # No floor: after a lost server the pool would retry it in the background, logging each failure;
                # connections are opened when a request needs one (the back-off decides when that is tried).
                min_size=0,
                max_size=self._max_size,
                command_timeout=60,
                server_settings=self.server_settings(),
            )
            async with self._pool.acquire():  # the first connection: an unreachable server is found here
                pass
        except Exception as exc:
            await self.close()
            # The driver's message may quote the DSN; say what failed with the masked URL only.
            raise ConnectionError(
                f"cannot connect to PostgreSQL at {self.target.masked()}: {exc.__class__.__name__}"
            ) from None
        try:
            await self.migrate(postgres_migrations() if migrations is None else migrations)
            self._reader = PostgresReader(self._pool, self.dialect, self.availability)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        self._reader = None
        pool, self._pool = self._pool, None
        if pool is not None:
            with anyio.CancelScope(shield=True):
                await pool.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """READ COMMITTED, as PostgreSQL defaults: rules that need more take row locks (see the dialect).

        A connection lost anywhere (acquiring, a statement, COMMIT) raises DatabaseUnavailable: the change is not
        acknowledged. A COMMIT lost on the wire may still have been applied by the server; the caller is told it
        was not confirmed, and never announces it (peers hear of it through NOTIFY if it did commit)."""
        if self._pool is None:
            raise RuntimeError("database is not open")
        link = self.availability
        async with link.guard(connecting=True):
            raw = await self._pool.acquire()
        try:
            tx = raw.transaction()
            async with link.guard():
                await tx.start()
            try:
                yield PostgresConnection(raw, self.dialect, link)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    try:
                        await tx.rollback()
                    except Exception as exc:  # the server is gone: it rolls the transaction back itself
                        if link.up and not is_connection_loss(exc):
                            raise
                raise
            else:
                with anyio.CancelScope(shield=True):
                    async with link.guard():
                        await tx.commit()
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    await self._pool.release(raw)
                except Exception:  # a broken connection: the pool drops it and opens another when next needed
                    log.debug("released a broken PostgreSQL connection", exc_info=True)

    async def connection_lost(self, why: str) -> None:
        """Someone (the listener) found the server gone: refuse requests while backing off."""
        self.availability.lost(why)
        await self.expire_connections()

    async def expire_connections(self) -> None:
        """Drop the pool's idle connections, which died with the server, so the next request after the pause
        opens fresh ones instead of meeting each dead one in turn."""
        if self._pool is not None:
            await self._pool.expire_connections()

    @property
    def reader(self) -> Connection:
        if self._reader is None:
            raise RuntimeError("database is not open")
        return self._reader

    async def migrate(self, migrations: Iterable[tuple[int, str, str]]) -> list[int]:
        """Apply pending migrations, each in its own transaction with its version row, holding a session advisory
        lock so sidecars starting at once on one empty database take turns (the second finds nothing to do)."""
        applied: list[int] = []
        async with self._pool.acquire() as raw:
            await raw.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
            try:
                await raw.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
                )
                done = {r["version"] for r in await raw.fetch("SELECT version FROM schema_migrations")}
                for version, name, sql in migrations:
                    if version in done:
                        continue
                    async with raw.transaction():
                        await raw.execute(sql)  # no arguments: the simple protocol runs the whole script
                        await raw.execute(
                            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name
                        )
                    applied.append(version)
                    log.info("applied PostgreSQL migration %s", name)
            finally:
                with anyio.CancelScope(shield=True):
                    await raw.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
        return applied

    async def schema_version(self) -> int:
        return int(await self.reader.fetch_val("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))

    def describe(self) -> str:
        return self.target.masked()

    def check_file(self) -> str | None:
        return None  # a server, not a file: a lost connection is reported as DATABASE_UNAVAILABLE instead


def open_target(target: DatabaseTarget) -> SqliteDatabase | PostgresDatabase:
    """The database object for a chosen target (not yet opened)."""
    if target.engine is Engine.POSTGRES:
        return PostgresDatabase(target)
    assert target.path is not None
    return SqliteDatabase(target.path)
