"""One provisioning run, from its first step to the record of how it ended: the pipeline, then park, finish or
cancel, each written through the lifecycle verbs and told to listeners as a `RunStatusChanged`.

`ActiveRuns` is the one registry of runs under way in this process (one per agent): a request joins the run its
agent already has, the queue skips agents that have one, and the heartbeat beats for each.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import anyio

from sidecar.pool.models import ScratchOrg
from sidecar.pool.service import PoolService
from sidecar.provisioning import store
from sidecar.provisioning.creation import CapacityGate
from sidecar.provisioning.devhub import DevHubLimits
from sidecar.provisioning.lifecycle import status_of
from sidecar.provisioning.masking import mask
from sidecar.provisioning.models import (
    AgentStatus,
    ProvisionConfig,
    ProvisioningEvent,
    ProvisionResult,
    RunState,
    RunStatusChanged,
    StepReport,
    StepStatus,
    TerminalChunk,
)
from sidecar.provisioning.paths import RunPaths, run_paths
from sidecar.provisioning.pipeline import STEPS, Failed, Handover, Pipeline, PipelineOutcome, Queued, Succeeded
from sidecar.provisioning.terminal import Terminal
from sidecar.settings import SettingsStore
from sidecar.sf.client import SfClient
from sidecar.sf.process import CHILD_WATCH, ChildWatch
from sidecar.storage.database import Database
from sidecar.timeutil import Clock

log = logging.getLogger(__name__)

Publish = Callable[[ProvisioningEvent], Awaitable[None]]


@dataclass
class ActiveRun:
    run_id: str
    config: ProvisionConfig
    paths: RunPaths | None
    handover: Handover | None = None
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    done: anyio.Event = field(default_factory=anyio.Event)
    result: ProvisionResult | None = None
    # The org the run holds once it has one: a pool change that takes it stops the run.
    org: ScratchOrg | None = None
    # Why the run was cancelled from the outside: "stopped" (agent:stopped) or the pool change that took its org.
    stop_reason: str | None = None

    @property
    def agent_id(self) -> str:
        return self.config.agent_id


class ActiveRuns:
    """The runs under way in this process, by agent."""

    def __init__(self) -> None:
        self._runs: dict[str, ActiveRun] = {}

    def get(self, agent_id: str) -> ActiveRun | None:
        return self._runs.get(agent_id)

    def add(self, run: ActiveRun) -> None:
        """Claim the agent for this run; call before any await, so a concurrent request joins it."""
        self._runs[run.agent_id] = run

    def forget(self, run: ActiveRun) -> None:
        if self._runs.get(run.agent_id) is run:
            del self._runs[run.agent_id]
        run.done.set()

    def __contains__(self, agent_id: object) -> bool:
        return agent_id in self._runs

    def __iter__(self) -> Iterator[ActiveRun]:
        return iter(list(self._runs.values()))


def skipped_steps(first: StepReport | None = None) -> list[StepReport]:
    steps = [StepReport(name=n, status=StepStatus.SKIPPED, duration_ms=0) for n in STEPS]
    if first is not None:
        steps[0] = first
    return steps


def queued_result(
    sentence: str, warnings: list[str] | None = None, steps: list[StepReport] | None = None
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


async def announce(
    publish: Publish,
    agent_id: str,
    status: AgentStatus,
    step: str | None,
    errors: list[str] | tuple[str, ...] = (),
    warnings: list[str] | tuple[str, ...] = (),
) -> None:
    await publish(
        RunStatusChanged(
            agent_id=agent_id,
            status=status,
            step=step,
            errors=tuple(mask(e) for e in errors),
            warnings=tuple(mask(w) for w in warnings),
        )
    )


class Parking(Protocol):
    """What the executor needs from the queue (dispatcher.py): put a run in it (the sentence that says where it
    stands), and how many agents wait ahead of one."""

    async def park(self, run: ActiveRun, queued: Queued, outcome: PipelineOutcome, now: datetime) -> str: ...

    async def waiting_ahead(self, agent_id: str) -> int: ...


class RunExecutor:
    """Executes runs in the service's task group; a run ends only by finishing, by its cancel scope (agent:stopped,
    its org's lease ending) or by the sidecar shutting down."""

    def __init__(
        self,
        db: Database,
        pool: PoolService,
        sf: SfClient,
        settings: SettingsStore,
        gate: CapacityGate,
        runs: ActiveRuns,
        parking: Parking,
        watch_children: Callable[[ActiveRun], ChildWatch],
        publish: Publish,
        clock: Clock,
        hub: DevHubLimits | None = None,
    ) -> None:
        self._db = db
        self._pool = pool
        self._sf = sf
        self._settings = settings
        self._hub = hub
        self._gate = gate
        self._runs = runs
        self._parking = parking
        self._watch_children = watch_children
        self._publish = publish
        self._clock = clock

    async def execute(self, run: ActiveRun) -> None:
        CHILD_WATCH.set(self._watch_children(run))  # this task's context only: the run's own commands
        terminal = Terminal(lambda stream, text: self._publish(TerminalChunk(run.agent_id, stream, text)))  # type: ignore[arg-type]
        pipeline: Pipeline | None = None
        try:
            with run.scope:
                pipeline = self._pipeline(run, terminal)
                await self._conclude(run, await pipeline.run())
            if run.result is None:  # cancelled from the outside
                await self._finish_cancelled(run, terminal, pipeline.stopped() if pipeline else None)
        except Exception as exc:  # a bug, not a CLI failure: report it instead of hanging the caller
            log.exception("provisioning run %s failed unexpectedly", run.run_id)
            with anyio.CancelScope(shield=True):
                await self._finish(
                    run,
                    RunState.FAILED,
                    pipeline.stopped() if pipeline else None,
                    errors=[f"Provisioning failed unexpectedly: {mask(str(exc))}"],
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
            self._runs.forget(run)

    def _pipeline(self, run: ActiveRun, terminal: Terminal) -> Pipeline:
        settings = self._settings.current.org_pool
        if run.paths is None:
            run.paths = run_paths(run.config.worktree_path, settings)

        async def on_step(name: str, org: ScratchOrg | None) -> None:
            async with self._db.transaction() as conn:
                await store.progress(conn, run.run_id, step=name, org_id=org.id if org else None)
            await announce(self._publish, run.agent_id, status_of(RunState.RUNNING), name)

        def on_org(org: ScratchOrg) -> None:
            run.org = org

        return Pipeline(
            sf=self._sf,
            pool=self._pool,
            gate=self._gate,
            settings=settings,
            config=run.config,
            paths=run.paths,
            terminal=terminal,
            on_step=on_step,
            on_org=on_org,
            waiting_ahead=lambda: self._parking.waiting_ahead(run.agent_id),
            handover=run.handover,
            hub=self._hub,
        )

    async def _conclude(self, run: ActiveRun, outcome: PipelineOutcome) -> None:
        ending = outcome.ending
        if isinstance(ending, Succeeded):
            await self._finish(run, RunState.SUCCEEDED, outcome, login_url=ending.login_url)
        elif isinstance(ending, Failed):
            await self._finish(run, RunState.FAILED, outcome, errors=list(outcome.errors))
        else:
            assert isinstance(ending, Queued)
            sentence = await self._parking.park(run, ending, outcome, self._clock())
            warnings = [*outcome.warnings, sentence]
            run.result = queued_result(sentence, warnings, list(outcome.steps))
            await announce(self._publish, run.agent_id, status_of(RunState.QUEUED), "org", warnings=warnings)

    async def _finish_cancelled(self, run: ActiveRun, terminal: Terminal, outcome: PipelineOutcome | None) -> None:
        with anyio.CancelScope(shield=True):
            async with self._db.transaction() as conn:  # cancelled just after it was parked: out of the queue too
                await store.dequeue(conn, self._pool.holder.instance_id, run.agent_id)
            if run.stop_reason == "stopped":
                sentence = "Provisioning was cancelled because the agent was stopped; its org is released."
                section = terminal.section()
                await section.line(sentence, "stderr")
                await section.close()
                # The app stopped the agent itself: its pane needs no status.
                await self._finish(run, RunState.CANCELLED, outcome, errors=[sentence], announced=False)
            else:
                sentence = (
                    f"Provisioning stopped because the agent's org was {run.stop_reason or 'taken away'} while it ran "
                    "(agent:completed, org:release, org:remove or expiry). Provision again to get an org."
                )
                await self._finish(run, RunState.CANCELLED, outcome, errors=[sentence])

    async def _finish(
        self,
        run: ActiveRun,
        state: RunState,
        outcome: PipelineOutcome | None,
        *,
        errors: list[str] | None = None,
        login_url: str | None = None,
        announced: bool = True,
    ) -> None:
        warnings = [mask(w) for w in outcome.warnings] if outcome else []
        errors = [mask(e) for e in errors or []]
        steps = list(outcome.steps) if outcome else skipped_steps()
        step = outcome.step if outcome else None
        org = outcome.org if outcome else run.org
        try:
            async with self._db.transaction() as conn:
                await store.finish(
                    conn,
                    run.run_id,
                    state,
                    ended_at=self._clock(),
                    errors=errors,
                    report=store.RunReport(warnings=warnings, steps=steps, step=step, org_id=org.id if org else None),
                )
        except Exception:  # the caller still gets its answer; only provision:runs would miss the end
            log.exception("could not record the end of provisioning run %s", run.run_id)
        leased = None
        if org is not None and state is not RunState.CANCELLED:
            leased = await self._pool.lease_of(run.agent_id)
        run.result = ProvisionResult(
            success=state is RunState.SUCCEEDED,
            login_url=login_url if state is RunState.SUCCEEDED else None,
            org=leased,
            errors=errors,
            warnings=warnings,
            queued=False,
            steps=steps,
        )
        if announced:
            await announce(self._publish, run.agent_id, status_of(state), step, errors, warnings)
