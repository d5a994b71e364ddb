"""A real PostgreSQL server for the tests: one per session, a fresh database per test.

Why a private server rather than the machine's: tests must not depend on (or touch) a cluster someone configured,
and PostgreSQL refuses to run as root, so the server is initdb'd into a temporary directory and run as an
unprivileged user (`postgres` through `runuser` when the tests run as root), listening on a unix socket in that
directory and on 127.0.0.1 only, with trust authentication (nothing else can reach it), and stopped at the end.

`SWEATSHOP_TEST_DATABASE_URL` points the tests at an existing server instead (its user must be allowed to create
databases). Under `CI=true` a missing server fails the run; elsewhere the PostgreSQL tests skip with one line
saying how to enable them.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from sidecar.storage.database import PostgresDatabase, SqliteDatabase, open_target
from sidecar.storage.url import DatabaseTarget, Engine, parse_database_url

ENABLE_HINT = (
    "PostgreSQL tests skipped: install Debian's server (`apt-get install -y postgresql`) or set"
    " SWEATSHOP_TEST_DATABASE_URL=postgresql://user@host/db"
)
START_TIMEOUT_S = 60


def find_bin_dir() -> Path | None:
    """The newest installed server's bin directory (Debian keeps them in /usr/lib/postgresql/<major>/bin)."""
    configured = os.environ.get("SWEATSHOP_PG_BIN")
    if configured:
        return Path(configured) if (Path(configured) / "initdb").exists() else None
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """A server this session started (or was pointed at): it hands out databases by URL."""

    admin_url: str
    socket_dir: Path | None = None
    port: int | None = None
    _stop: list[str] | None = None
    _user_prefix: tuple[str, ...] = ()

    @classmethod
    def start(cls, bin_dir: Path) -> PostgresServer:
        root = Path(tempfile.mkdtemp(prefix="sweatshop-pg-"))
        data, sockets = root / "data", root / "run"
        sockets.mkdir()
        prefix: tuple[str, ...] = ()
        if os.geteuid() == 0:
            # PostgreSQL refuses root; the temp tree must belong to the user it runs as.
            prefix = (shutil.which("runuser") or "/usr/sbin/runuser", "-u", "postgres", "--")
            shutil.chown(root, "postgres")
            shutil.chown(sockets, "postgres")
            os.chmod(root, 0o700)
        port = _free_port()
        run = lambda *argv: subprocess.run(  # noqa: E731 - one line per server command below
            [*prefix, *argv], check=True, capture_output=True, text=True, timeout=START_TIMEOUT_S
        )
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={sockets}"
            " -c fsync=off -c max_connections=200 -c shared_buffers=32MB"
        )
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w", "start")
        server = cls(
            admin_url=f"postgresql://postgres@/postgres?host={quote(str(sockets))}&port={port}",
            socket_dir=sockets,
            port=port,
            _stop=[*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
        )
        server._root = root  # type: ignore[attr-defined]
        return server

    def stop(self) -> None:
        """pg_ctl's immediate stop; if that fails (a test may have changed the environment), SIGQUIT to the
        postmaster this session started, by the pid it wrote (SIGQUIT is PostgreSQL's immediate shutdown)."""
        if self._stop is None:
            return
        root = self._root
        pid_file = root / "data" / "postmaster.pid"
        pid = int(pid_file.read_text().split()[0]) if pid_file.exists() else None
        done = subprocess.run(self._stop, check=False, capture_output=True, timeout=START_TIMEOUT_S)
        if done.returncode != 0 and pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGQUIT)
        shutil.rmtree(root, ignore_errors=True)
        self._stop = None

    def url(self, database: str) -> str:
        """The admin URL with another database name in its path."""
        head, _, tail = self.admin_url.partition("?")
        base = head.rsplit("/", 1)[0]
        return f"{base}/{database}" + (f"?{tail}" if tail else "")

    def _psql(self, sql: str) -> None:
        psql = shutil.which("psql") or str((find_bin_dir() or Path("/usr/bin")) / "psql")
        subprocess.run(
            [psql, "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-q", "-d", self.admin_url, "-c", sql],
            check=True,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S,
        )

    def create_database(self) -> str:
        name = "t_" + uuid.uuid4().hex[:16]
        self._psql(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        self._psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def cut_off(self, url: str) -> None:
        """The database goes away under its sidecars, as when its server restarts: every backend on it is
        terminated and new connections are refused until `restore` (the rest of the server keeps serving)."""
        name = database_name(url)
        self._psql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        self._psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")

    def restore(self, url: str) -> None:
        self._psql(f'ALTER DATABASE "{database_name(url)}" ALLOW_CONNECTIONS true')


def database_name(url: str) -> str:
    """The database a test URL names (the last path segment, before any query)."""
    return url.partition("?")[0].rsplit("/", 1)[1]


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
