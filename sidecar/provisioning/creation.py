"""Creating scratch orgs: the capacity reservation that keeps creations within maxOrgs, and the CLI call itself.

A creation takes minutes, and the pool only learns of the org when it is registered at the end. Without a
reservation, two agents (or an agent and the pre-warmer) could both see room for one more org, both create, and the
second would be refused at registration with a paid-for org in hand. So a creation first reserves a slot here:
orgs available or leased, plus creations in flight, never exceed maxOrgs. The pool's own capacity check at
registration stays the last word (another process may share the database).

A creation is also a Dev Hub signup that may outlive the command waiting on it (issue 12): the CLI exits 69 when
`--wait` runs out and the signup goes on, holding a Dev Hub slot. So the signup's job id is kept in the database
(creation_store.py) before anyone waits, and the creation is seen through (the org registered, or deleted) by the
run that started it or, past its time or after a restart, by the background (resumption.py).

Why `sf org create scratch --async` then `sf org resume scratch --job-id ID --wait N`, rather than the id of the
exit-69 envelope: (1) the id must be in the database *before* the wait, or a sidecar killed during a plain
`--wait` leaves a signup nobody can find; `--async` returns it at once, in a field (`result.scratchOrgInfo.Id`,
the ScratchOrgInfo id `2SR...`). (2) The exit-69 envelope carries the id only inside its message text
(plugin-org raises a bare `this.error(message, {exit: 69})`, no `data`), and decisions are never taken on message
text. (3) A resume holds the CLI's state lock only for its own `--wait`, so a slow signup can be waited on in
slices. The cost: the result of an `--async` create has no `warnings` of its own (core returns `[]`), so only the
envelope's warnings (the definition's validation issues) reach the pane.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio

from sidecar.errors import AlreadyExists, CapacityReached, SfFailed, SfUnavailable, StepTimeout
from sidecar.pool.instances import live_since
from sidecar.pool.models import ALIAS_PATTERN, Hydration, OrgSource, OrgStatus, ScratchOrg
from sidecar.pool.service import PoolService
from sidecar.pool.shapes import DefinitionError, Shape, shape_of_file
from sidecar.provisioning import creation_store
from sidecar.provisioning.creation_store import JobRow
from sidecar.provisioning.masking import mask
from sidecar.settings import OrgPoolSettings
from sidecar.sf.client import SfClient
from sidecar.sf.envelope import Envelope
from sidecar.sf.process import OutputSink
from sidecar.storage.database import Database
from sidecar.timeutil import Clock, end_of_day, utcnow

log = logging.getLogger(__name__)


# The ScratchOrgInfo id a signup's job id is (plugin-org's `--job-id` flag: startsWith '2SR', 15 or 18 characters).
JOB_ID_PREFIX = "2SR"
# A resume that reports the signup still under way: its `--wait` ran out (or was 0). Exit 69 is how
# `org create scratch` says the same; a resume is taken to mean it too should a CLI version use it.
STILL_UNDER_WAY = frozenset({"ScratchOrgResumeTimeOutError", "StillInProgressError"})
EXIT_STILL_UNDER_WAY = 69
# A resume exits 68 when the org exists but a step after the signup failed (settings deploy, alias): it is
# authorized, so it can be deleted, but it is not the org the definition asked for.
EXIT_PARTIAL = 68
# Answers after which the job can never be resumed (nothing of it left to register or delete): the signup failed
# in the Dev Hub, or this CLI no longer has the job in its cache (it completed, or was resumed by hand).
FINAL = frozenset(
    {
        "RemoteOrgSignupFailed",
        "signupFailedUnknown",
        "UnexpectedSignupStatus",
        "ScratchOrgInfoNotFound",
        "NoScratchOrgInfoError",
        "ScratchOrgDeletedError",
    }
)
# This CLI no longer has the job in its cache: it completed (a resume that finished while nobody read its answer,
# say its sidecar was killed) or was resumed by hand. The org may be authorized here all the same (see
# resumption.py, which looks for it in `sf org list`).
CACHE_MISS = frozenset({"CacheMissError", "JobIdMismatchError"})
# The pause between two resumes that came back at once (`--wait 0` near the deadline), like the CLI's own poll.
RESUME_PAUSE_SECONDS = float(os.environ.get("SWEATSHOP_RESUME_PAUSE_SECONDS", "1.0"))


class Reservation:
    """One slot of maxOrgs, held while an org is being created; attached to its signup's job once there is one."""

    def __init__(self, gate: CapacityGate, job_id: str | None = None) -> None:
        self._gate = gate
        self._held = True
        self.job_id: str | None = None
        if job_id is not None:
            self.attach(job_id)

    @property
    def gate(self) -> CapacityGate:
        return self._gate

    def attach(self, job_id: str) -> None:
        """This slot is the job's: its row in the database is not counted a second time (see CapacityGate.used)."""
        if self.job_id is None and self._held:
            self.job_id = job_id
            self._gate._held_jobs[job_id] += 1

    def hand_over(self) -> Reservation:
        """The same slot, for whoever sees the job through from now on (this one's release becomes a no-op)."""
        taken = Reservation(self._gate)
        taken.job_id, taken._held = self.job_id, self._held
        self._held = False
        return taken

    def release(self) -> None:
        if self._held:
            self._held = False
            self._gate._release(self.job_id)


