"""The steps of one provisioning run: get an org, deploy, then data + users + permission sets side by side, then
the frontdoor URL.

    org ──▶ deploy ──▶ ┬─ data ─────┬──▶ login
                       ├─ users ────┤
                       └─ permsets ─┘

The three middle steps do not depend on each other (permission sets go to the admin user; QA users carry their own
in their definition file), so they overlap; the terminal shows them one after the other (see terminal.py). Every
step has the same time limit (orgPool.stepTimeoutMinutes); past it the command's process group is killed and the
run ends in error, naming the step. A deploy failure or any failure to get the org or the URL is an error (the org
stays leased to the agent so it can fix the code and provision again); data, user and permission set failures are
warnings and the run still reaches QA_READY.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import anyio

from sidecar.errors import (
    AccessDenied,
    AlreadyExists,
    CapacityReached,
    InvalidParams,
    SfFailed,
    SfUnavailable,
    StepTimeout,
)
from sidecar.pool.models import ALIAS_PATTERN, ScratchOrg
from sidecar.pool.service import PoolService
from sidecar.pool.shapes import Shape
from sidecar.provisioning import results
from sidecar.provisioning.creation import (
    CapacityGate,
    DevHubLimit,
    Reservation,
    create_scratch_org,
    definition_shape,
    register_created,
)
from sidecar.provisioning.delta import (
    Delta,
    Full,
    Plan,
    SourceState,
    describe,
    plan_deploy,
    split_source_dirs,
    step_inputs,
)
from sidecar.provisioning.devhub import DevHubLimits
from sidecar.provisioning.masking import mask
from sidecar.provisioning.models import ProvisionConfig, QueueReason, StepReport, StepStatus
from sidecar.provisioning.paths import PERMSET_PATTERN, RunPaths, inside
from sidecar.provisioning.terminal import Section, Terminal
from sidecar.settings import OrgPoolSettings
from sidecar.sf.client import SfClient
from sidecar.sf.envelope import Envelope

log = logging.getLogger(__name__)

STEPS = ("org", "deploy", "data", "users", "permsets", "login")
STEP_TITLES = {
    "org": "get a scratch org",
    "deploy": "deploy",
    "data": "sample data",
    "users": "QA users",
    "permsets": "permission sets",
    "login": "login URL",
}
# The step's own limit is enforced on each command; this backstop covers the sidecar's own awaits around them.
BACKSTOP_SECONDS = 5.0
UNPARSABLE = ("UnparsableOutput", "UnexpectedOutput")


class StepFailed(Exception):
    """Ends the run in ERROR; `sentence` is added to the errors (None when the step already added its own)."""

    def __init__(self, sentence: str | None, step: str | None = None) -> None:
        super().__init__(sentence or "step failed")
        self.sentence = sentence
        self.step = step


@dataclass(frozen=True)
class Handover:
    """What the queue gives a waiting run when it continues: an org leased to it, or a slot to create one."""

    org: ScratchOrg | None = None
    reservation: Reservation | None = None
    seq: int | None = None
    attempts: int = 0


@dataclass(frozen=True)
class Queued:
    reason: QueueReason
    sentence: str


@dataclass(frozen=True)
class Succeeded:
    login_url: str


@dataclass(frozen=True)
class Failed:
    pass


@dataclass(frozen=True)
class Stopped:
    """Cancelled from the outside (agent:stopped, the org's lease ended): what it had reached when it stopped."""


Ending = Queued | Succeeded | Failed | Stopped


@dataclass(frozen=True)
class PipelineOutcome:
    """Everything a run produced, in one value: how it ended, its errors and warnings (unmasked: the caller masks
    what it stores and sends), one report per step, the step it ended at (None after success) and its org."""

    ending: Ending
    errors: tuple[str, ...]
    warnings: tuple[str, ...]
    steps: tuple[StepReport, ...]
    step: str | None
    org: ScratchOrg | None


NOTHING_TO_DEPLOY = "NothingToDeploy"


@dataclass(frozen=True)
class _Attempt:
    """How one deploy (or one delta) went. `failed` with `sentence` and/or `errors` (the component failure lines)
    when it did not succeed; `landed` whether anything reached the org (None: cannot tell); `fallback` the reason
    a delta gives way to a full deploy; `failed_files` the files the failures name."""

    failed: bool = False
    sentence: str | None = None
    errors: tuple[str, ...] = ()
    landed: bool | None = None
    fallback: str | None = None
    failed_files: tuple[str, ...] = ()


def _names_changed(failed: str, changed: set[str]) -> bool:
    """Whether a failing file (a local path, or the package path `classes/X.cls` the API names) is a changed one."""
    if failed in changed or str(Path(failed).resolve()) in changed:
        return True
    suffix = "/" + failed.lstrip("/")
    return any(c.endswith(suffix) for c in changed)


@dataclass
class StepRun:
    name: str
    section: Section
    deadline: float
    status: StepStatus = StepStatus.OK

    def remaining(self) -> float:
        return max(0.5, self.deadline - anyio.current_time())


@dataclass
class Pipeline:
    sf: SfClient
    pool: PoolService
    gate: CapacityGate
    settings: OrgPoolSettings
    config: ProvisionConfig
    paths: RunPaths
    terminal: Terminal
    # Called as each step starts, with the org once the run has one (the service records both).
    on_step: Callable[[str, ScratchOrg | None], Awaitable[None]]
    waiting_ahead: Callable[[], Awaitable[int]]
    # Called the moment the run holds an org, so a lease ending under it from then on stops it.
    on_org: Callable[[ScratchOrg], None] = lambda org: None
    handover: Handover | None = None
    # Asked before a creation, so a Dev Hub without room queues the request at once (None: never asked).
    hub: DevHubLimits | None = None
    _org: ScratchOrg | None = None
    _errors: list[str] = field(default_factory=list)
    _warnings: list[str] = field(default_factory=list)
    _current_step: str | None = None
    _failed_step: str | None = None
    _reports: dict[str, StepReport] = field(default_factory=dict)
    _fatal: list[StepFailed] = field(default_factory=list)
    # The data/users/permsets input hashes the org already got, read at the deploy step; the middle steps skip
    # what matches `_inputs` (this run's), and those that end ok are recorded on the org once they all end.
    _held_inputs: dict[str, Any] = field(default_factory=dict)
    _inputs: dict[str, str] = field(default_factory=dict)

    @property
    def agent_id(self) -> str:
        return self.config.agent_id

    @property
    def step_timeout(self) -> float:
        return self.settings.stepTimeoutMinutes * 60

    def _steps(self) -> tuple[StepReport, ...]:
        """One entry per step in pipeline order; steps never reached are `skipped`."""
        return tuple(
            self._reports.get(n) or StepReport(name=n, status=StepStatus.SKIPPED, duration_ms=0) for n in STEPS
        )

    def _outcome(self, ending: Ending) -> PipelineOutcome:
        step = None if isinstance(ending, Succeeded) else self._failed_step or self._current_step
        if isinstance(ending, Queued):
            step = "org"
        return PipelineOutcome(
            ending=ending,
            errors=tuple(self._errors),
            warnings=tuple(self._warnings),
            steps=self._steps(),
            step=step,
            org=self._org,
        )

    def stopped(self) -> PipelineOutcome:
        """The outcome of a run cancelled from the outside, as far as it got (call after `run` was cancelled)."""
        return self._outcome(Stopped())

    # -- the run ---------------------------------------------------------------------------------------------------

    async def run(self) -> PipelineOutcome:
        return self._outcome(await self._run())

    async def _run(self) -> Ending:
        try:
            org = await self._org_step()
            if isinstance(org, Queued):
                return org
            await self._build(org)
            return Succeeded(await self._login_step(org))
        except StepFailed as exc:
            self._failed_step = exc.step
            if exc.sentence:
                self._errors.append(exc.sentence)
            for extra in self._fatal[1:]:
                if extra.sentence:
                    self._errors.append(extra.sentence)
            return Failed()

    async def _build(self, org: ScratchOrg) -> None:
        """Deploy, then data + users + permission sets side by side; what they got is recorded on the org."""
        await self._deploy_step(org)
        inputs = await self._step_inputs()
        sections = {name: self.terminal.section() for name in ("data", "users", "permsets")}
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._guard, self._data_step, org, sections["data"])
            tg.start_soon(self._guard, self._users_step, org, sections["users"])
            tg.start_soon(self._guard, self._permsets_step, org, sections["permsets"])
        await self._record_inputs(org, inputs)
        if self._fatal:
            raise self._fatal[0]

    async def hydrate(self, org: ScratchOrg) -> PipelineOutcome:
        """Pre-warm's hydration of a pool org: the deploy (recorded as usual), data, users and permission sets,
        no org step and no login URL. Success only when every step ended ok or skipped: an org that got a warning
        is half-built, and the caller keeps it out of the pool."""
        self._org = org
        try:
            await self._build(org)
        except StepFailed as exc:
            self._failed_step = exc.step
            if exc.sentence:
                self._errors.append(exc.sentence)
            return self._outcome(Failed())
        if self._warnings:
            return self._outcome(Failed())
        return self._outcome(Succeeded(""))

    async def _guard(
        self, step: Callable[[ScratchOrg, Section], Awaitable[None]], org: ScratchOrg, section: Section
    ) -> None:
        """A side-by-side step's fatal failure ends the run after its siblings finish (they are not cut short)."""
        try:
            await step(org, section)
        except StepFailed as exc:
            self._fatal.append(exc)

    @asynccontextmanager
    async def _step(self, name: str, section: Section | None = None) -> AsyncIterator[StepRun]:
        step = StepRun(name, section or self.terminal.section(), anyio.current_time() + self.step_timeout)
        self._current_step = name
        started = time.monotonic()
        await self.on_step(name, self._org)
        try:
            with anyio.fail_after(self.step_timeout + BACKSTOP_SECONDS):
                yield step
        except (StepTimeout, TimeoutError) as exc:
            step.status = StepStatus.FAILED
            detail = exc.message if isinstance(exc, StepTimeout) else "the step overran its time limit"
            await self._say(step, f"Timed out: {detail}", "stderr")
            raise StepFailed(
                f"The {STEP_TITLES[name]} step ({name}) timed out after {self.settings.stepTimeoutMinutes:g} minutes "
                f"(orgPool.stepTimeoutMinutes) and its command was stopped: {mask(detail)}.",
                name,
            ) from None
        except SfUnavailable as exc:
            step.status = StepStatus.FAILED
            raise StepFailed(
                f"The Salesforce CLI could not be started for the {name} step: {exc.message}", name
            ) from None
        except (AccessDenied, InvalidParams) as exc:  # a path checked just before its command no longer holds
            step.status = StepStatus.FAILED
            await self._say(step, f"Refused: {exc.message}", "stderr")
            raise StepFailed(mask(f"The {STEP_TITLES[name]} step ({name}) was refused: {exc.message}"), name) from None
        except StepFailed as exc:
            step.status = StepStatus.FAILED
            exc.step = exc.step or name
            raise
        except BaseException:
            step.status = StepStatus.FAILED
            raise
        finally:
            with anyio.CancelScope(shield=True):
                await step.section.close()
            self._reports[name] = StepReport(
                name=name, status=step.status, duration_ms=int((time.monotonic() - started) * 1000)
            )

    @staticmethod
    async def _say(step: StepRun, text: str, stream: str = "stdout") -> None:
        with anyio.CancelScope(shield=True):
            await step.section.line(text, stream)

    async def _skip(self, step: StepRun, why: str) -> None:
        step.status = StepStatus.SKIPPED
        await self._say(step, why)

    async def _sf_json(self, step: StepRun, args: list[str]) -> Envelope:
        """A step's command: streamed to its section, run in the worktree, within what is left of its time."""
        return await self.sf.run_json(args, sink=step.section.write, cwd=self.paths.cwd, timeout=step.remaining())

    async def _sf_json_or_warn(
        self, step: StepRun, args: list[str], warning: Callable[[SfFailed], str]
    ) -> Envelope | None:
        """Run a command whose failure only warns (the run still reaches QA_READY); None when it failed. Output
        the CLI cannot read still ends the run: it means the CLI itself is broken, not the data or the org."""
        try:
            return await self._sf_json(step, args)
        except SfFailed as exc:
            if exc.data.get("name") in UNPARSABLE:
                raise StepFailed(
                    mask(f"The {step.name} step got output from the Salesforce CLI it cannot read: {exc.message}")
                ) from None
            step.status = StepStatus.WARNING
            sentence = warning(exc)
            self._warnings.append(sentence)
            await self._say(step, sentence, "stderr")
            return None

    # -- 1. the org -------------------------------------------------------------------------------------------------

    async def _org_step(self) -> ScratchOrg | Queued:
        async with self._step("org") as step:
            got = await self._acquire(step)
            if isinstance(got, Queued):
                step.status = StepStatus.WARNING
                await self._say(step, got.sentence)
                return got
            self._org = got
            self.on_org(got)
            return got

    async def _acquire(self, step: StepRun) -> ScratchOrg | Queued:
        handover = self.handover
        # The shape of the worktree's definition, read now: the branch may have changed it since the last run.
        shape = definition_shape(self.paths.scratch_def, self.settings)
        wanted = shape.hash if shape else None
        if handover is not None and handover.org is not None and self.pool.fits(handover.org, wanted):
            await self._say(step, f"Org {handover.org.alias} was released to this agent from the queue.")
            return handover.org
        org = await self.pool.lease_of(self.agent_id)
        if org is not None and not self.pool.fits(org, wanted):
            await self.pool.release(org.id, self.agent_id)
            await self._say(
                step,
                f"The scratch definition {self.settings.scratchDefPath} changed since org {org.alias} was created: "
                f"it goes back to the pool for agents of its shape, and agent {self.agent_id} gets an org of the new"
                " one.",
            )
            org = None
        if org is not None:
            if handover and handover.reservation:
                handover.reservation.release()
            await self._say(step, f"Reusing org {org.alias}, already leased to agent {self.agent_id}: re-deploying.")
            return org
        if handover is not None and handover.reservation is not None:
            return await self._create(step, handover.reservation, shape)
        ahead = await self.waiting_ahead()
        if ahead:
            return Queued(
                QueueReason.CAPACITY,
                f"{ahead} agent{'s are' if ahead > 1 else ' is'} already waiting for a scratch org; agent "
                f"{self.agent_id} waits behind them and its provisioning continues by itself when an org is free.",
            )
        org = await self.pool.claim(self.agent_id, wanted)
        if org is not None:
            await self._say(step, f"Claimed org {org.alias} from the pool.")
            return org
        reservation = await self.gate.reserve()
        if reservation is None:
            limit = self.pool.limits.max_orgs
            return Queued(
                QueueReason.CAPACITY,
                f"No scratch org is free: the pool is at maxOrgs ({limit}) and none is available. Agent "
                f"{self.agent_id} waits in the queue; its provisioning continues by itself when an org is released, "
                "removed or expires, or when maxOrgs grows.",
            )
        return await self._create(step, reservation, shape)

    async def _free_alias(self) -> str:
        """The requested alias, or `<alias>-2`, `-3`... when a pool org already has it (the CLI would move it)."""
        wanted = self.config.org_alias
        taken = {o.alias for o in await self.pool.list_orgs()}
        if wanted not in taken:
            return wanted
        for n in range(2, 1000):
            candidate = f"{wanted[:74]}-{n}"
            if candidate not in taken and ALIAS_PATTERN.fullmatch(candidate):
                self._warnings.append(
                    f"Alias {wanted} is already used by another org in the pool; the new org is called {candidate}."
                )
                return candidate
        raise StepFailed(f"Every variant of alias {wanted} is taken in the pool; choose another orgAlias.")

    async def _create(self, step: StepRun, reservation: Reservation, shape: Shape | None) -> ScratchOrg | Queued:
        try:
            if self.hub is not None:
                try:
                    full = await self.hub.no_room()
                except SfFailed as exc:  # the limits could not be read: the creation itself will tell
                    await self._say(step, f"The Dev Hub's limits could not be read ({exc.message}); creating anyway.")
                    full = None
                if full is not None:
                    return Queued(
                        QueueReason.DEVHUB_LIMIT,
                        f"{full}, so no creation was attempted. Agent {self.agent_id} waits in the queue: the Dev Hub "
                        "is asked again with backoff, and an org released to the pool goes to it first.",
                    )
            alias = await self._free_alias()
            days = self.pool.limits.duration_days()
            try:
                created = await create_scratch_org(
                    self.sf,
                    self.settings,
                    alias=alias,
                    definition_file=self.paths.scratch_def,
                    duration_days=days,
                    cwd=self.paths.cwd,
                    sink=step.section.write,
                    timeout=step.remaining(),
                )
            except DevHubLimit as exc:
                return Queued(
                    QueueReason.DEVHUB_LIMIT,
                    f"The Dev Hub refused a new scratch org (LIMIT_EXCEEDED: {exc.message}). Agent {self.agent_id} "
                    "waits in the queue: the creation is retried with backoff, and an org released to the pool "
                    "goes to it first.",
                )
            except SfFailed as exc:
                if not self.paths.scratch_def.is_file():
                    raise StepFailed(
                        f"The scratch org definition {self.settings.scratchDefPath} (orgPool.scratchDefPath) is "
                        f"missing from the worktree, so no org could be created: {exc.message}"
                    ) from None
                if exc.data.get("name") in UNPARSABLE:
                    raise StepFailed(mask(f"The scratch org could not be created: {exc.message}")) from None
                raise StepFailed(
                    mask(
                        f"The scratch org could not be created ({exc.data.get('name') or 'error'}: "
                        f"{exc.data.get('message') or exc.message})."
                    )
                ) from None
            await self._say(
                step,
                f"Created scratch org {alias}: {created.username} ({created.sf_org_id or 'no org id'})"
                + (f", expires {created.expires_at.date().isoformat()}" if created.expires_at else ""),
            )
            try:
                return await register_created(
                    self.pool,
                    self.sf,
                    created,
                    cwd=self.paths.cwd,
                    sink=step.section.write,
                    lease_to=self.agent_id,
                    shape=shape,
                )
            except CapacityReached:
                return Queued(
                    QueueReason.CAPACITY,
                    f"The pool filled up while the org was being created (maxOrgs {self.pool.limits.max_orgs}); "
                    f"the new org was deleted and agent {self.agent_id} waits in the queue.",
                )
            except AlreadyExists as exc:
                raise StepFailed(f"The new org could not be added to the pool: {exc.message}") from None
        finally:
            if self.hub is not None:
                self.hub.forget()
            reservation.release()

    # -- 2. deploy --------------------------------------------------------------------------------------------------

    async def _deploy_step(self, org: ScratchOrg) -> None:
        held = await self.pool.deployment(org.id)
        self._held_inputs = dict(held.inputs or {})
        # Planned before anything runs (an edit made while the CLI deploys is newer than the recorded state), and
        # outside the step's clock: each git command has its own limit, and a slow git only means a full deploy.
        try:
            plan: Plan | None = await plan_deploy(
                self.paths.worktree, self.paths.source_dir, self.paths.scratch_def, SourceState.from_record(held.state)
            )
        except (AccessDenied, InvalidParams):
            plan = None  # the step below checks the paths again and reports what is wrong
        async with self._step("deploy") as step:
            source_dir = self.paths.source_dir  # resolved and checked now, right before the deploy
            if not source_dir.is_dir():
                raise StepFailed(
                    f"There is nothing to deploy: {self.settings.sourceDir} (orgPool.sourceDir) is not a directory "
                    f"in worktree {self.paths.worktree}."
                )
            if plan is None:
                plan = Plan(Full("The project's paths could not be checked before the deploy."), None)
            decision = plan.decision
            await self._say(step, describe(decision))
            if isinstance(decision, Delta) and not decision.paths:
                return await self._record_source(org, plan.state)
            if held.state is not None:  # a deploy that half-lands must never leave a stale base recorded
                await self.pool.record_deployment(org.id, commit=None, state=None)
            landed: list[bool | None] = []
            if isinstance(decision, Delta):
                paths = [str(self._delta_path(source_dir, p)) for p in decision.paths]
                attempt = await self._deploy_delta(step, org, paths)
                landed.append(attempt.landed)
                if not attempt.failed:
                    return await self._record_source(org, plan.state)
                if attempt.fallback is None:
                    await self._restore_if_untouched(org, held.state, landed)
                    raise self._failure(attempt)
                await self._say(step, f"Full deploy: {attempt.fallback} The whole source dir is deployed instead.")
            attempt = await self._deploy(step, org, [str(source_dir)])
            landed.append(attempt.landed)
            if attempt.failed:
                await self._restore_if_untouched(org, held.state, landed)
                raise self._failure(attempt)
            await self._record_source(org, plan.state)

    async def _restore_if_untouched(
        self, org: ScratchOrg, state: dict[str, Any] | None, landed: list[bool | None]
    ) -> None:
        """A deploy that failed and rolled back whole left the org as it was: its recorded state holds again."""
        if state is not None and all(x is False for x in landed):
            await self.pool.record_deployment(org.id, commit=str(state.get("commit")), state=state)

    def _failure(self, attempt: _Attempt) -> StepFailed:
        self._errors.extend(attempt.errors)
        return StepFailed(attempt.sentence)

    @staticmethod
    def _delta_path(source_dir: Path, path: str) -> Path:
        """A changed file, checked inside the source dir now (a symlink swapped in cannot point the CLI elsewhere)."""
        try:
            relative = Path(path).relative_to(source_dir)
        except ValueError:
            relative = Path(os.path.relpath(Path(path).resolve(), source_dir))
        return inside(source_dir, relative.as_posix(), "sourceDir")

    async def _record_source(self, org: ScratchOrg, state: SourceState | None) -> None:
        """The org now holds `state` (None: git could not tell, so nothing is recorded and the next deploy is full)."""
        updated = await self.pool.record_deployment(
            org.id, commit=state.commit if state else None, state=state.to_record() if state else None
        )
        if updated is not None:
            self._org = updated

    async def _deploy_delta(self, step: StepRun, org: ScratchOrg, paths: list[str]) -> _Attempt:
        """Deploy the changed files (in several commands when one argv would be too long).

        A component failure in one of these files is the agent's own change: the run ends in error as a full
        deploy's would (no fallback). Any other failure (the deploy did not start, timed out, failed outside the
        change) says nothing about the agent's code, so it comes back with a `fallback` reason for a full deploy.
        """
        base = ["project", "deploy", "start", "--target-org", org.alias]
        try:
            argvs = split_source_dirs(base, paths)
        except ValueError as exc:
            return _Attempt(failed=True, fallback=f"The delta cannot be passed to the CLI: {exc}.", landed=False)
        changed = set(paths)
        landed: bool | None = False
        for argv in argvs:
            attempt = await self._deploy(step, org, argv[len(base) + 1 :: 2], nothing_is_fine=True)
            landed = True if attempt.landed or landed else (None if attempt.landed is None or landed is None else False)
            if not attempt.failed:
                continue
            if any(_names_changed(f, changed) for f in attempt.failed_files):
                return replace(attempt, landed=landed)
            why = (attempt.sentence or "; ".join(attempt.errors[:2]) or "it failed").rstrip(".")
            return replace(
                attempt, landed=landed, fallback=f"The delta deploy failed outside the agent's change ({why})."
            )
        return _Attempt(landed=landed)

    async def _deploy(
        self, step: StepRun, org: ScratchOrg, source_dirs: list[str], *, nothing_is_fine: bool = False
    ) -> _Attempt:
        """One `sf project deploy start` of `source_dirs`, streamed, then its result read. A failure comes back in
        the attempt: the caller decides whether it ends the run or a full deploy follows."""
        ids = results.DeployIdScanner()
        human_error = results.HumanErrorScanner()

        async def sink(stream: str, text: str) -> None:
            ids.feed(text)
            if stream == "stderr":
                human_error.feed(text)
            await step.section.write(stream, text)

        args = ["project", "deploy", "start", "--target-org", org.alias]
        for path in source_dirs:
            args += ["--source-dir", path]
        # Human mode, so the pane shows progress while it runs (with --json the CLI is silent until the end).
        started = await self.sf.run(args, sink=sink, cwd=self.paths.cwd, timeout=step.remaining())
        if ids.deploy_id is None:
            if started.exit_code == 0:
                step.status = StepStatus.WARNING
                self._warnings.append("The deploy printed no deploy id, so its result could not be checked.")
                return _Attempt(landed=None)
            if nothing_is_fine and (human_error.error or "").startswith(NOTHING_TO_DEPLOY):
                # Only ignored files changed (.forceignore): nothing to deploy is not a failure.
                await self._say(step, "The changed files are all ignored (.forceignore): nothing to deploy.")
                return _Attempt(landed=False)
            detail = human_error.error or f"`sf project deploy start` exited with code {started.exit_code}"
            return _Attempt(
                failed=True, sentence=mask(f"The deploy to {org.alias} did not start ({detail})."), landed=False
            )
        result = await self._deploy_report(step, ids.deploy_id)
        failures = results.deploy_failures(result, self.paths.worktree)
        await self._say(step, results.deploy_summary(result))
        for line in failures:
            await self._say(step, "  " + line)
        for line in results.deploy_warnings(result, self.paths.worktree):
            # A component warning is not a failure (the deploy still succeeds); the person sees it in the pane.
            await self._say(step, "  Warning: " + line)
        if result.get("success") is True:
            if failures:
                step.status = StepStatus.WARNING
                self._warnings.extend(f"Not deployed: {line}" for line in failures)
            return _Attempt(landed=True)
        if result.get("done") is False:
            return _Attempt(
                failed=True,
                sentence=f"Deploy {ids.deploy_id} had not finished when its time ran out (status "
                f"{result.get('status')}); see `sf project deploy report --job-id {ids.deploy_id}`.",
                landed=None,
            )
        # A failed deploy rolls back whole (the CLI's default): nothing reached the org.
        deployed = result.get("numberComponentsDeployed")
        return _Attempt(
            failed=True,
            errors=tuple(
                failures
                or [f"Deploy {ids.deploy_id} ended with status {result.get('status')} and named no failing component."]
            ),
            landed=False if deployed in (0, "0") else None,
            failed_files=tuple(results.failed_files(result)),
        )

    async def _deploy_report(self, step: StepRun, deploy_id: str) -> dict[str, Any]:
        args = ["project", "deploy", "report", "--job-id", deploy_id]
        try:
            result = (await self._sf_json(step, args)).result
            if isinstance(result, dict) and result.get("done") is False:
                minutes = max(1, int(step.remaining() // 60))
                result = (await self._sf_json(step, [*args, "--wait", str(minutes)])).result
        except SfFailed as exc:
            raise StepFailed(mask(f"The result of deploy {deploy_id} could not be read: {exc.message}")) from None
        if not isinstance(result, dict):
            raise StepFailed(f"The result of deploy {deploy_id} is not a deploy result.")
        return result

    # -- 3, 4, 5. side by side ----------------------------------------------------------------------------------------

    async def _step_inputs(self) -> dict[str, str]:
        """The hashes of what data, users and permsets get this time (empty when a path check fails: then every
        step runs and reports the problem itself)."""
        try:
            data_plan, user_def = self.paths.data_plan, self.paths.user_def
        except (AccessDenied, InvalidParams):
            return {}
        got = await anyio.to_thread.run_sync(
            step_inputs, self.paths.worktree, data_plan, user_def, list(self.settings.permissionSets)
        )
        self._inputs = {"data": got.data, "users": got.users, "permsets": got.permsets}
        return self._inputs

    async def _already_got(self, step: StepRun, what: str) -> bool:
        """Skip the step when the org already got exactly these inputs (a second data load would duplicate rows,
        a second user would collide); a changed input runs the step again."""
        wanted = self._inputs.get(step.name)
        if wanted is None or self._held_inputs.get(step.name) != wanted:
            return False
        await self._skip(step, f"This org already has {what} from the same inputs: skipped.")
        return True

    async def _record_inputs(self, org: ScratchOrg, inputs: dict[str, str]) -> None:
        """Record the inputs of the steps that ended ok or skipped; a step that warned runs again next time."""
        done = {
            name: value
            for name, value in inputs.items()
            if name in self._reports and self._reports[name].status in (StepStatus.OK, StepStatus.SKIPPED)
        }
        if inputs and done != self._held_inputs:
            with anyio.CancelScope(shield=True):
                await self.pool.record_step_inputs(org.id, done)

    async def _data_step(self, org: ScratchOrg, section: Section) -> None:
        async with self._step("data", section) as step:
            plan = self.paths.data_plan  # resolved and checked now, right before the command that reads it
            if not plan.is_file():
                return await self._skip(step, f"No data plan at {self.settings.dataPlanPath}: no sample data to load.")
            if await self._already_got(step, "the sample data"):
                return
            envelope = await self._sf_json_or_warn(
                step,
                ["data", "import", "tree", "--target-org", org.alias, "--plan", str(plan)],
                lambda exc: results.data_failure(exc.data.get("name"), exc.data.get("message"), exc.data.get("data")),
            )
            if envelope is not None:
                await self._say(step, results.data_summary(envelope.result))

    async def _users_step(self, org: ScratchOrg, section: Section) -> None:
        async with self._step("users", section) as step:
            user_def = self.paths.user_def  # resolved and checked now, right before the command that reads it
            if not user_def.is_file():
                return await self._skip(
                    step, f"No user definition at {self.settings.userDefPath}: no QA user to create."
                )
            if await self._already_got(step, "the QA user"):
                return
            envelope = await self._sf_json_or_warn(
                step,
                ["org", "create", "user", "--target-org", org.alias, "--definition-file", str(user_def)],
                lambda exc: mask(
                    f"The QA user was not created ({exc.data.get('name') or 'error'}: "
                    f"{exc.data.get('message') or exc.message}). Fix {self.settings.userDefPath} and provision again."
                ),
            )
            if envelope is None:
                return
            summary = results.user_summary(envelope.result)
            await self._say(step, summary)
            if envelope.exit_code != 0:
                step.status = StepStatus.WARNING
                detail = "; ".join(envelope.warnings) or "see the output above"
                self._warnings.append(
                    mask(f"{summary}, but one of its sub-steps failed (exit code {envelope.exit_code}): {detail}.")
                )

    async def _permsets_step(self, org: ScratchOrg, section: Section) -> None:
        async with self._step("permsets", section) as step:
            wanted = list(dict.fromkeys(self.settings.permissionSets))
            names = [n for n in wanted if PERMSET_PATTERN.fullmatch(n)]
            for bad in (n for n in wanted if n not in names):
                step.status = StepStatus.WARNING
                self._warnings.append(
                    f"orgPool.permissionSets entry {bad!r} is not a permission set API name; skipped."
                )
            if not names:
                if step.status is StepStatus.OK:
                    step.status = StepStatus.SKIPPED
                await self._say(step, "No permission sets to assign (orgPool.permissionSets).")
                return
            if await self._already_got(step, f"permission sets {', '.join(names)} assigned"):
                return
            args = ["org", "assign", "permset", "--target-org", org.alias]
            for name in names:
                args += ["--name", name]
            envelope = await self._sf_json_or_warn(
                step,
                args,
                lambda exc: mask(
                    f"Permission sets {', '.join(names)} were not assigned ({exc.data.get('name') or 'error'}: "
                    f"{exc.data.get('message') or exc.message})."
                ),
            )
            if envelope is None:
                return
            outcome = results.permset_outcome(envelope.result, names)
            await self._say(step, results.permset_summary(outcome))
            if outcome.failed:
                step.status = StepStatus.WARNING
                self._warnings.extend(outcome.failed)

    # -- 6. the frontdoor URL -----------------------------------------------------------------------------------------

    async def _login_step(self, org: ScratchOrg) -> str:
        async with self._step("login") as step:
            try:
                # stdout (the URL) is captured, never streamed; only the command line and stderr reach the pane.
                envelope = await self._sf_json(step, ["org", "open", "--target-org", org.alias, "--url-only"])
            except SfFailed as exc:
                raise StepFailed(mask(f"No login URL could be obtained for org {org.alias}: {exc.message}")) from None
            url = envelope.result.get("url") if isinstance(envelope.result, dict) else None
            if not isinstance(url, str) or not url.startswith("https://"):
                raise StepFailed(f"`sf org open --url-only` returned no https URL for org {org.alias}.")
            await self._say(step, "Login URL ready: handed to the QA pane only (a single-use credential, never shown).")
            return url
