"""A real PostgreSQL server for the tests: one per session, a fresh database per test.

The server itself is sidecar/devtools/postgres.py's (`make demo-team` starts its own the same way): initdb'd into a
temporary directory, run as an unprivileged user, on a private unix socket and 127.0.0.1 only, stopped at the end.

`SWEATSHOP_TEST_DATABASE_URL` points the tests at an existing server instead (its user must be allowed to create
databases). Under `CI=true` a missing server fails the run; elsewhere the PostgreSQL tests skip with one line
saying how to enable them.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from sidecar.devtools.postgres import PostgresServer, find_bin_dir
from sidecar.storage.database import PostgresDatabase, SqliteDatabase, open_target
from sidecar.storage.url import DatabaseTarget, Engine, parse_database_url

ENABLE_HINT = (
    "PostgreSQL tests skipped: install Debian's server (`apt-get install -y postgresql`) or set"
    " SWEATSHOP_TEST_DATABASE_URL=postgresql://user@host/db"
)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but no PostgreSQL server for the tests: {reason}", pytrace=False)
    pytest.skip(ENABLE_HINT)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    external = os.environ.get("SWEATSHOP_TEST_DATABASE_URL")
    if external:
        yield PostgresServer(admin_url=external)
        return
    bin_dir = find_bin_dir()
    if bin_dir is None:
        _unavailable("initdb not found (looked in /usr/lib/postgresql/*/bin and PATH)")
        return
    try:
        server = PostgresServer.start(bin_dir)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError, KeyError, LookupError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        _unavailable(f"could not start the server from {bin_dir}: {detail}")
        return
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the session's server, dropped after the test."""
    name = postgres_server.create_database()
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.drop_database(name)


ENGINES = ["sqlite", "postgresql"]


@pytest.fixture(params=ENGINES)
def database_target(request: pytest.FixtureRequest, tmp_path: Path) -> DatabaseTarget:
    """One test, run once per engine: a fresh SQLite file, or a fresh database on the session's PostgreSQL."""
    if request.param == "sqlite":
        return DatabaseTarget(Engine.SQLITE, path=tmp_path / "sidecar.db")
    return parse_database_url(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def database(database_target: DatabaseTarget) -> AsyncIterator[SqliteDatabase | PostgresDatabase]:
    """The opened (migrated) database for `database_target`, closed after the test."""
    db = open_target(database_target)
    await db.open()
    try:
        yield db
    finally:
        await db.close()
