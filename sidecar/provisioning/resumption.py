"""Seeing scratch org creations through in the background: the signups a run or pre-warm stopped waiting on (past
its time, cancelled) and those a killed sidecar left in the database, resumed at the next start.

Each job is resumed (`sf org resume scratch --job-id`) within orgPool.stepTimeoutMinutes per attempt, then either
registered in the pool as an available org or, if it cannot be used (the pool is full, the alias is taken, a step
after the signup failed), deleted, so no Dev Hub slot leaks; its row goes either way. Until then it holds a slot of
maxOrgs (CapacityGate.hold), as a creation under way does. A job whose signup is still under way is tried again
with backoff until the CLI stops knowing it (its job ids are valid for 24 hours).
"""

from __future__ import annotations

import logging
import os
from datetime import date, timedelta
from pathlib import Path

import anyio

from sidecar.errors import AlreadyExists, CapacityReached, SfFailed
from sidecar.pool.service import PoolService
from sidecar.provisioning.creation import (
    CapacityGate,
    CreatedOrg,
    CreationJobs,
    CreationPending,
    Reservation,
    SignupUnknown,
    definition_shape,
    register_created,
    resume_until,
)
from sidecar.provisioning.creation_store import JobRow
from sidecar.provisioning.masking import mask
from sidecar.settings import SettingsStore
from sidecar.sf.client import SfClient
from sidecar.timeutil import end_of_day

log = logging.getLogger(__name__)

# The CLI resumes a job for 24 hours after its signup; after that it is the Dev Hub's (and org:orphans') business.
JOB_VALID_FOR = timedelta(hours=24)
# Pauses between two attempts at a job still under way: doubling, capped (the first is settable for tests).
RETRY_SECONDS = (float(os.environ.get("SWEATSHOP_RESUME_RETRY_SECONDS", "5")), 300.0)


class CreationResumer:
    def __init__(
        self, jobs: CreationJobs, gate: CapacityGate, pool: PoolService, sf: SfClient, settings: SettingsStore
    ) -> None:
        self._jobs = jobs
        self._gate = gate
        self._pool = pool
        self._sf = sf
        self._settings = settings
        self.resumed = 0
        self.deleted = 0

    async def serve(self) -> None:
        """Take up every job this instance left under way (a sidecar killed mid-creation), then every job handed
        over while this one runs. Each is seen through in its own task; a failing one never stops the others."""
        async with anyio.create_task_group() as tg:
            for job in await self._jobs.pending():
                if not self._gate.holds(job.job_id):  # not one a run of this process is waiting on
                    log.info("resuming scratch org creation %s (org %s) left under way", job.job_id, job.alias)
                    tg.start_soon(self.see_through, job, self._gate.hold(job.job_id))
            while True:
                job, reservation = await self._jobs.next_handed()
                tg.start_soon(self.see_through, job, reservation)

    async def see_through(self, job: JobRow, reservation: Reservation) -> None:
        """Resume until the org is ready, then register it (or delete it); the slot is released at the end."""
        pause = RETRY_SECONDS[0]
        try:
            while True:
                try:
                    if await self._settle_once(job):
                        return
                except CreationPending as exc:
                    log.info("scratch org creation %s still under way: %s", job.job_id, exc.sentence)
                    await self._attempted(job, exc.sentence)
                except SfFailed as exc:  # final: the job is forgotten, and an org that could not be used deleted
                    log.warning("scratch org creation %s of %s ended without an org: %s", job.job_id, job.alias, exc)
                    return
                except Exception as exc:  # the database or a bug: try again later, never lose the job
                    log.exception("resuming scratch org creation %s failed", job.job_id)
                    await self._attempted(job, str(getattr(exc, "message", exc)))
                await anyio.sleep(pause)
                pause = min(pause * 2, RETRY_SECONDS[1])
        finally:
            reservation.release()

    async def _settle_once(self, job: JobRow) -> bool:
        """One attempt; True when the job is settled (registered, deleted, already in the pool, or too old)."""
        known = {o.username for o in await self._pool.list_orgs() if o.username}
        if job.username is not None and job.username in known:
            # Registered just before a kill, its row not yet cleared.
            await self._jobs.clear(job.job_id)
            return True
        if self._jobs.clock() - job.requested_at > JOB_VALID_FOR:
            log.warning(
                "scratch org creation %s (org %s) could not be resumed within %s; forgetting it (see org:orphans)",
                job.job_id,
                job.alias,
                JOB_VALID_FOR,
            )
            await self._jobs.clear(job.job_id)
            return True
        cfg = self._settings.current.org_pool
        deadline = anyio.current_time() + cfg.stepTimeoutMinutes * 60
        try:
            created = await resume_until(
                self._sf, self._jobs, job, deadline=deadline, first_wait=cfg.createWaitMinutes, sink=None
            )
        except SignupUnknown:
            found = await self._authorized(job, cfg.stepTimeoutMinutes * 60)
            if found is None:
                log.warning("scratch org creation %s (org %s) is no longer known to the CLI", job.job_id, job.alias)
                await self._jobs.clear(job.job_id)
                return True
            created = found
        cwd = Path(job.cwd) if job.cwd else None
        try:
            # The shape comes from the definition the signup was made from, which every job keeps.
            shape = definition_shape(Path(job.definition_file), cfg)
            org = await register_created(self._pool, self._sf, created, cwd=cwd, sink=None, shape=shape)
        except (CapacityReached, AlreadyExists) as exc:
            self.deleted += 1
            log.warning("resumed scratch org %s could not join the pool and was deleted: %s", job.alias, exc)
            return True
        self.resumed += 1
        log.info("resumed scratch org creation %s: org %s is in the pool", job.job_id, org.alias)
        return True

    async def _authorized(self, job: JobRow, timeout: float) -> CreatedOrg | None:  # noqa: ASYNC109 - the step's budget
        """The job's org among the CLI's authorized scratch orgs: a resume that finished while nobody read its
        answer (its sidecar was killed) leaves the org there and the job gone from the CLI's cache."""
        if job.username is None:
            return None
        listed = await self._sf.org_list(timeout)
        entries = listed.get("scratchOrgs") if isinstance(listed, dict) else None
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and entry.get("username") == job.username:
                expires = entry.get("expirationDate")
                try:
                    expires_at = end_of_day(date.fromisoformat(str(expires)[:10])) if expires else None
                except ValueError:
                    expires_at = None
                return CreatedOrg(
                    alias=job.alias,
                    username=job.username,
                    sf_org_id=entry.get("orgId"),
                    instance_url=entry.get("instanceUrl"),
                    login_url=entry.get("loginUrl"),
                    expires_at=expires_at,
                    job_id=job.job_id,
                    settle=self._jobs.settler(job.job_id),
                )
        return None

    async def _attempted(self, job: JobRow, why: str) -> None:
        try:
            await self._jobs.attempted(job.job_id, mask(why))
        except Exception:  # the count is for people; the job itself is still recorded
            log.exception("could not record a resume attempt of %s", job.job_id)
