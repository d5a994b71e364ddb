"""Provisioning runs and the durable queue: who is running, who waits, and what happens when an org frees up.

- A request starts a run (one per agent at a time; a second request joins it) and waits for its outcome. The run
  itself executes in the service's own task group, so it ends only by finishing, by `agent:stopped` (its cancel
  scope), by its org's lease ending under it, or by the sidecar shutting down.
- When no org can be had, the run is parked in the `provision_queue` table (first in, first out) and the request
  answers `queued: true`. A dispatcher task wakes on every pool change that may free capacity (released, removed,
  expired, registered, discovered), on settings changes (maxOrgs growth), on a creation slot coming back and at
  the next Dev Hub retry time; it hands the head of the queue an org (or a slot to create one) and the run
  continues by itself, with the same notifications.
- Every run has a row in `provision_runs` naming the sidecar that runs it, with a heartbeat (see owner.py). A
  process killed mid-run leaves it `running`; a sidecar that finds it so while its owner is provably gone (at its
  own start, and on every heartbeat after) marks it `interrupted`, stops the commands the dead owner left running
  on this host, says so on stderr and in an `agent:status` ERROR notification, and `provision:runs` reports it.
  Another sidecar's live runs on the same database are left alone.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskGroup

from sidecar.db import Database
from sidecar.errors import AccessDenied, AlreadyExists, InvalidParams, SidecarError
from sidecar.pool.models import ChangeReason, ScratchOrg
from sidecar.pool.service import PoolChange, PoolService, check_agent_id, check_alias
from sidecar.provisioning import store
from sidecar.provisioning.creation import CapacityGate
from sidecar.provisioning.masking import mask
from sidecar.provisioning.models import (
    AgentStatus,
    AgentStatusEvent,
    LoginUrl,
    ProvisionConfig,
    ProvisionResult,
    QueueEntry,
    QueueReason,
    RunRecord,
    RunState,
    StepReport,
    StepStatus,
    TerminalOutput,
)
from sidecar.provisioning.owner import HEARTBEAT_SECONDS, Owner, reap_group, stale_after, why_gone
from sidecar.provisioning.paths import RunPaths, run_paths
from sidecar.provisioning.pipeline import STEPS, Failed, Handover, Pipeline, Queued, Succeeded
from sidecar.provisioning.prewarm import PreWarmer
from sidecar.provisioning.sfrun import SfRunner
from sidecar.provisioning.terminal import Terminal
from sidecar.settings import OrgPoolSettings, Settings, SettingsStore
from sidecar.sf.client import SfClient
from sidecar.sf.process import CHILD_WATCH, ChildWatch
from sidecar.timeutil import Clock, utcnow
from sidecar.wiremodel import WireModel

log = logging.getLogger(__name__)

Notify = Callable[[str, WireModel], Awaitable[None]]

# Dev Hub limit retries: first after LIMIT_RETRY_SECONDS, doubling up to LIMIT_RETRY_MAX_SECONDS. The environment
# variable exists for tests and demos that cannot wait a minute.
LIMIT_RETRY_SECONDS = float(os.environ.get("SWEATSHOP_LIMIT_RETRY_SECONDS", "60"))
LIMIT_RETRY_MAX_SECONDS = 30 * 60
# The dispatcher also looks at the queue this often, whatever woke it or not (a missed event costs at most this).
DISPATCH_FALLBACK_SECONDS = 30.0
STOP_WAIT_SECONDS = 5.0
RUN_HISTORY_DAYS = 30
MAX_BRANCH_LENGTH = 255


def retry_delay(attempts: int) -> float:
    return min(LIMIT_RETRY_SECONDS * 2 ** max(0, attempts - 1), LIMIT_RETRY_MAX_SECONDS)


@dataclass
class ActiveRun:
    run_id: str
    config: ProvisionConfig
    paths: RunPaths | None
    handover: Handover | None = None
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    done: anyio.Event = field(default_factory=anyio.Event)
    result: ProvisionResult | None = None
    pipeline: Pipeline | None = None
    # Why the run was cancelled from the outside: "stopped" (agent:stopped) or the pool change that took its org.
    stop_reason: str | None = None

    @property
    def agent_id(self) -> str:
        return self.config.agent_id

    @property
    def org(self) -> ScratchOrg | None:
        return self.pipeline.org if self.pipeline else None


def skipped_steps(first: StepReport | None = None) -> list[StepReport]:
    steps = [StepReport(name=n, status=StepStatus.SKIPPED, duration_ms=0) for n in STEPS]
    if first is not None:
        steps[0] = first
    return steps


class ProvisioningService:
    def __init__(
        self,
        db: Database,
        pool: PoolService,
        sf: SfClient,
        settings: SettingsStore,
        notify: Notify,
        clock: Clock = utcnow,
        owner: Owner | None = None,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
    ) -> None:
        self.owner = owner or Owner.this_process()
        self._heartbeat_seconds = heartbeat_seconds
        self._db = db
        self._pool = pool
        self._sf = sf
        self._settings = settings
        self._notify = notify
        self._clock = clock
        self._runs: dict[str, ActiveRun] = {}
        self._wake = anyio.Event()
        self._dispatch_lock = anyio.Lock()
        self._tg: TaskGroup | None = None
        self._ready = anyio.Event()
        self.gate = CapacityGate(pool, self.wake)
        self.prewarmer = PreWarmer(pool, sf, self.gate, settings, self._queue_length)
        self.sf_runner = SfRunner(pool, sf, settings, self._terminal, self.worktree_of)
        pool.subscribe(self._on_pool_change)
        settings.subscribe(self._on_settings)

    @property
    def settings(self) -> OrgPoolSettings:
        return self._settings.current.org_pool

    # -- lifecycle --------------------------------------------------------------------------------------------------

    async def serve(self, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        """Recover from a previous process, then run the dispatcher, the pre-warmer and the heartbeat until cancelled.

        Start it once the transport has a peer: the restart report is a notification. Requests that arrive
        earlier wait for `ready`.
        """
        await self.sweep(startup=True)
        async with self._db.transaction() as conn:
            await store.prune_runs(conn, self._clock() - timedelta(days=RUN_HISTORY_DAYS))
        log.info(
            "provisioning runs here belong to pid %s on %s (heartbeat every %g s)",
            self.owner.pid,
            self.owner.host,
            self._heartbeat_seconds,
        )
        async with anyio.create_task_group() as tg:
            self._tg = tg
            tg.start_soon(self._dispatch_loop)
            tg.start_soon(self.prewarmer.run)
            tg.start_soon(self._heartbeat_loop)
            self._ready.set()
            task_status.started()

    def wake(self) -> None:
        self._wake.set()
        self.prewarmer.wake()

    async def _on_pool_change(self, change: PoolChange) -> None:
        if change.reason in (ChangeReason.RELEASED, ChangeReason.REMOVED, ChangeReason.EXPIRED):
            run = self._runs.get(change.agent_id) if change.agent_id else None
            if run is not None and run.org is not None and run.org.id == change.org.id and run.stop_reason is None:
                run.stop_reason = change.reason.value
                run.scope.cancel()
        if change.reason is not ChangeReason.CLAIMED:
            self.wake()

    async def _on_settings(self, _: Settings) -> None:
        self.wake()

    # -- ownership: heartbeats, and runs whose sidecar is gone ---------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        last = self._clock()
        while True:
            await anyio.sleep(self._heartbeat_seconds)
            now = self._clock()
            # Far more time passed than was slept: this machine was suspended, and every sidecar on it with it. A
            # peer's heartbeat is old only because it could not beat either: give it a beat before judging it.
            overslept = now - last > stale_after(self._heartbeat_seconds)
            last = now
            try:
                await self._beat(now)
                if not overslept:
                    await self.sweep()
            except Exception:
                log.exception("provisioning heartbeat failed")

    async def _beat(self, now: datetime) -> None:
        run_ids = [run.run_id for run in self._runs.values()]
        if run_ids:
            async with self._db.transaction() as conn:
                await store.beat(conn, self.owner, run_ids, now)

    async def sweep(self, *, startup: bool = False) -> list[RunRecord]:
        """Mark `interrupted` every live run whose sidecar is provably gone, stop what it left running here, and
        report each run (stderr, `agent:status` ERROR); returns those runs as they were before.

        A run without an owner (started by a sidecar older than the owner columns) can only be judged at start,
        as such sidecars did themselves: one may be running beside this one and would never beat.
        """
        now = self._clock()
        stale = stale_after(self._heartbeat_seconds)
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
                if await store.interrupt_run(conn, live, sentence, now):
                    interrupted.append((live, sentence, await store.take_children(conn, record.run_id)))
        for live, sentence, groups in interrupted:
            record = live.record
            log.warning("provisioning run %s of agent %s was interrupted: %s", record.run_id, record.agent_id, sentence)
            if live.owner is not None and live.owner.host == self.owner.host:
                for pgid in groups:
                    reap_group(pgid, live.owner.token)
            await self._notify(
                "agent:status",
                AgentStatusEvent(
                    agent_id=record.agent_id, status=AgentStatus.ERROR, step=record.step, errors=[sentence], warnings=[]
                ),
            )
        return [live.record for live, _, _ in interrupted]

    def _watch_children(self, run: ActiveRun) -> ChildWatch:
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

    # -- requests ---------------------------------------------------------------------------------------------------

    async def provision(self, config: ProvisionConfig) -> ProvisionResult:
        check_agent_id(config.agent_id)
        check_alias(config.org_alias)
        if not config.branch_name.strip() or len(config.branch_name) > MAX_BRANCH_LENGTH or not config.branch_name.isprintable():
            raise InvalidParams(
                f"branchName must be a printable name of at most {MAX_BRANCH_LENGTH} characters", param="branchName"
            )
        paths = run_paths(config.worktree_path, self.settings)
        with anyio.fail_after(30):
            await self._ready.wait()
        active = self._runs.get(config.agent_id)
        if active is not None:
            await active.done.wait()
            assert active.result is not None
            return active.result
        run = ActiveRun(run_id=new_run_id(), config=config, paths=paths)
        self._runs[config.agent_id] = run  # claimed before any await: a concurrent request joins this run
        try:
            waiting = await store.queued(self._db.reader, config.agent_id)
            if waiting is not None:
                position = await self._position(config.agent_id)
                run.result = self._queued_result(waiting.reason, self._queue_sentence(waiting.reason, position, None))
            else:
                async with self._db.transaction() as conn:
                    await store.start_run(
                        conn,
                        run_id=run.run_id,
                        agent_id=config.agent_id,
                        org_alias=config.org_alias,
                        branch_name=config.branch_name,
                        worktree_path=str(paths.worktree),
                        owner=self.owner,
                        started_at=self._clock(),
                    )
        except sqlite3.IntegrityError:
            self._forget(run)
            raise AlreadyExists(
                f"agent {config.agent_id!r} is already provisioning (another sidecar on this database?)",
                agentId=config.agent_id,
            ) from None
        except BaseException:
            self._forget(run)
            raise
        if run.result is not None:  # answered from the queue
            self._forget(run)
            return run.result
        self._start(run)
        await run.done.wait()
        assert run.result is not None
        return run.result

    def _forget(self, run: ActiveRun) -> None:
        if self._runs.get(run.agent_id) is run:
            del self._runs[run.agent_id]
        run.done.set()

    def _start(self, run: ActiveRun) -> None:
        if self._tg is None:
            raise RuntimeError("the provisioning service is not serving")
        self._tg.start_soon(self._execute, run)

    async def queue(self) -> list[QueueEntry]:
        rows = await store.queue(self._db.reader)
        return [row.entry(i) for i, row in enumerate(rows, start=1)]

    async def runs(self) -> list[RunRecord]:
        return await store.latest_runs(self._db.reader)

    async def worktree_of(self, agent_id: str) -> Path | None:
        """The worktree of the agent's latest run, where `sf:run` starts its commands (sfdx-project.json is there)."""
        latest = await store.latest_runs(self._db.reader, agent_id)
        path = Path(latest[0].worktree_path) if latest else None
        return path if path is not None and path.is_dir() else None

    async def stop_agent(self, agent_id: str) -> None:
        """`agent:stopped`: out of the queue, its run and `sf:run` commands cancelled (process groups killed)."""
        self.sf_runner.stop(agent_id)
        now = self._clock()
        async with self._db.transaction() as conn:
            removed = await store.dequeue(conn, agent_id)
            if removed is not None:
                await store.update_run(
                    conn,
                    removed.run_id,
                    state=RunState.CANCELLED,
                    ended_at=now,
                    errors=["Provisioning was cancelled while waiting in the queue: the agent was stopped."],
                )
        run = self._runs.get(agent_id)
        if run is not None:
            if run.stop_reason is None:
                run.stop_reason = "stopped"
            run.scope.cancel()
            with anyio.move_on_after(STOP_WAIT_SECONDS):
                await run.done.wait()
        if removed is not None:
            self.wake()

    async def login_url(self, agent_id: str) -> LoginUrl:
        """A fresh frontdoor URL for the agent's own org (after a queued run finished in the background)."""
        check_agent_id(agent_id)
        org = await self._pool.lease_of(agent_id)
        if org is None:
            raise AccessDenied(f"agent {agent_id!r} holds no org: provision it first", agentId=agent_id)
        envelope = await self._sf.run_json(
            ["org", "open", "--target-org", org.alias, "--url-only"], timeout=self.settings.stepTimeoutMinutes * 60
        )
        url = envelope.result.get("url") if isinstance(envelope.result, dict) else None
        if not isinstance(url, str) or not url.startswith("https://"):
            raise SidecarError(f"`sf org open --url-only` returned no https URL for org {org.alias}")
        return LoginUrl(login_url=url, org=org)

    # -- one run ----------------------------------------------------------------------------------------------------

    async def _execute(self, run: ActiveRun) -> None:
        CHILD_WATCH.set(self._watch_children(run))  # this task's context only: the run's own commands
        terminal = Terminal(lambda stream, text: self._terminal(run.agent_id, stream, text))
        try:
            with run.scope:
                await self._run_pipeline(run, terminal)
            if run.result is None:  # cancelled from the outside
                await self._finish_cancelled(run, terminal)
        except Exception as exc:  # a bug, not a CLI failure: report it instead of hanging the caller
            log.exception("provisioning run %s failed unexpectedly", run.run_id)
            with anyio.CancelScope(shield=True):
                await self._finish(
                    run, RunState.FAILED, AgentStatus.ERROR, errors=[f"Provisioning failed unexpectedly: {mask(str(exc))}"]
                )
        except BaseException:
            # The sidecar is shutting down: the record stays `running`, so the next start reports it interrupted,
            # exactly as after a kill -9.
            log.warning("provisioning run %s of agent %s interrupted by shutdown", run.run_id, run.agent_id)
            raise
        finally:
            if run.result is None:
                run.result = ProvisionResult(
                    success=False, errors=["Provisioning ended without a result."], warnings=[], steps=skipped_steps()
                )
            self._forget(run)

    async def _run_pipeline(self, run: ActiveRun, terminal: Terminal) -> None:
        settings = self.settings
        paths = run.paths
        if paths is None:
            paths = run.paths = run_paths(run.config.worktree_path, settings)
        async with self._db.transaction() as conn:
            await store.update_run(conn, run.run_id, state=RunState.RUNNING, step="org")

        async def on_step(name: str) -> None:
            async with self._db.transaction() as conn:
                await store.update_run(conn, run.run_id, step=name, org_id=run.org.id if run.org else None)
            await self._status(run, AgentStatus.PROVISIONING, name)

        run.pipeline = Pipeline(
            sf=self._sf,
            pool=self._pool,
            gate=self.gate,
            settings=settings,
            config=run.config,
            paths=paths,
            terminal=terminal,
            on_step=on_step,
            waiting_ahead=lambda: self._waiting_ahead(run.agent_id),
            handover=run.handover,
        )
        outcome = await run.pipeline.run()
        pipeline = run.pipeline
        if isinstance(outcome, Succeeded):
            await self._finish(run, RunState.SUCCEEDED, AgentStatus.QA_READY, login_url=outcome.login_url)
        elif isinstance(outcome, Failed):
            await self._finish(
                run, RunState.FAILED, AgentStatus.ERROR, errors=pipeline.errors, step=pipeline.failed_step or pipeline.current_step
            )
        else:
            assert isinstance(outcome, Queued)
            await self._park(run, outcome)

    async def _park(self, run: ActiveRun, queued: Queued) -> None:
        """Put the run in the queue (a head that hit the Dev Hub limit again keeps its place) and answer queued."""
        now = self._clock()
        handover = run.handover
        attempts = (handover.attempts if handover else 0) + (1 if queued.reason is QueueReason.DEVHUB_LIMIT else 0)
        retry_at = now + timedelta(seconds=retry_delay(attempts)) if queued.reason is QueueReason.DEVHUB_LIMIT else None
        assert run.pipeline is not None and run.paths is not None
        async with self._db.transaction() as conn:
            await store.enqueue(
                conn,
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
            await store.update_run(
                conn,
                run.run_id,
                state=RunState.QUEUED,
                step="org",
                warnings=[mask(w) for w in run.pipeline.warnings],
                steps=run.pipeline.steps(),
            )
        position = await self._position(run.agent_id)
        sentence = self._queue_sentence(queued.reason, position, retry_at, queued.sentence)
        warnings = [*run.pipeline.warnings, sentence]
        run.result = self._queued_result(queued.reason, sentence, warnings, run.pipeline.steps())
        await self._status(run, AgentStatus.QUEUED, "org", warnings=warnings)
        self.wake()

    async def _finish_cancelled(self, run: ActiveRun, terminal: Terminal) -> None:
        with anyio.CancelScope(shield=True):
            async with self._db.transaction() as conn:  # cancelled just after it was parked: out of the queue too
                await store.dequeue(conn, run.agent_id)
            if run.stop_reason == "stopped":
                sentence = "Provisioning was cancelled because the agent was stopped; its org is released."
                section = terminal.section()
                await section.line(sentence, "stderr")
                await section.close()
                await self._finish(run, RunState.CANCELLED, None, errors=[sentence])
            else:
                sentence = (
                    f"Provisioning stopped because the agent's org was {run.stop_reason or 'taken away'} while it ran "
                    "(agent:completed, org:release, org:remove or expiry). Provision again to get an org."
                )
                await self._finish(run, RunState.CANCELLED, AgentStatus.ERROR, errors=[sentence])

    async def _finish(
        self,
        run: ActiveRun,
        state: RunState,
        status: AgentStatus | None,
        *,
        errors: list[str] | None = None,
        login_url: str | None = None,
        step: str | None = None,
    ) -> None:
        pipeline = run.pipeline
        warnings = [mask(w) for w in pipeline.warnings] if pipeline else []
        errors = [mask(e) for e in errors or []]
        steps = pipeline.steps() if pipeline else skipped_steps()
        step = step if step is not None else (pipeline.current_step if pipeline and state is not RunState.SUCCEEDED else None)
        await self._record(run, state, errors=errors, warnings=warnings, steps=steps, step=step)
        org = None
        if run.org is not None:
            org = await self._pool.lease_of(run.agent_id) if state is not RunState.CANCELLED else None
        run.result = ProvisionResult(
            success=state is RunState.SUCCEEDED,
            login_url=login_url if state is RunState.SUCCEEDED else None,
            org=org,
            errors=errors,
            warnings=warnings,
            queued=False,
            steps=steps,
        )
        if status is not None:
            await self._status(run, status, step, errors=errors, warnings=warnings)

    async def _record(self, run: ActiveRun, state: RunState, **fields: Any) -> None:
        try:
            async with self._db.transaction() as conn:
                await store.update_run(
                    conn, run.run_id, state=state, ended_at=self._clock(), org_id=run.org.id if run.org else None, **fields
                )
        except Exception:
            log.exception("could not record the end of provisioning run %s", run.run_id)

    async def _status(
        self,
        run: ActiveRun,
        status: AgentStatus,
        step: str | None,
        *,
        errors: list[str] | None = None,
        warnings: list[str] | None = None,
    ) -> None:
        await self._notify(
            "agent:status",
            AgentStatusEvent(
                agent_id=run.agent_id,
                status=status,
                step=step,
                errors=[mask(e) for e in errors or []],
                warnings=[mask(w) for w in warnings or []],
            ),
        )

    async def _terminal(self, agent_id: str, stream: str, text: str) -> None:
        await self._notify("terminal:output", TerminalOutput(agent_id=agent_id, stream=stream, data=text))  # type: ignore[arg-type]

    # -- the queue --------------------------------------------------------------------------------------------------

    async def _queue_length(self) -> int:
        return await store.queue_length(self._db.reader)

    async def _waiting_ahead(self, agent_id: str) -> int:
        return sum(1 for row in await store.queue(self._db.reader) if row.agent_id != agent_id)

    async def _position(self, agent_id: str) -> int:
        rows = await store.queue(self._db.reader)
        return next((i for i, row in enumerate(rows, start=1) if row.agent_id == agent_id), 0)

    def _queue_sentence(
        self, reason: QueueReason, position: int, retry_at: datetime | None, why: str | None = None
    ) -> str:
        text = why or (
            "The Dev Hub refused a new scratch org (LIMIT_EXCEEDED); the creation is retried with backoff."
            if reason is QueueReason.DEVHUB_LIMIT
            else "No scratch org is free; provisioning continues by itself when one is."
        )
        text += f" Position in the queue: {position}."
        if retry_at is not None:
            text += f" Next Dev Hub attempt at {retry_at.isoformat(timespec='seconds')}."
        return text

    @staticmethod
    def _queued_result(
        reason: QueueReason, sentence: str, warnings: list[str] | None = None, steps: list[StepReport] | None = None
    ) -> ProvisionResult:
        return ProvisionResult(
            success=False,
            login_url=None,
            org=None,
            errors=[],
            warnings=warnings if warnings is not None else [sentence],
            queued=True,
            steps=steps or skipped_steps(StepReport(name="org", status=StepStatus.WARNING, duration_ms=0)),
        )

    async def _dispatch_loop(self) -> None:
        while True:
            self._wake = anyio.Event()  # before the round: a change during the round triggers another one
            try:
                await self._dispatch()
            except Exception:
                log.exception("provisioning queue hand-over failed")
            next_retry = await store.next_retry_at(self._db.reader)
            timeout = DISPATCH_FALLBACK_SECONDS
            if next_retry is not None:
                timeout = min(timeout, max(0.05, (next_retry - self._clock()).total_seconds()))
            with anyio.move_on_after(timeout):
                await self._wake.wait()

    async def _dispatch(self) -> None:
        """Hand orgs (or creation slots) to the queue's head, then the next, until one has to wait."""
        async with self._dispatch_lock:
            for row in await store.queue(self._db.reader):
                if row.agent_id in self._runs:
                    continue
                config = ProvisionConfig(
                    agent_id=row.agent_id,
                    org_alias=row.org_alias,
                    branch_name=row.branch_name,
                    worktree_path=row.worktree_path,
                )
                try:
                    paths = run_paths(row.worktree_path, self.settings)
                except SidecarError as exc:
                    await self._drop_invalid(row, config, exc.message)
                    continue
                org = await self._pool.lease_of(row.agent_id) or await self._pool.claim(row.agent_id)
                reservation = None
                if org is None:
                    if row.retry_at is not None and row.retry_at > self._clock():
                        break
                    reservation = await self.gate.reserve()
                    if reservation is None:
                        break
                run = ActiveRun(
                    run_id=row.run_id,
                    config=config,
                    paths=paths,
                    handover=Handover(org=org, reservation=reservation, seq=row.seq, attempts=row.attempts),
                )
                self._runs[row.agent_id] = run  # before the dequeue commits: a request meanwhile joins this run
                try:
                    async with self._db.transaction() as conn:
                        taken = await store.dequeue(conn, row.agent_id)
                        if taken is not None:
                            await store.take_run(conn, taken.run_id, self.owner, self._clock())
                except BaseException:
                    self._forget(run)
                    raise
                if taken is None:  # stopped meanwhile
                    if reservation:
                        reservation.release()
                    run.result = self._queued_result(row.reason, "The agent left the queue.")
                    self._forget(run)
                    continue
                log.info("queue: agent %s continues provisioning (%s)", row.agent_id, "org " + org.alias if org else "new org")
                self._start(run)

    async def _drop_invalid(self, row: store.QueuedRow, config: ProvisionConfig, why: str) -> None:
        sentence = f"Provisioning of agent {row.agent_id} left the queue: {why}"
        async with self._db.transaction() as conn:
            if await store.dequeue(conn, row.agent_id) is None:
                return
            await store.update_run(conn, row.run_id, state=RunState.FAILED, ended_at=self._clock(), errors=[sentence])
        await self._notify(
            "agent:status",
            AgentStatusEvent(agent_id=config.agent_id, status=AgentStatus.ERROR, step="org", errors=[sentence], warnings=[]),
        )


def new_run_id() -> str:
    return "run_" + uuid.uuid4().hex[:20]
