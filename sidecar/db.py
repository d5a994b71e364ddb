"""The SQLite file: one write connection behind a lock, one read connection, and numbered migrations.

Why this shape: SQLite allows one writer at a time, across processes too. Every write goes through
`transaction()`, which opens `BEGIN IMMEDIATE` so the write lock is taken up front (a deferred transaction that
reads then writes can fail with SQLITE_BUSY without waiting), and WAL lets readers run beside it. Two sidecars on
one file serialize on the same lock, which is what makes a claim atomic across processes.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite
import anyio

from sidecar import commitpoint

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000


def split_statements(script: str) -> list[str]:
    """Split a migration into statements; `executescript` would COMMIT first, breaking the migration's transaction."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            text = buffer.strip()
            if text.strip(";").strip():
                statements.append(text)
            buffer = ""
    if buffer.strip():
        raise ValueError(f"migration ends inside a statement: {buffer.strip()[:80]!r}")
    return statements


def bundled_migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every `NNNN_name.sql` shipped in sidecar/migrations, in order."""
    found = []
    for entry in resources.files("sidecar.migrations").iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a version number: {versions}")
    return found


class Database:
    """Owns the connections to one SQLite file; services get transactions from it, never raw connections."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = anyio.Lock()

    async def open(self, migrations: Iterable[tuple[int, str, str]] | None = None) -> None:
        """Connect, switch to WAL and migrate; on any failure the connections are closed, so no thread lingers."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._writer = await self._connect()
            await self._enable_wal(self._writer)
            await self.migrate(bundled_migrations() if migrations is None else migrations)
            self._reader = await self._connect()
        except BaseException:
            await self.close()
            raise

    @staticmethod
    async def _enable_wal(conn: aiosqlite.Connection) -> None:
        """Switch the file to WAL, retrying: the switch needs an exclusive lock and SQLite does not wait for it
        through busy_timeout, so two sidecars starting on a fresh file at once would otherwise fail."""
        delay = 0.01
        with anyio.fail_after(BUSY_TIMEOUT_MS / 1000):
            while True:
                try:
                    await conn.execute("PRAGMA journal_mode=WAL")
                    return
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) and "busy" not in str(exc):
                        raise
                    await anyio.sleep(delay)
                    delay = min(delay * 2, 0.2)

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        for pragma in (
            f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
            "PRAGMA foreign_keys=ON",
            # FULL: a committed lease survives power loss too, not just a kill -9 of this process.
            "PRAGMA synchronous=FULL",
        ):
            await conn.execute(pragma)
        return conn

    async def close(self) -> None:
        with anyio.CancelScope(shield=True):
            for conn in (self._reader, self._writer):
                if conn is not None:
                    await conn.close()
        self._reader = self._writer = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction; commits on success, rolls back on any exception or cancellation."""
        if self._writer is None:
            raise RuntimeError("database is not open")
        async with self._write_lock:
            conn = self._writer
            try:
                # Inside the try: a cancel while BEGIN is queued still runs it in aiosqlite's thread, so the
                # ROLLBACK queued after it must follow (or the next BEGIN fails "within a transaction").
                await conn.execute("BEGIN IMMEDIATE")
                yield conn
            except BaseException:
                # The SQL already queued runs on in aiosqlite's thread; the rollback must not be cancelled too.
                with anyio.CancelScope(shield=True), contextlib.suppress(sqlite3.OperationalError):
                    await conn.execute("ROLLBACK")  # "no transaction is active" when BEGIN itself failed
                raise
            else:
                with anyio.CancelScope(shield=True):
                    await conn.execute("COMMIT")
                    commitpoint.reached()  # before any await: a cancel from now on is too late (issue 8, item 8)

    @property
    def reader(self) -> aiosqlite.Connection:
        """Autocommit connection for reads that need no transaction (WAL: they never wait for the writer)."""
        if self._reader is None:
            raise RuntimeError("database is not open")
        return self._reader

    async def migrate(self, migrations: Iterable[tuple[int, str, str]]) -> list[int]:
        """Apply each pending migration in its own transaction with its version row; safe if two processes race."""
        async with self.transaction() as conn:
            # Inside BEGIN IMMEDIATE, so a second process starting at the same moment waits instead of failing.
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
        applied: list[int] = []
        for version, name, sql in migrations:
            async with self.transaction() as conn:
                cursor = await conn.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (version,))
                if await cursor.fetchone():
                    continue
                for statement in split_statements(sql):
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at)"
                    " VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                    (version, name),
                )
                applied.append(version)
                log.info("applied migration %s", name)
        return applied

    async def schema_version(self) -> int:
        cursor = await self.reader.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        row = await cursor.fetchone()
        assert row is not None  # an aggregate without GROUP BY always gives one row
        return int(row[0])


async def fetch_all(conn: aiosqlite.Connection, sql: str, params: tuple[Any, ...] = ()) -> list[aiosqlite.Row]:
    """One trip to the connection's thread (execute then fetch would be two)."""
    return list(await conn.execute_fetchall(sql, params))


async def fetch_one(conn: aiosqlite.Connection, sql: str, params: tuple[Any, ...] = ()) -> aiosqlite.Row | None:
    rows = await conn.execute_fetchall(sql, params)
    return next(iter(rows), None)