class CapacityGate:
    def __init__(self, pool: PoolService, on_release: Callable[[], None], jobs: CreationJobs) -> None:
        self._pool = pool
        self._on_release = on_release
        self._lock = anyio.Lock()
        self.jobs = jobs
        self.in_flight = 0
        self._held_jobs: Counter[str] = Counter()

    async def used(self) -> int:
        """Orgs that count against maxOrgs (available or leased), plus creations under way: the reservations of
        this process, the signups recorded in the database that no reservation holds (left by a sidecar that
        was killed, until the background takes them up), and, in a shared pool, the other machines' signups (the
        team's creations count against its one capacity; the insert's check under the pool row lock stays final)."""
        orgs = await self._pool.list_orgs()
        counted = sum(1 for o in orgs if o.status in (OrgStatus.AVAILABLE, OrgStatus.LEASED))
        unheld = {j for j in await self.jobs.pending_ids() if not self._held_jobs[j]}
        return counted + self.in_flight + len(unheld) + await self.jobs.pending_elsewhere()

    async def reserve(self) -> Reservation | None:
        async with self._lock:
            if await self.used() >= self._pool.limits.max_orgs:
                return None
            self.in_flight += 1
            return Reservation(self)

    def hold(self, job_id: str) -> Reservation:
        """A slot for a signup the Dev Hub already has, whatever the room: refusing it would not free the Dev Hub's
        slot, only stop counting it."""
        self.in_flight += 1
        return Reservation(self, job_id)

    def holds(self, job_id: str) -> bool:
        """Whether this process sees the job through already (a run's creation, or the background's)."""
        return self._held_jobs[job_id] > 0

    def _release(self, job_id: str | None) -> None:
        self.in_flight -= 1
        if job_id is not None:
            self._held_jobs[job_id] -= 1
            if self._held_jobs[job_id] <= 0:
                del self._held_jobs[job_id]
        self._on_release()


class CreationJobs:
    """The signups under way of this sidecar instance: their rows (creation_store.py), and the hand-over of those
    a run or pre-warm stops seeing through (past its time, cancelled) to the background (resumption.py)."""

    def __init__(
        self,
        db: Database,
        holder: str,
        gone_after: Callable[[], timedelta],
        clock: Clock = utcnow,
    ) -> None:
        self._db = db
        self.holder = holder
        self.clock = clock
        # How long another machine may be silent before its signups stop counting: its leases' timeout.
        self._gone_after = gone_after
        self._handed: list[tuple[JobRow, Reservation]] = []
        self._wake = anyio.Event()

    async def record(self, job: JobRow) -> None:
        """Written before anyone waits on the signup; shielded, so a cancel cannot leave a signup unrecorded."""
        with anyio.CancelScope(shield=True):
            async with self._db.transaction() as conn:
                await creation_store.add(conn, job)

    async def clear(self, job_id: str) -> None:
        """The org is in the pool or deleted, or the signup can never be resumed: the job goes."""
        with anyio.CancelScope(shield=True):
            async with self._db.transaction() as conn:
                await creation_store.remove(conn, job_id)

    def settler(self, job_id: str) -> Callable[[], Awaitable[None]]:
        """What a CreatedOrg calls once it is registered or deleted (CreatedOrg.settle)."""

        async def settle() -> None:
            await self.clear(job_id)

        return settle

    async def attempted(self, job_id: str, error: str) -> None:
        async with self._db.transaction() as conn:
            await creation_store.attempted(conn, job_id, mask(error))

    async def pending(self) -> list[JobRow]:
        return await creation_store.pending(self._db.reader, self.holder)

    async def pending_ids(self) -> set[str]:
        return await creation_store.pending_ids(self._db.reader, self.holder)

    async def pending_elsewhere(self) -> int:
        reader = self._db.reader
        return await creation_store.pending_elsewhere(reader, self.holder, await live_since(reader, self._gone_after()))

    def hand_over(self, job: JobRow, reservation: Reservation) -> None:
        """Give a job (and its slot) to the background; synchronous, so it works from a cancelled task."""
        self._handed.append((job, reservation))
        self._wake.set()

    async def next_handed(self) -> tuple[JobRow, Reservation]:
        while not self._handed:
            self._wake = anyio.Event()
            await self._wake.wait()
        return self._handed.pop(0)


