"""This sidecar's side of run ownership (owner.py has the rules): heartbeats for its runs, the sweep that finds
runs whose sidecar is provably gone, and the record of each run's process groups.

Every run has a row in `provision_runs` naming the sidecar that runs it, with a heartbeat. A process killed
mid-run leaves it `running`; a sidecar that finds it so while its owner is provably gone (at its own start, and on
every heartbeat after) marks it `interrupted`, stops the commands the dead owner left running on this host, says so
on stderr and as an ERROR status, and `provision:runs` reports it. Another sidecar's live runs are left alone.
"""

from __future__ import annotations

import logging
from datetime import datetime

import anyio

from sidecar.errors import DatabaseUnavailable
from sidecar.provisioning import store
from sidecar.provisioning.lifecycle import RunStateConflict, status_of
from sidecar.provisioning.models import RunRecord, RunState
from sidecar.provisioning.owner import Owner, reap_group, stale_after, why_gone
from sidecar.provisioning.runs import ActiveRun, ActiveRuns, Publish, announce
from sidecar.sf.process import ChildWatch
from sidecar.storage.database import Database
from sidecar.timeutil import Clock

log = logging.getLogger(__name__)


class Ownership:
    def __init__(
        self, db: Database, owner: Owner, runs: ActiveRuns, publish: Publish, clock: Clock, heartbeat_seconds: float
    ) -> None:
        self.owner = owner
        self.heartbeat_seconds = heartbeat_seconds
        self._db = db
        self._runs = runs
        self._publish = publish
        self._clock = clock

    async def heartbeat_loop(self) -> None:
        last = self._clock()
        while True:
            await anyio.sleep(self.heartbeat_seconds)
            now = self._clock()
            # Far more time passed than was slept: this machine was suspended, and every sidecar on it with it. A
            # peer's heartbeat is old only because it could not beat either: give it a beat before judging it.
            overslept = now - last > stale_after(self.heartbeat_seconds)
            last = now
            try:
                await self._beat(now)
                if not overslept:
                    await self.sweep()
            except DatabaseUnavailable as exc:  # the database is away: one line, not a traceback per beat
                log.info("provisioning heartbeat skipped: %s", exc.message)
            except Exception:
                log.exception("provisioning heartbeat failed")

    async def _beat(self, now: datetime) -> None:
        run_ids = [run.run_id for run in self._runs]
        if run_ids:
            async with self._db.transaction() as conn:
                await store.beat(conn, self.owner, run_ids, now)

    async def sweep(self, *, startup: bool = False) -> list[RunRecord]:
        """Mark `interrupted` every live run whose sidecar is provably gone, stop what it left running here, and
        report each run (stderr, an ERROR status); returns those runs as they were before.

        A run without an owner (started by a sidecar older than the owner columns) can only be judged at start,
        as such sidecars did themselves: one may be running beside this one and would never beat.
        """
        now = self._clock()
        stale = stale_after(self.heartbeat_seconds)
        judged: list[tuple[store.LiveRun, str]] = []
        for live in await store.live_runs(self._db.reader):
            if live.owner is None and not startup:
                continue
            ours = self._runs.get(live.record.agent_id)
            if live.owner == self.owner and ours is not None and ours.run_id == live.record.run_id:
                continue  # under way here, whatever its heartbeat says (a beat may have failed)
            why = why_gone(live.owner, live.heartbeat_at, here=self.owner.host, now=now, stale=stale)
            if why is not None:
                judged.append((live, why))
        if not judged:
            return []
        interrupted: list[tuple[store.LiveRun, str, list[int]]] = []
        async with self._db.transaction() as conn:
            for live, why in judged:
                record = live.record
                sentence = (
                    f"Provisioning of agent {record.agent_id} was interrupted"
                    + (f" during the {record.step} step" if record.step else "")
                    + f" because {why}. Provision again to continue"
                    + (" (its org stays leased to it)." if record.org_id else ".")
                )
                try:
                    await store.interrupt(conn, live, sentence, now)
                except RunStateConflict:  # its owner beat meanwhile, or another sidecar got there first
                    continue
                interrupted.append((live, sentence, await store.take_children(conn, record.run_id)))
        for live, sentence, groups in interrupted:
            record = live.record
            log.warning("provisioning run %s of agent %s was interrupted: %s", record.run_id, record.agent_id, sentence)
            if live.owner is not None and live.owner.host == self.owner.host:
                for pgid in groups:
                    reap_group(pgid, live.owner.token)
            await announce(self._publish, record.agent_id, status_of(RunState.INTERRUPTED), record.step, [sentence])
        return [live.record for live, _, _ in interrupted]

    def watch_children(self, run: ActiveRun) -> ChildWatch:
        """Mark the run's commands as this sidecar's and record their process groups while they run, so whoever
        finds this sidecar gone can stop them (see owner.py)."""

        async def started(pgid: int) -> None:
            try:
                async with self._db.transaction() as conn:
                    await store.add_child(conn, run.run_id, pgid, self._clock())
            except Exception:  # the command still runs; only a later reaping would miss it
                log.exception("could not record process group %s of provisioning run %s", pgid, run.run_id)

        async def ended(pgid: int) -> None:
            try:
                async with self._db.transaction() as conn:
                    await store.remove_child(conn, run.run_id, pgid)
            except Exception:
                log.exception("could not forget process group %s of provisioning run %s", pgid, run.run_id)

        return ChildWatch(env=self.owner.child_env(run.run_id), started=started, ended=ended)
