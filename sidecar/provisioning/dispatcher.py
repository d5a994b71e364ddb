"""The durable provisioning queue: who waits for an org (first in, first out), and handing the head an org.

When no org can be had, a run is parked in `provision_queue` and the request answers `queued: true`. The
dispatcher wakes on every pool change that may free capacity (released, removed, expired, registered,
discovered), on settings changes (maxOrgs growth), on a creation slot coming back and at the next Dev Hub retry
time; it hands the head of the queue an org (or a slot to create one) and the run continues by itself.

On a database several machines share, the queue is the team's: one order (`seq`, from one shared counter) over every
machine's waiters. A dispatcher serves only its own instance's rows (the agent's worktree and CLI are on its
machine), and only in its turn: while an older waiter of another live machine waits (its instance heartbeats in
`sidecar_instances`, sidecar/pool/instances.py), this dispatcher leaves orgs and creation slots to it. An org freed
on machine A therefore goes to the oldest waiter on whatever machine: that machine's dispatcher claims it, and the
run continues there with its own notifications. The waiting machine's dispatcher wakes when the org is freed: the
release reaches it through LISTEN/NOTIFY as a pool change (sidecar/pool/peers.py), as a local one would; it also
looks at the team queue every TEAM_POLL_SECONDS while it has waiters, in case a notification was missed. The waiters
of a machine whose instance stopped beating for stale_after() (three beats) no longer hold the queue up; they regain
their place if it returns.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import datetime, timedelta

import anyio

from sidecar.errors import SidecarError
from sidecar.pool import instance_store
from sidecar.pool.service import PoolService
from sidecar.provisioning import store
from sidecar.provisioning.creation import CapacityGate, definition_shape
from sidecar.provisioning.lifecycle import RunStateConflict, status_of
from sidecar.provisioning.masking import mask
from sidecar.provisioning.models import ProvisionConfig, QueueEntry, QueueReason, RunState
from sidecar.provisioning.owner import HEARTBEAT_SECONDS, Owner, stale_after
from sidecar.provisioning.paths import run_paths
from sidecar.provisioning.pipeline import Handover, PipelineOutcome, Queued
from sidecar.provisioning.runs import ActiveRun, ActiveRuns, Publish, announce, queued_result
from sidecar.settings import SettingsStore
from sidecar.storage.connection import Connection
from sidecar.storage.database import Database
from sidecar.timeutil import Clock

log = logging.getLogger(__name__)

# Dev Hub limit retries: first after LIMIT_RETRY_SECONDS, doubling up to LIMIT_RETRY_MAX_SECONDS. The environment
# variable exists for tests and demos that cannot wait a minute.
LIMIT_RETRY_SECONDS = float(os.environ.get("SWEATSHOP_LIMIT_RETRY_SECONDS", "60"))
LIMIT_RETRY_MAX_SECONDS = 30 * 60
# The dispatcher also looks at the queue this often, whatever woke it or not (a missed event costs at most this).
DISPATCH_FALLBACK_SECONDS = 30.0
# On a shared pool, how often a dispatcher with waiters looks whether an org was freed on another machine or its
# turn came, should a notification have been missed (LISTEN/NOTIFY wakes it sooner). For tests and benches.
TEAM_POLL_SECONDS = float(os.environ.get("SWEATSHOP_TEAM_POLL_SECONDS", "1.0"))


def retry_delay(attempts: int) -> float:
    return min(LIMIT_RETRY_SECONDS * 2.0 ** max(0, attempts - 1), LIMIT_RETRY_MAX_SECONDS)


def queue_sentence(reason: QueueReason, position: int, retry_at: datetime | None, why: str | None = None) -> str:
    text = why or (
        "The Dev Hub refused a new scratch org (LIMIT_EXCEEDED); the creation is retried with backoff."
        if reason is QueueReason.DEVHUB_LIMIT
        else "No scratch org is free; provisioning continues by itself when one is."
    )
    text += f" Position in the queue: {position}."
    if retry_at is not None:
        text += f" Next Dev Hub attempt at {retry_at.isoformat(timespec='seconds')}."
    return text


class QueueDispatcher:
    def __init__(
        self,
        db: Database,
        pool: PoolService,
        settings: SettingsStore,
        gate: CapacityGate,
        runs: ActiveRuns,
        owner: Owner,
        start: Callable[[ActiveRun], None],
        publish: Publish,
        clock: Clock,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
    ) -> None:
        self._db = db
        self._pool = pool
        # This sidecar instance: the queue it serves is its own agents' (agent ids are unique per machine only).
        self._me = pool.holder.instance_id
        self._settings = settings
        self._gate = gate
        self._runs = runs
        self._owner = owner
        self._start = start
        self._publish = publish
        self._clock = clock
        self._wake = anyio.Event()
        self._lock = anyio.Lock()
        self._shared = pool.holder.shared
        self._heartbeat = heartbeat_seconds

    def wake(self) -> None:
        self._wake.set()

    # -- reads ------------------------------------------------------------------------------------------------------

    async def waiters(self) -> list[tuple[str, store.QueuedRow]]:
        """The queue in force, oldest first, as (instance, row): this instance's rows, and on a shared pool every
        other machine's rows whose instance is live (beat within stale_after(), by the database's clock)."""
        reader = self._db.reader
        if not self._shared:
            return [(self._me, row) for row in await store.queue(reader, self._me)]
        team = await store.team_queue(reader)
        others = {holder for holder, _ in team if holder != self._me}
        if not others:
            return team
        since = (await instance_store.database_now(reader) or self._clock()) - stale_after(self._heartbeat)
        live = await instance_store.live_instances(reader, since)
        return [(holder, row) for holder, row in team if holder == self._me or holder in live]

    async def entries(self) -> list[QueueEntry]:
        """This machine's waiters, each with its place in the (team's) queue."""
        waiters = await self.waiters()
        return [row.entry(i) for i, (holder, row) in enumerate(waiters, start=1) if holder == self._me]

    async def length(self) -> int:
        return len(await self.waiters())

    async def waiting_ahead(self, agent_id: str) -> int:
        return sum(1 for holder, row in await self.waiters() if (holder, row.agent_id) != (self._me, agent_id))

    async def position(self, agent_id: str) -> int:
        waiters = await self.waiters()
        return next(
            (i for i, (holder, row) in enumerate(waiters, start=1) if (holder, row.agent_id) == (self._me, agent_id)),
            0,
        )

    # -- in and out -------------------------------------------------------------------------------------------------

    async def park(self, run: ActiveRun, queued: Queued, outcome: PipelineOutcome, now: datetime) -> str:
        """Put the run in the queue (a head that hit the Dev Hub limit again keeps its place); the sentence that
        says where it stands."""
        handover = run.handover
        limit = queued.reason is QueueReason.DEVHUB_LIMIT
        attempts = (handover.attempts if handover else 0) + (1 if limit else 0)
        retry_at = now + timedelta(seconds=retry_delay(attempts)) if limit else None
        assert run.paths is not None
        async with self._db.transaction() as conn:
            await store.enqueue(
                conn,
                holder=self._me,
                agent_id=run.agent_id,
                run_id=run.run_id,
                org_alias=run.config.org_alias,
                branch_name=run.config.branch_name,
                worktree_path=str(run.paths.worktree),
                reason=queued.reason,
                attempts=attempts,
                retry_at=retry_at,
                last_error=mask(queued.sentence),
                queued_at=now,
                seq=handover.seq if handover else None,
            )
            await store.park(conn, run.run_id, warnings=[mask(w) for w in outcome.warnings], steps=list(outcome.steps))
        sentence = queue_sentence(queued.reason, await self.position(run.agent_id), retry_at, queued.sentence)
        self.wake()
        return sentence

    async def waiting_answer(self, agent_id: str) -> str | None:
        """The queue sentence for an agent that already waits (a repeated request is answered from the queue)."""
        waiting = await store.queued(self._db.reader, self._me, agent_id)
        if waiting is None:
            return None
        return queue_sentence(waiting.reason, await self.position(agent_id), None)

    async def leave(self, agent_id: str, sentence: str) -> bool:
        """Take a waiting agent out of the queue, its run `cancelled`; False when it was not waiting."""
        async with self._db.transaction() as conn:
            removed = await store.dequeue(conn, self._me, agent_id)
            if removed is None:
                return False
            await self._end_waiting(conn, removed.run_id, RunState.CANCELLED, sentence)
        self.wake()
        return True

    async def _end_waiting(self, conn: Connection, run_id: str, state: RunState, sentence: str) -> None:
        try:
            await store.finish(conn, run_id, state, ended_at=self._clock(), errors=[sentence])
        except RunStateConflict as exc:  # its queue row still goes: a queue entry without a waiting run is no use
            log.warning("%s", exc)

    # -- the loop ---------------------------------------------------------------------------------------------------

    async def loop(self) -> None:
        while True:
            self._wake = anyio.Event()  # before the round: a change during the round triggers another one
            waiting = self._shared
            try:
                await self.dispatch()
                if self._shared:
                    waiting = await store.queue_length(self._db.reader, self._me) > 0
            except Exception:
                log.exception("provisioning queue hand-over failed")
            next_retry = await store.next_retry_at(self._db.reader, self._me)
            timeout = DISPATCH_FALLBACK_SECONDS
            if waiting:  # an org freed on another machine, or this machine's turn, is seen at least this often
                timeout = TEAM_POLL_SECONDS
            if next_retry is not None:
                timeout = min(timeout, max(0.05, (next_retry - self._clock()).total_seconds()))
            with anyio.move_on_after(timeout):
                await self._wake.wait()

    async def dispatch(self) -> None:
        """Hand orgs (or creation slots) to the queue's head, then the next, until one has to wait: at the first
        row of another machine too (an older waiter there gets what is free before any of this machine's)."""
        async with self._lock:
            for holder, row in await self.waiters():
                if holder != self._me:
                    break
                if row.agent_id in self._runs:
                    continue
                config = ProvisionConfig(
                    agent_id=row.agent_id,
                    org_alias=row.org_alias,
                    branch_name=row.branch_name,
                    worktree_path=row.worktree_path,
                )
                try:
                    paths = run_paths(row.worktree_path, self._settings.current.org_pool)
                except SidecarError as exc:
                    await self._drop_invalid(row, exc.message)
                    continue
                # Only an org of the shape the worktree's definition has now (the agent's own, if it still fits).
                shape = definition_shape(paths.scratch_def, self._settings.current.org_pool)
                org = await self._pool.claim(row.agent_id, shape.hash if shape else None)
                reservation = None
                if org is None:
                    if row.retry_at is not None and row.retry_at > self._clock():
                        break
                    reservation = await self._gate.reserve()
                    if reservation is None:
                        break
                run = ActiveRun(
                    run_id=row.run_id,
                    config=config,
                    paths=paths,
                    handover=Handover(org=org, reservation=reservation, seq=row.seq, attempts=row.attempts),
                )
                self._runs.add(run)  # before the dequeue commits: a request meanwhile joins this run
                try:
                    async with self._db.transaction() as conn:
                        taken = await store.dequeue(conn, self._me, row.agent_id)
                        if taken is not None:
                            await store.resume(conn, taken.run_id, self._owner, self._clock())
                except BaseException:
                    self._runs.forget(run)
                    raise
                if taken is None:  # stopped meanwhile
                    if reservation:
                        reservation.release()
                    run.result = queued_result("The agent left the queue.")
                    self._runs.forget(run)
                    continue
                log.info(
                    "queue: agent %s continues provisioning (%s)",
                    row.agent_id,
                    "org " + org.alias if org else "new org",
                )
                self._start(run)

    async def _drop_invalid(self, row: store.QueuedRow, why: str) -> None:
        sentence = f"Provisioning of agent {row.agent_id} left the queue: {why}"
        async with self._db.transaction() as conn:
            if await store.dequeue(conn, self._me, row.agent_id) is None:
                return
            await self._end_waiting(conn, row.run_id, RunState.FAILED, sentence)
        await announce(self._publish, row.agent_id, status_of(RunState.FAILED), "org", errors=[sentence])