class SignupUnknown(SfFailed):
    """The CLI's cache no longer has the job (CACHE_MISS), or its resume said nothing usable of the org; the row is
    kept for whoever looks for the org among the CLI's authorized orgs (resumption.py)."""


class CreationPending(Exception):
    """The signup is still under way when its waiter's time is up; the background sees it through (the job and
    its slot were handed over). `sentence` says so, for the run's errors or its queue entry."""

    def __init__(self, job: JobRow, sentence: str) -> None:
        super().__init__(sentence)
        self.job = job
        self.sentence = sentence


class DevHubLimit(Exception):
    """The Dev Hub refused a new org (LIMIT_EXCEEDED): active or daily scratch org limit."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def _nothing_to_settle() -> None:
    return None


@dataclass(frozen=True)
class CreatedOrg:
    """A created org, not yet in the pool. `settle` forgets its signup's job once the org is registered or deleted
    (register_created calls it either way), so callers keep registering as they always did."""

    alias: str
    username: str
    sf_org_id: str | None
    instance_url: str | None
    login_url: str | None
    expires_at: datetime | None
    job_id: str | None = None
    settle: Callable[[], Awaitable[None]] = field(default=_nothing_to_settle, compare=False, repr=False)


def definition_shape(definition_file: Path, settings: OrgPoolSettings) -> Shape | None:
    """The shape an org created from `definition_file` on orgPool.devHub has; None when the file gives none (it is
    missing or broken: the creation itself then fails and says why, and such a run asks for no particular shape)."""
    try:
        return shape_of_file(definition_file, settings.devHub)
    except DefinitionError as exc:
        log.info("no shape: %s", exc)
        return None


def create_args(settings: OrgPoolSettings, *, alias: str, definition_file: Path, duration_days: int) -> list[str]:
    args = [
        "org", "create", "scratch",
        "--definition-file", str(definition_file),
        "--alias", alias,
        "--duration-days", str(duration_days),
    ]  # fmt: skip
    if settings.devHub:
        if not ALIAS_PATTERN.fullmatch(settings.devHub):
            raise SfFailed(
                f"orgPool.devHub {settings.devHub!r} is not a valid alias or username", name="InvalidSetting"
            )
        args += ["--target-dev-hub", settings.devHub]
    # The signup's job id comes back at once (see the module's docstring); the wait is the resume's.
    return [*args, "--async"]


def resume_args(job_id: str, wait_minutes: int) -> list[str]:
    """`sf org resume scratch --job-id ID --wait N`: waits up to N whole minutes (0: answer at once)."""
    return ["org", "resume", "scratch", "--job-id", job_id, "--wait", str(max(0, wait_minutes))]


def delete_args(target: str) -> list[str]:
    return ["org", "delete", "scratch", "--target-org", target, "--no-prompt"]


def _expiry(result: dict[str, Any]) -> datetime | None:
    info = found if isinstance(found := result.get("scratchOrgInfo"), dict) else {}
    auth = found if isinstance(found := result.get("authFields"), dict) else {}
    for raw in (info.get("ExpirationDate"), auth.get("expirationDate")):
        if isinstance(raw, str) and raw:
            try:
                return end_of_day(date.fromisoformat(raw[:10]))
            except ValueError:
                continue
    return None


async def create_scratch_org(
    sf: SfClient,
    settings: OrgPoolSettings,
    *,
    alias: str,
    definition_file: Path,
    duration_days: int,
    cwd: Path,
    sink: OutputSink | None,
    timeout: float,  # noqa: ASYNC109 - the creation's budget: past it the signup is handed to the background
    reservation: Reservation,
    agent_id: str | None = None,
) -> CreatedOrg:
    """Sign up (`--async`), record the job, then resume it until the org is ready or `timeout` is spent.

    DevHubLimit on LIMIT_EXCEEDED and SfFailed on every other refusal of the signup, or on a signup that ended in
    error (its job is forgotten; an org that exists but cannot be used is deleted first). CreationPending when the
    signup is still under way at the end of `timeout`: the job and its slot (`reservation`) go to the background.
    A cancel (agent stopped, shutdown) hands the job over the same way.
    """
    jobs = reservation.gate.jobs
    deadline = anyio.current_time() + timeout
    args = create_args(settings, alias=alias, definition_file=definition_file, duration_days=duration_days)
    try:
        envelope = await sf.run_json(args, sink=sink, timeout=timeout, cwd=cwd)
    except SfFailed as exc:
        if "LIMIT_EXCEEDED" in (exc.data.get("name"), exc.data.get("code")):
            raise DevHubLimit(str(exc.data.get("message") or exc.message)) from None
        raise
    await _say_warnings(sink, envelope)
    result = envelope.result if isinstance(envelope.result, dict) else {}
    info = found if isinstance(found := result.get("scratchOrgInfo"), dict) else {}
    job_id = info.get("Id")
    if not isinstance(job_id, str) or not job_id.startswith(JOB_ID_PREFIX):
        raise SfFailed("`sf org create scratch --async` returned no signup job id", name="UnexpectedOutput")
    username = result.get("username") or info.get("SignupUsername")
    job = JobRow(
        job_id=job_id,
        holder=jobs.holder,
        alias=alias,
        username=username if isinstance(username, str) and username else None,
        definition_file=str(definition_file),
        cwd=str(cwd),
        agent_id=agent_id,
        attempts=0,
        last_error=None,
        requested_at=jobs.clock(),
    )
    reservation.attach(job_id)
    await jobs.record(job)
    if sink is not None:
        await sink("stdout", f"Signup {job_id} accepted by the Dev Hub; waiting for the org.\n")
    try:
        return await resume_until(sf, jobs, job, deadline=deadline, first_wait=settings.createWaitMinutes, sink=sink)
    except (CreationPending, SignupUnknown):
        jobs.hand_over(job, reservation.hand_over())
        raise
    except SfFailed:
        raise  # final: resume_until forgot the job (and deleted an org that cannot be used)
    except BaseException:
        jobs.hand_over(job, reservation.hand_over())  # cancelled, or a bug: the signup still holds a slot
        raise


async def resume_until(
    sf: SfClient,
    jobs: CreationJobs,
    job: JobRow,
    *,
    deadline: float,
    first_wait: int,
    sink: OutputSink | None,
) -> CreatedOrg:
    """`sf org resume scratch --job-id` until the org is ready or `deadline` (anyio time) passes.

    The first resume waits `first_wait` minutes (orgPool.createWaitMinutes, the old creation's `--wait`); when the
    signup outlives it, later ones wait what is left before the deadline, never past it. CreationPending when time
    is up or the CLI could not give an answer (not started, killed, unreadable output: the signup is still there);
    SfFailed, with the job forgotten, when the answer is final; SignupUnknown (job kept) when the CLI no longer
    knows the job.
    """
    cwd = Path(job.cwd) if job.cwd else None
    wait = max(0, first_wait)
    while True:
        left = deadline - anyio.current_time()
        if left <= 0:
            raise CreationPending(job, _pending_sentence(job, "its time ran out"))
        started = anyio.current_time()
        try:
            envelope = await sf.run_json(
                resume_args(job.job_id, min(wait, int(left // 60))), sink=sink, cwd=cwd, timeout=left
            )
        except (StepTimeout, SfUnavailable) as exc:
            raise CreationPending(job, _pending_sentence(job, exc.message)) from None
        except SfFailed as exc:
            name, exit_code = exc.data.get("name"), exc.data.get("exitCode")
            if name in STILL_UNDER_WAY or exit_code == EXIT_STILL_UNDER_WAY:
                wait = int((deadline - anyio.current_time()) // 60)
                pause = min(RESUME_PAUSE_SECONDS - (anyio.current_time() - started), deadline - anyio.current_time())
                if pause > 0:
                    await anyio.sleep(pause)
                continue
            if exit_code == EXIT_PARTIAL:
                await _discard_unusable(sf, jobs, job, exc, sink)
            if name in CACHE_MISS:
                raise SignupUnknown(exc.message, **exc.data) from None
            if name in FINAL:
                await jobs.clear(job.job_id)
                log.warning("signup %s of org %s ended: %s", job.job_id, job.alias, exc.message)
                raise
            raise CreationPending(job, _pending_sentence(job, exc.message)) from None
        await _say_warnings(sink, envelope)
        return _created(job, envelope, jobs)


async def _discard_unusable(
    sf: SfClient, jobs: CreationJobs, job: JobRow, exc: SfFailed, sink: OutputSink | None
) -> None:
    """The org exists (authorized) but a step after its signup failed, so it is not the org its definition asked
    for: deleted, so it holds no Dev Hub slot, and its job forgotten. Raises SfFailed saying so."""
    target = _username_from(exc) or job.username or job.alias
    deleted = await delete_quietly(sf, target, Path(job.cwd) if job.cwd else None, sink)
    await jobs.clear(job.job_id)
    detail = exc.data.get("message") or exc.message
    raise SfFailed(
        f"Scratch org {job.alias} was created but cannot be used ({exc.data.get('name') or 'error'}: {detail}); "
        + ("it was deleted." if deleted else "deleting it failed too: it expires on its own."),
        name=str(exc.data.get("name") or "UnusableOrg"),
        exitCode=exc.data.get("exitCode"),
    ) from None


def _username_from(exc: SfFailed) -> str | None:
    data = exc.data.get("data")
    username = data.get("username") if isinstance(data, dict) else None
    return username if isinstance(username, str) and username else None


def _pending_sentence(job: JobRow, why: str) -> str:
    return mask(
        f"The scratch org {job.alias} is still being created in the Dev Hub (signup {job.job_id}; {why.rstrip('.')})."
        " The sidecar keeps resuming it in the background: the org joins the pool when it is ready, or is deleted "
        "if it cannot be used."
    )


async def _say_warnings(sink: OutputSink | None, envelope: Envelope) -> None:
    """The CLI's words about the signup (a feature the edition lacks, a setting it ignored) go to the pane."""
    if sink is None:
        return
    result = envelope.result if isinstance(envelope.result, dict) else {}
    said = [*envelope.warnings, *(w for w in result.get("warnings") or [] if isinstance(w, str))]
    for warning in dict.fromkeys(said):
        await sink("stderr", mask(f"Warning: {warning}\n"))


def _created(job: JobRow, envelope: Envelope, jobs: CreationJobs) -> CreatedOrg:
    result = envelope.result if isinstance(envelope.result, dict) else {}
    auth = found if isinstance(found := result.get("authFields"), dict) else {}
    username = result.get("username") or auth.get("username")
    if not isinstance(username, str) or not username:
        # The org may well exist: whoever sees the job through next looks for it in `sf org list`.
        raise SignupUnknown("`sf org resume scratch` returned no username", name="UnexpectedOutput")
    return CreatedOrg(
        alias=job.alias,
        username=username,
        sf_org_id=result.get("orgId") or auth.get("orgId"),
        instance_url=auth.get("instanceUrl"),
        login_url=auth.get("loginUrl"),
        expires_at=_expiry(result),
        job_id=job.job_id,
        settle=jobs.settler(job.job_id),
    )


async def register_created(
    pool: PoolService,
    sf: SfClient,
    created: CreatedOrg,
    *,
    cwd: Path | None,
    sink: OutputSink | None,
    lease_to: str | None = None,
    hydration: Hydration | None = None,
    shape: Shape | None = None,
) -> ScratchOrg:
    """Add a just-created org to the pool, recording the shape it was created with (leased to `lease_to` in the
    same transaction; `hydration` HYDRATING keeps it unclaimable until pre-warm has built it).

    Shielded from cancellation: an org that exists in the Dev Hub must never be one the pool does not know (a stop
    that cancels the run releases it afterwards). An org the pool refuses (it filled up meanwhile, or a clash) is
    deleted before the refusal is raised, so it does not hold a Dev Hub slot until it expires. Either way its
    signup's job is forgotten afterwards (`created.settle`).
    """
    with anyio.CancelScope(shield=True):
        try:
            org = await pool.register(
                created.alias,
                expires_at=created.expires_at,
                login_url=created.login_url,
                username=created.username,
                sf_org_id=created.sf_org_id,
                instance_url=created.instance_url,
                source=OrgSource.PROVISIONED,
                lease_to=lease_to,
                hydration=hydration,
                shape=shape,
            )
        except (CapacityReached, AlreadyExists):
            await delete_quietly(sf, created.username if created.job_id else created.alias, cwd, sink)
            await created.settle()
            raise
        await created.settle()
    return org


async def delete_quietly(sf: SfClient, alias: str, cwd: Path | None, sink: OutputSink | None) -> bool:
    """Give back an org the pool could not take (it would otherwise cost a Dev Hub slot until it expires); True
    when the CLI confirmed. `alias` may be the username (the alias of a resumed org may not have been set)."""
    try:
        await sf.run_json(delete_args(alias), sink=sink, cwd=cwd, timeout=300)
    except Exception as exc:  # best effort: the org expires on its own
        log.warning("could not delete scratch org %s after a failed registration: %s", alias, exc)
        return False
    return True
