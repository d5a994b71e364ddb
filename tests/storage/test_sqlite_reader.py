"""The SQLite reader answers on the loop's own thread when it can and on aiosqlite's reader thread when it cannot;
what callers see (data, errors) is what they saw before the loop-thread path."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sidecar.storage.database import SqliteDatabase

pytestmark = pytest.mark.anyio


async def test_reads_see_every_commit_at_once(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "sidecar.db")
    await db.open()
    try:
        for n in range(1, 4):
            async with db.transaction() as conn:
                await conn.execute(
                    "INSERT INTO pool_state (id, max_orgs) VALUES (?, ?)"
                    " ON CONFLICT (id) DO UPDATE SET max_orgs = excluded.max_orgs",
                    (1, n),
                )
            # Read-your-writes across the two connections: the loop-thread read sees the commit just made.
            assert await db.reader.fetch_val("SELECT max_orgs FROM pool_state WHERE id = 1") == n
    finally:
        await db.close()


async def test_a_read_the_loop_thread_cannot_do_is_answered_by_the_reader_thread(tmp_path: Path) -> None:
    """Any sqlite3 error on the loop-thread connection (busy at that instant, or here: closed under it) sends the read
    to aiosqlite's reader, which gives the answer, or the error callers have always seen."""
    db = SqliteDatabase(tmp_path / "sidecar.db")
    await db.open()
    try:
        async with db.transaction() as conn:
            await conn.execute("UPDATE pool_state SET max_orgs = 8 WHERE id = 1")
        quick = db.file.quick_reader
        quick.close()
        with pytest.raises(sqlite3.ProgrammingError):
            quick.execute("SELECT 1")
        assert await db.reader.fetch_val("SELECT max_orgs FROM pool_state WHERE id = 1") == 8
        with pytest.raises(sqlite3.OperationalError, match="no such table"):
            await db.reader.fetch_all("SELECT * FROM no_such_table")
    finally:
        await db.close()


async def test_the_loop_thread_connection_only_reads(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "sidecar.db")
    await db.open()
    try:
        quick = db.file.quick_reader
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            quick.execute("UPDATE pool_state SET max_orgs = 1 WHERE id = 1")
        assert quick.execute("PRAGMA busy_timeout").fetchone()[0] == 0  # it never waits on the loop
    finally:
        await db.close()
