"""Leases of machines that went away: each sidecar instance heartbeats in the database, and any live peer ends the
leases of an instance that stopped beating for `orgPool.leaseTimeoutMinutes`.

A desktop that is closed, sleeps or crashes must not hold the team's orgs forever. Its instance (one per home,
sidecar/pool/holder.py) writes `sidecar_instances.heartbeat_at` every HEARTBEAT_SECONDS; every sidecar, on the same
beat, looks for leases whose instance's heartbeat is older than the timeout and ends them (the org is available
again, `org:changed` reason `reaped` reaches every sidecar). The machine that comes back finds its agents without
an org: `org:lease` is null and `org:checkAccess` denied, never two agents on one org. A live instance's leases are
never reaped whatever their age: only the heartbeat counts, never `leased_at`. The reap itself is race-safe in SQL
(sidecar/pool/instance_store.py). Time is the database server's clock on PostgreSQL, so desktops whose clocks
disagree still agree on who is late.

One heartbeat for both liveness questions. The provisioning runs' heartbeat (sidecar/provisioning/ownership.py)
beats with the same period and judges with the same number of missed beats, both defined here
(HEARTBEAT_SECONDS, from `SWEATSHOP_HEARTBEAT_SECONDS`, and STALE_BEATS), so "gone" means one thing. What differs
is only whose heartbeat it is: a lease belongs to an instance (a home: a restarted sidecar finds its agents'
leases again), a run to the process running it, because on a SQLite file every process is the one instance
`local`, and a second process on the file must still tell when the first one died mid-run; a run's row therefore
carries its process's beat, and a lease's liveness is its instance's row here. The lease timeout is never shorter
than STALE_BEATS beats, so a setting below the beat cannot reap a live desktop.

On a SQLite file every sidecar is the one instance `local` (one desktop, even a second process on another home
sharing the file): its own instance is always live, so there is nothing to beat or reap and app.py starts this on
a shared pool only. The SQL is the same on both engines and race-safe on SQLite too (the file's one writer); the
tests run it on both with two instances on one file.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import groupby

import anyio

from sidecar.errors import DatabaseUnavailable
from sidecar.pool import instance_store as store
from sidecar.pool.models import ChangeReason, ScratchOrg
from sidecar.pool.service import PoolChange, PoolService
from sidecar.storage.connection import Connection
from sidecar.storage.database import Database
from sidecar.timeutil import Clock, utcnow

log = logging.getLogger(__name__)

# Tests and demos shorten the beat (a stranded run or lease is then noticed within seconds).
HEARTBEAT_SECONDS = float(os.environ.get("SWEATSHOP_HEARTBEAT_SECONDS", "10"))
# Three missed beats: one slow write (the database busy with a long transaction) is not a death.
STALE_BEATS = 3


def lease_timeout(minutes: float, heartbeat_seconds: float = HEARTBEAT_SECONDS) -> timedelta:
    """How long an instance may be silent before it counts as gone: `orgPool.leaseTimeoutMinutes`, never less than
    STALE_BEATS heartbeats (a setting below the beat cannot take a live desktop for gone)."""
    return max(timedelta(minutes=minutes), timedelta(seconds=heartbeat_seconds * STALE_BEATS))


async def shared_now(conn: Connection, clock: Clock | None = None) -> datetime:
    """Now by the clock every desktop shares: the database server's (SQLite has none: this machine's), unless a
    test gives a clock to move time without sleeping."""
    if clock is not None:
        return clock()
    return await store.database_now(conn) or utcnow()


async def live_since(conn: Connection, gone_after: timedelta, clock: Clock | None = None) -> datetime:
    """The oldest heartbeat of an instance that still counts as live."""
    return await shared_now(conn, clock) - gone_after


class Instances:
    """This sidecar instance's heartbeat, and the reaping of leases whose instance stopped beating."""

    def __init__(
        self,
        db: Database,
        pool: PoolService,
        timeout_minutes: Callable[[], float],
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        clock: Clock | None = None,
    ) -> None:
        self._db = db
        self._pool = pool
        self._timeout_minutes = timeout_minutes
        self.heartbeat_seconds = heartbeat_seconds
        # None: the database's clock (the server's on PostgreSQL); tests inject one to move time without sleeping.
        self._clock = clock

    @property
    def instance_id(self) -> str:
        return self._pool.holder.instance_id

    def timeout(self) -> timedelta:
        return lease_timeout(self._timeout_minutes(), self.heartbeat_seconds)

    async def start(self) -> None:
        """Announce this instance (before it serves, so its first lease already has a live heartbeat)."""
        await self.beat(starting=True)

    async def beat(self, starting: bool = False) -> None:
        async with self._db.transaction() as conn:
            now = await shared_now(conn, self._clock)
            await store.beat(conn, self.instance_id, self._pool.holder.machine_name, now, starting)

    async def reap(self) -> list[ScratchOrg]:
        """End every lease whose instance missed its heartbeats for the timeout; the orgs back in the pool.

        Candidates are read without locks first (the common answer is none); each stale instance's leases are then
        ended in one transaction holding that instance's row, re-checking the heartbeat under the lock.
        """
        cutoff = await live_since(self._db.reader, self.timeout(), self._clock)
        stale = await store.stale_leases(self._db.reader, self.instance_id, cutoff)
        reaped: list[ScratchOrg] = []
        for instance_id, leases in groupby(stale, key=lambda lease: lease.instance_id):
            async with self._db.transaction() as conn:
                await store.lock_instance(conn, instance_id)
                await store.mark_reaping(conn)
                ended = [org for lease in leases if (org := await store.reap(conn, lease, cutoff)) is not None]
            for org in ended:
                log.warning(
                    "ended the lease of org %s: its sidecar instance %s stopped heartbeating more than %g min ago",
                    org.alias,
                    instance_id,
                    self.timeout().total_seconds() / 60,
                )
            reaped.extend(ended)
        # The agents were another instance's: no agent of this sidecar is concerned (agentId null).
        await self._pool.announce_committed([PoolChange(ChangeReason.REAPED, org) for org in reaped])
        return reaped

    async def run(self) -> None:
        """Beat and reap every heartbeat until cancelled; a database that is away is waited out, never fatal."""
        while True:
            await anyio.sleep(self.heartbeat_seconds)
            try:
                await self.beat()
                await self.reap()
            except DatabaseUnavailable as exc:
                log.info("heartbeat skipped: %s", exc.message)
            except Exception:
                log.exception("instance heartbeat failed")
