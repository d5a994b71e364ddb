"""A throwaway PostgreSQL server: `initdb` into a temporary directory, started as an unprivileged user, reachable
on a unix socket in that directory and on 127.0.0.1 only, stopped (and its directory removed) at the end.

The tests (tests/support/postgres.py: one server per session, a fresh database per test) and `make demo-team`
both start their server here. Why a private server rather than the machine's: neither must depend on (or touch) a
cluster someone configured, and PostgreSQL refuses to run as root, so when this runs as root the server runs as
the `postgres` user (through `runuser`), which Debian's package creates. Trust authentication is safe here because
nothing but this machine's loopback and the private socket directory can reach the server.
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
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

START_TIMEOUT_S = 60
INSTALL_HINT = "install Debian's server (`apt-get install -y postgresql`) or set SWEATSHOP_PG_BIN to its bin directory"


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
    """A server this process started (or was pointed at, `admin_url` only): it hands out databases by URL."""

    admin_url: str
    socket_dir: Path | None = None
    port: int | None = None
    _stop: list[str] | None = None
    _root: Path | None = field(default=None, repr=False)

    @classmethod
    def start(cls, bin_dir: Path) -> PostgresServer:
        """initdb and start; raises CalledProcessError (with the server's words in stderr) when it cannot."""
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

        def run(*argv: str) -> None:
            subprocess.run([*prefix, *argv], check=True, capture_output=True, text=True, timeout=START_TIMEOUT_S)

        try:
            run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
            options = (
                f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={sockets}"
                " -c fsync=off -c max_connections=200 -c shared_buffers=32MB"
            )
            run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w", "start")
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        return cls(
            admin_url=f"postgresql://postgres@/postgres?host={quote(str(sockets))}&port={port}",
            socket_dir=sockets,
            port=port,
            _stop=[*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            _root=root,
        )

    def stop(self) -> None:
        """pg_ctl's immediate stop; if that fails (a test may have changed the environment), SIGQUIT to the
        postmaster this process started, by the pid it wrote (SIGQUIT is PostgreSQL's immediate shutdown)."""
        if self._stop is None or self._root is None:
            return
        pid_file = self._root / "data" / "postmaster.pid"
        pid = int(pid_file.read_text().split()[0]) if pid_file.exists() else None
        done = subprocess.run(self._stop, check=False, capture_output=True, timeout=START_TIMEOUT_S)
        if done.returncode != 0 and pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGQUIT)
        shutil.rmtree(self._root, ignore_errors=True)
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
    """The database a URL names (the last path segment, before any query)."""
    return url.partition("?")[0].rsplit("/", 1)[1]
