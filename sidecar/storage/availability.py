"""Whether the team database can be reached right now, decided in one place for every statement of a sidecar.

A PostgreSQL server can go away under a running sidecar (restarted, the network dropped, an administrator
terminating backends). Then every request answers `DATABASE_UNAVAILABLE` (`data.reason` `connectionLost`) at
once instead of waiting on a dead socket, and nothing is acknowledged that did not commit: a statement or a COMMIT
that fails on a lost connection raises, so the caller's service never announces the change. Retries back off:
after a failure, requests are refused without touching the network until `retry_at`, then one tries again; the
pause doubles up to RETRY_SECONDS' cap. The listener (sidecar/storage/listener.py) probes on its own schedule and
reports the database up again as soon as it reconnects.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sidecar.errors import DatabaseUnavailable

log = logging.getLogger(__name__)

# First pause after a lost connection, and the longest one: short enough that a restarted server is used again
# within seconds, long enough that a dead one is not hammered by every request.
RETRY_SECONDS = (0.25, 5.0)


def is_connection_loss(exc: BaseException) -> bool:
    """The connection (not the statement) failed: the server went away, shut down, refused us, or the socket died.

    Recognised by class name so this module never imports the driver: asyncpg's connection errors (SQLSTATE class
    08), operator intervention (57P: admin or crash shutdown, cannot connect now), a closed connection, OS errors
    and timeouts while connecting, a protocol left broken by a terminated backend.
    """
    if isinstance(exc, OSError | TimeoutError | ConnectionError):
        return True
    names = {cls.__name__ for cls in type(exc).__mro__ if cls.__module__.startswith("asyncpg")}
    # InternalClientError: the protocol of a connection whose backend was terminated mid-statement.
    if names & {"PostgresConnectionError", "OperatorInterventionError", "InternalClientError"}:
        return True
    return "InterfaceError" in names and "closed" in str(exc)


class Availability:
    """The reachability of one database, with the back-off between attempts after a loss."""

    def __init__(
        self,
        described: str,
        on_lost: Callable[[], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._described = described  # the masked URL: never the password
        # Called after each loss a statement meets (the pool drops its idle connections: they died with it).
        self._on_lost = on_lost
        self._clock = clock
        self._pause = RETRY_SECONDS[0]
        self._retry_at = 0.0
        self.lost_because: str | None = None
        self._on_up: list[Callable[[], None]] = []

    @property
    def up(self) -> bool:
        return self.lost_because is None

    def on_up(self, callback: Callable[[], None]) -> None:
        """Call `callback` (synchronously) each time the database is reachable again after a loss."""
        self._on_up.append(callback)

    def unavailable(self) -> DatabaseUnavailable:
        return DatabaseUnavailable(
            f"the team database at {self._described} cannot be reached ({self.lost_because or 'connection lost'});"
            " nothing was changed by this request, and the sidecar is reconnecting: try again shortly",
            reason="connectionLost",
        )

    def check(self) -> None:
        """Refuse at once while backing off after a loss (no connection attempt per request)."""
        if self.lost_because is not None and self._clock() < self._retry_at:
            raise self.unavailable()

    def lost(self, why: str) -> None:
        if self.lost_because is None:
            log.warning("lost the team database at %s: %s; reconnecting", self._described, why)
            self._pause = RETRY_SECONDS[0]
        self.lost_because = why
        self._retry_at = self._clock() + self._pause
        self._pause = min(self._pause * 2, RETRY_SECONDS[1])

    def reached(self) -> None:
        if self.lost_because is None:
            return
        log.warning("the team database at %s is reachable again", self._described)
        self.lost_because = None
        self._pause = RETRY_SECONDS[0]
        for callback in list(self._on_up):
            callback()

    @asynccontextmanager
    async def guard(self, connecting: bool = False) -> AsyncIterator[None]:
        """Around one use of the network: a lost connection becomes DatabaseUnavailable and starts the back-off;
        success after a loss marks the database reachable again. Other errors (a constraint, a bug) pass as they
        are, except while `connecting`: then any failure (the database refusing connections, too many clients, a
        changed password) means it cannot be used now."""
        self.check()
        try:
            yield
        except Exception as exc:
            if not connecting and not is_connection_loss(exc):
                raise
            self.lost(_short(exc))
            if self._on_lost is not None:
                await self._on_lost()
            raise self.unavailable() from None
        self.reached()


def _short(exc: BaseException) -> str:
    """What failed, for logs and the error's sentence: the driver's class only (its message may quote the host,
    the user or a parameter of the URL; the class says enough)."""
    return type(exc).__name__
