"""Provisioning, as the handlers see it: `provision`, `stop_agent`, `queue`, `runs`, `login_url`.

A request starts a run (one per agent at a time; a second request joins it) and waits for its outcome; when no org
can be had it is queued and answers `queued: true`, and the run continues by itself later. The rooms behind this
facade: runs.py (one run, start to end), dispatcher.py (the durable queue), ownership.py (heartbeats and runs
whose sidecar is gone), lifecycle.py (the run states and what they mean for the agent), store.py (the SQL).
Everything the agent's pane should hear is published on `events` (`RunStatusChanged`, `TerminalChunk`); the
handlers turn it into notifications.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskGroup

from sidecar.errors import AccessDenied, AlreadyExists, InvalidParams, NotFound, SidecarError
from sidecar.events import Listeners
from sidecar.pool.instances import lease_timeout
from sidecar.pool.models import ChangeReason, OrgSource, ScratchOrg
from sidecar.pool.orphans import OrphanOrg, parse_active_orgs, unknown_to
from sidecar.pool.service import PoolChange, PoolService, check_agent_id, check_alias
from sidecar.provisioning import store
from sidecar.provisioning.creation import CapacityGate, CreationJobs
from sidecar.provisioning.devhub import DevHubLimits, HubLimits
from sidecar.provisioning.dispatcher import QueueDispatcher
from sidecar.provisioning.models import (
    LoginUrl,
    ProvisionConfig,
    ProvisioningEvent,
    ProvisionResult,
    QueueEntry,
    RunRecord,
    TerminalChunk,
)
from sidecar.provisioning.owner import HEARTBEAT_SECONDS, Owner
from sidecar.provisioning.ownership import Ownership
from sidecar.provisioning.paths import check_project, check_unchanged, run_paths
from sidecar.provisioning.prewarm import PreWarmer
from sidecar.provisioning.resumption import CreationResumer
from sidecar.provisioning.runs import ActiveRun, ActiveRuns, RunExecutor, queued_result
from sidecar.provisioning.sfrun import SfRunner
from sidecar.settings import OrgPoolSettings, Settings, SettingsStore
from sidecar.sf.client import SfClient
from sidecar.storage.database import Database
from sidecar.storage.errors import is_integrity_error
from sidecar.timeutil import Clock, utcnow

log = logging.getLogger(__name__)

STOP_WAIT_SECONDS = 5.0
RUN_HISTORY_DAYS = 30
MAX_BRANCH_LENGTH = 255


class ProvisioningService:
    def __init__(
        self,
        db: Database,
        pool: PoolService,
        sf: SfClient,
        settings: SettingsStore,
        clock: Clock = utcnow,
        owner: Owner | None = None,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
    ) -> None:
        self.events: Listeners[ProvisioningEvent] = Listeners("provisioning")
        self._db = db
        self._pool = pool
        self._sf = sf
        self._settings = settings
        self._clock = clock
        self._runs = ActiveRuns()
        self._tg: TaskGroup | None = None
        self._ready = anyio.Event()
        publish = self.events.publish
        self.ownership = Ownership(db, owner or Owner.this_process(), self._runs, publish, clock, heartbeat_seconds)
        self.gate = CapacityGate(
            pool,
            self.wake,
            CreationJobs(
                db, pool.holder.instance_id, lambda: lease_timeout(settings.current.org_pool.leaseTimeoutMinutes), clock
            ),
        )
        self.creations = CreationResumer(self.gate.jobs, self.gate, pool, sf, settings)
        self.dispatcher = QueueDispatcher(
            db,
            pool,
            settings,
            self.gate,
            self._runs,
            self.ownership.owner,
            self._start,
            publish,
            clock,
            heartbeat_seconds,
        )
        self.hub_limits = DevHubLimits(sf, settings)
        self._executor = RunExecutor(
            db,
            pool,
            sf,
            settings,
            self.gate,
            self._runs,
            self.dispatcher,
            self.ownership.watch_children,
            publish,
            clock,
            hub=self.hub_limits,
        )
        self.prewarmer = PreWarmer(pool, sf, self.gate, settings, self.dispatcher.length, self.hub_limits)
        self.sf_runner = SfRunner(pool, sf, settings, self._terminal, self.worktree_of)
        pool.subscribe(self._on_pool_change)
        settings.subscribe(self._on_settings)

    @property
    def owner(self) -> Owner:
        return self.ownership.owner

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
            self.ownership.heartbeat_seconds,
        )
        async with anyio.create_task_group() as tg:
            self._tg = tg
            tg.start_soon(self.dispatcher.loop)
            tg.start_soon(self.prewarmer.run)
            tg.start_soon(self.ownership.heartbeat_loop)
            self._ready.set()
            task_status.started()

    async def resume_creations(self) -> None:
        """Scratch org creations a killed sidecar left under way, and those runs hand over (see resumption.py);
        started once the sweep has stopped what the dead process left running."""
        await self._ready.wait()
        await self.creations.serve()

    async def sweep(self, *, startup: bool = False) -> list[RunRecord]:
        """See Ownership.sweep: runs whose sidecar is provably gone, marked interrupted and reported."""
        return await self.ownership.sweep(startup=startup)

    def wake(self) -> None:
        self.dispatcher.wake()
        self.prewarmer.wake()

    async def _on_pool_change(self, change: PoolChange) -> None:
        if change.reason in (ChangeReason.RELEASED, ChangeReason.REMOVED, ChangeReason.EXPIRED, ChangeReason.REAPED):
            run = self._runs.get(change.agent_id) if change.agent_id else None
            if run is not None and run.org is not None and run.org.id == change.org.id and run.stop_reason is None:
                run.stop_reason = change.reason.value
                run.scope.cancel()
        if change.reason is not ChangeReason.CLAIMED:
            self.wake()

    async def _on_settings(self, _: Settings) -> None:
        self.wake()

    async def _terminal(self, agent_id: str, stream: str, text: str) -> None:
        """`sf:run`'s output, published like a run's."""
        await self.events.publish(TerminalChunk(agent_id, stream, text))  # type: ignore[arg-type]

    # -- requests ---------------------------------------------------------------------------------------------------

    async def provision(self, config: ProvisionConfig) -> ProvisionResult:
        check_agent_id(config.agent_id)
        check_alias(config.org_alias)
        if (
            not config.branch_name.strip()
            or len(config.branch_name) > MAX_BRANCH_LENGTH
            or not config.branch_name.isprintable()
        ):
            raise InvalidParams(
                f"branchName must be a printable name of at most {MAX_BRANCH_LENGTH} characters", param="branchName"
            )
        paths = run_paths(config.worktree_path, self.settings)  # before any org is taken: a project, paths inside it
        with anyio.fail_after(30):
            await self._ready.wait()
        active = self._runs.get(config.agent_id)
        if active is not None:
            await active.done.wait()
            assert active.result is not None
            return active.result
        run = ActiveRun(run_id=new_run_id(), config=config, paths=paths)
        self._runs.add(run)  # claimed before any await: a concurrent request joins this run
        try:
            waiting = await self.dispatcher.waiting_answer(config.agent_id)
            if waiting is not None:
                run.result = queued_result(waiting)
            else:
                async with self._db.transaction() as conn:
                    await store.start(
                        conn,
                        holder=self._pool.holder.instance_id,
                        run_id=run.run_id,
                        agent_id=config.agent_id,
                        org_alias=config.org_alias,
                        branch_name=config.branch_name,
                        worktree_path=str(paths.worktree),
                        owner=self.owner,
                        started_at=self._clock(),
                    )
        except Exception as exc:
            self._runs.forget(run)
            if not is_integrity_error(exc):
                raise
            raise AlreadyExists(
                f"agent {config.agent_id!r} is already provisioning (another sidecar on this database?)",
                agentId=config.agent_id,
            ) from None
        except BaseException:
            self._runs.forget(run)
            raise
        if run.result is not None:  # answered from the queue
            self._runs.forget(run)
            return run.result
        self._start(run)
        await run.done.wait()
        assert run.result is not None
        return run.result

    def _start(self, run: ActiveRun) -> None:
        if self._tg is None:
            raise RuntimeError("the provisioning service is not serving")
        self._tg.start_soon(self._executor.execute, run)

    async def queue(self) -> list[QueueEntry]:
        return await self.dispatcher.entries()

    async def runs(self) -> list[RunRecord]:
        return await store.latest_runs(self._db.reader, self._pool.holder.instance_id)

    async def worktree_of(self, agent_id: str) -> Path | None:
        """The worktree of the agent's latest run, where `sf:run` starts its commands (sfdx-project.json is there),
        if it is still the project it was (resolved the same, a Salesforce project)."""
        latest = await store.latest_runs(self._db.reader, self._pool.holder.instance_id, agent_id)
        if not latest:
            return None
        path = Path(latest[0].worktree_path)
        try:
            check_project(check_unchanged(path), self.settings)
        except SidecarError:
            return None
        return path

    async def stop_agent(self, agent_id: str) -> None:
        """`agent:stopped`: out of the queue, its run and `sf:run` commands cancelled (process groups killed)."""
        self.sf_runner.stop(agent_id)
        await self.dispatcher.leave(
            agent_id, "Provisioning was cancelled while waiting in the queue: the agent was stopped."
        )
        run = self._runs.get(agent_id)
        if run is not None:
            if run.stop_reason is None:
                run.stop_reason = "stopped"
            run.scope.cancel()
            with anyio.move_on_after(STOP_WAIT_SECONDS):
                await run.done.wait()

    async def hub_limits_now(self) -> HubLimits:
        """`org:limits`: the Dev Hub's ActiveScratchOrgs and DailyScratchOrgs, at most a minute old."""
        return await self.hub_limits.current()

    async def orphans(self) -> list[OrphanOrg]:
        """`org:orphans`: the Dev Hub's active scratch orgs the pool does not know."""
        active = parse_active_orgs(await self.hub_limits.active_orgs())
        return unknown_to(await self._pool.list_orgs(), active)

    async def adopt(self, username: str, alias: str | None = None) -> ScratchOrg:
        """`org:adopt`: register an orphan (by its signup username) as available, of unknown shape."""
        found = next((o for o in await self.orphans() if o.username == username), None)
        if found is None:
            raise NotFound(
                f"no orphan with username {username!r}: the Dev Hub reports no such active org the pool lacks",
                username=username,
            )
        return await self._pool.register(
            alias or username,
            expires_at=found.expires_at,
            username=found.username,
            sf_org_id=found.sf_org_id,
            source=OrgSource.DISCOVERED,
        )

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


def new_run_id() -> str:
    return "run_" + uuid.uuid4().hex[:20]
