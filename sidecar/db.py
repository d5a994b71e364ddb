"""The SQLite file: one write connection behind a lock, one read connection, and numbered migrations.

Why this shape: SQLite allows one writer at a time, across processes too. Every write goes through
`transaction()`, which opens `BEGIN IMMEDIATE` so the write lock is taken up front (a deferred transaction that
reads then writes can fail with SQLITE_BUSY without waiting), and WAL lets readers run beside it. Two sidecars on
one file serialize on the same lock, which is what makes a claim atomic across processes.

Faults are decided here, once, and surface as `DatabaseUnavailable` with a sentence: a file that cannot be opened
(corrupt, a directory, unwritable) fails `open()` with every connection closed (so no worker thread keeps the
process alive and the caller can exit at once); a write lock held by another process past BUSY_TIMEOUT_MS fails
that one transaction; and once the file at `path` is no longer the file open here (deleted, replaced), every
later write is refused, because a change committed into an unlinked file is lost at the next start.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite
import anyio

from sidecar import commitpoint
from sidecar.errors import DatabaseUnavailable

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
        self._quick: sqlite3.Connection | None = None
        self._write_lock = anyio.Lock()
        self._identity: tuple[int, int] | None = None
        # Why writes are refused for good (the file was deleted or replaced); None while all is well.
        self.lost: str | None = None

    async def open(self, migrations: Iterable[tuple[int, str, str]] | None = None) -> None:
        """Connect, switch to WAL and migrate; on any failure the connections are closed, so no thread lingers.

        Raises DatabaseUnavailable with one sentence saying what is wrong with the file.
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = await self._connect()
            await self._enable_wal(self._writer)
            await self.migrate(bundled_migrations() if migrations is None else migrations)
            self._reader = await self._connect()
            self._quick = self._connect_quick()
            self._identity = self._stat_identity()
        except BaseException as exc:
            await self.close()
            if isinstance(exc, DatabaseUnavailable):
                raise
            if isinstance(exc, sqlite3.Error | OSError | TimeoutError):
                raise DatabaseUnavailable(self._open_failure(exc), path=str(self.path)) from exc
            raise

    def _open_failure(self, exc: BaseException) -> str:
        """One sentence a person can act on, for each way a file can fail to open."""
        where = str(self.path)
        text = str(exc)
        if isinstance(exc, TimeoutError) or "locked" in text or "busy" in text:
            return (
                f"cannot open the database {where}: another process held it locked for more than"
                f" {BUSY_TIMEOUT_MS // 1000} s"
            )
        if isinstance(exc, sqlite3.DatabaseError) and ("not a database" in text or "malformed" in text):
            return (
                f"cannot open the database {where}: the file is corrupt ({text});"
                " move it aside to start with an empty one"
            )
        if "readonly" in text or "read-only" in text:
            return f"cannot open the database {where}: it is read-only ({text})"
        if os.path.isdir(self.path):
            return f"cannot open the database {where}: it is a directory, not a file"
        return f"cannot open the database {where}: {text}"

    def _stat_identity(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_dev, st.st_ino)

    def check_file(self) -> str | None:
        """Whether the file at `path` is still the one open here; the reason writes are refused, once it is not.

        Called before and after every write transaction and on the refresh timer: deleting `sidecar.db*` under a
        running sidecar must not leave it acknowledging changes that the next start will not find.
        """
        if self.lost is None and self._identity is not None:
            now = self._stat_identity()
            if now != self._identity:
                what = "deleted" if now is None else "replaced by another file"
                self.lost = (
                    f"the database file {self.path} was {what} while the sidecar had it open; "
                    "changes are refused until the sidecar restarts"
                )
                log.error("%s", self.lost)
        return self.lost

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
        pending = aiosqlite.connect(self.path, isolation_level=None)
        try:
            conn = await pending
        except BaseException:
            # On a failed connect aiosqlite queues its worker thread's stop without waiting for it. Wait here, while
            # the event loop still runs: a thread that reports to a closed loop prints a traceback as the process
            # exits (the unopenable-database exit must be one sentence on stderr).
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(pending._thread.join, 2.0)
            raise
        try:
            conn.row_factory = aiosqlite.Row
            for pragma in (
                f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
                "PRAGMA foreign_keys=ON",
                # FULL: a committed lease survives power loss too, not just a kill -9 of this process.
                "PRAGMA synchronous=FULL",
            ):
                await conn.execute(pragma)
        except BaseException:
            # A connection the caller never receives must still be closed: its worker thread keeps the process alive.
            with anyio.CancelScope(shield=True):
                await conn.close()
            raise
        return conn

    def _connect_quick(self) -> sqlite3.Connection:
        """A plain sqlite3 connection for reads on the event loop's own thread (see quick_reader)."""
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout=0")  # never wait on the loop: a busy read goes to the reader's thread
            conn.execute("PRAGMA query_only=ON")  # reads only, whatever a caller sends it
        except BaseException:
            conn.close()
            raise
        return conn

    async def close(self) -> None:
        if self._quick is not None:
            self._quick.close()
            self._quick = None
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
            self._refuse_if_lost()
            conn = self._writer
            try:
                # Inside the try: a cancel while BEGIN is queued still runs it in aiosqlite's thread, so the
                # ROLLBACK queued after it must follow (or the next BEGIN fails "within a transaction").
                try:
                    await conn.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) and "busy" not in str(exc):
                        raise
                    raise DatabaseUnavailable(
                        f"the database is busy: another process has held its write lock for more than "
                        f"{BUSY_TIMEOUT_MS // 1000} s; nothing was changed, try again",
                        reason="busy",
                    ) from None
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
            # Committed, but into the file still at `path`? If not, the change is not acknowledged.
            self._refuse_if_lost()

    def _refuse_if_lost(self) -> None:
        lost = self.check_file()
        if lost is not None:
            raise DatabaseUnavailable(lost, reason="fileLost", path=str(self.path))

    @property
    def reader(self) -> aiosqlite.Connection:
        """Autocommit connection for reads that need no transaction (WAL: they never wait for the writer)."""
        if self._reader is None:
            raise RuntimeError("database is not open")
        return self._reader

    @property
    def quick_reader(self) -> sqlite3.Connection:
        """The same file read on the event loop's own thread, without aiosqlite's hop (storage/connection.py's
        SqliteReader tries it first for every read): a WAL read never waits for the writer, and a ~10 us query is
        cheaper run here than the ~80 us hop to the reader's thread. It never waits (busy_timeout 0) and only reads
        (query_only); a read it cannot do at once (a checkpoint, WAL recovery) goes to `reader` instead."""
        if self._quick is None:
            raise RuntimeError("database is not open")
        return self._quick

    async def migrate(self, migrations: Iterable[tuple[int, str, str]]) -> list[int]:
        """Apply each pending migration in its own transaction with its version row; safe if two processes race.

        A database already at the latest version is not written at all, so a sidecar starting while another
        process holds the write lock starts at once (its first write waits, not its start).
        """
        migrations = list(migrations)
        if await self._applied_versions() >= {version for version, _, _ in migrations}:
            return []
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

    async def _applied_versions(self) -> set[int]:
        assert self._writer is not None
        exists = await fetch_one(
            self._writer, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        )
        if exists is None:
            return set()
        return {int(row[0]) for row in await fetch_all(self._writer, "SELECT version FROM schema_migrations")}

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
