"""Which database the sidecar uses, and the one way to show its URL without the password.

Order: `--database-url`, then `SWEATSHOP_DATABASE_URL`, then the SQLite file `<home>/sidecar.db` as before.
`postgresql://` and `postgres://` URLs are passed to the driver as written (libpq parameters such as
`?sslmode=require`, or `?host=/run/postgresql` for a unix socket, keep their meaning); everything the sidecar shows
of a URL (logs, errors, `sidecar:health`, notifications) goes through `masked()`, so the password never leaves it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import SplitResult, parse_qsl, urlsplit

ENV_VAR = "SWEATSHOP_DATABASE_URL"
SCHEMES = ("postgresql", "postgres")
MASK = "****"


class Engine(StrEnum):
    SQLITE = "sqlite"
    POSTGRES = "postgresql"


class DatabaseUrlError(ValueError):
    """A database URL the sidecar cannot use; its message never contains the password."""


@dataclass(frozen=True)
class DatabaseTarget:
    """The chosen database: an engine and either a file or a URL (kept private: `repr` and `str` are masked)."""

    engine: Engine
    path: Path | None = None
    _url: str | None = None

    @property
    def url(self) -> str:
        """The URL with its password, for the driver only."""
        if self._url is None:
            raise AttributeError("a SQLite target has no URL")
        return self._url

    def masked(self) -> str:
        """What may be shown anywhere: the file's path, or the URL with its password replaced."""
        return str(self.path) if self._url is None else mask_url(self._url)

    def __repr__(self) -> str:
        return f"DatabaseTarget(engine={self.engine.value!r}, where={self.masked()!r})"

    __str__ = masked


def _split(url: str) -> SplitResult:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as exc:
        raise DatabaseUrlError(f"database URL is malformed ({exc.__class__.__name__}): {mask_url(url)}") from None
    return parts


def mask_url(url: str) -> str:
    """The URL with any password (in the authority or a `password=` parameter) replaced by ****.

    Written to work on malformed input too, since it is what error messages about bad URLs show.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return MASK if ":" in url or "@" in url else url
    authority, slash, tail = rest.partition("/")
    if "@" in authority:
        userinfo, _, hostport = authority.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        authority = f"{user}:{MASK}@{hostport}" if colon else f"{user}@{hostport}"
    path, qmark, query = tail.partition("?")
    if qmark:
        kept = []
        for item in query.split("&"):
            key, eq, _ = item.partition("=")
            kept.append(f"{key}={MASK}" if key.lower() == "password" and eq else item)
        query = "&".join(kept)
    return f"{scheme}://{authority}{slash}{path}{qmark}{query}"


def parse_database_url(url: str) -> DatabaseTarget:
    """Check a PostgreSQL URL enough to fail early with a clear message (the driver does the rest)."""
    parts = _split(url.strip())
    if parts.scheme not in SCHEMES:
        raise DatabaseUrlError(
            f"database URL must start with postgresql:// or postgres:// (got {parts.scheme or 'no'} scheme):"
            f" {mask_url(url)}"
        )
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if not (parts.hostname or query.get("host")):
        # libpq would fall back to a default socket; say so rather than guess which machine the team meant.
        raise DatabaseUrlError(f"database URL names no host (add one, or ?host=/path/to/socket-dir): {mask_url(url)}")
    if not parts.path.strip("/") and not query.get("dbname"):
        raise DatabaseUrlError(f"database URL names no database (postgresql://user@host/dbname): {mask_url(url)}")
    return DatabaseTarget(Engine.POSTGRES, _url=url.strip())


def choose_database(home: Path, flag: str | None = None, environ: dict[str, str] | None = None) -> DatabaseTarget:
    """`--database-url`, else `SWEATSHOP_DATABASE_URL`, else the SQLite file in the home."""
    env = os.environ if environ is None else environ
    url = flag if flag else env.get(ENV_VAR) or None
    if url:
        return parse_database_url(url)
    return DatabaseTarget(Engine.SQLITE, path=home / "sidecar.db")
