"""Pre-warm: keep the pool topped up to maxOrgs with ready orgs, so a claim finds one instead of waiting minutes.

Active only with `orgPool.preWarm: true` and `orgPool.projectDir` (the repository whose scratch definition to use);
the setting is re-read on every round, so turning it on or off needs no restart. One creation at a time, each
inside the same capacity reservation as the pipeline's. With `orgPool.devHub` set, the Dev Hub's
`ActiveScratchOrgs` and `DailyScratchOrgs` are checked first (`sf org list limits`). It stands back while agents
wait in the provisioning queue: the queue's head creates its own org, and one created here would only race it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable

import anyio

from sidecar.errors import AlreadyExists, CapacityReached, SfFailed
from sidecar.pool.models import Hydration
from sidecar.pool.service import PoolService
from sidecar.provisioning.creation import (
    CapacityGate,
    DevHubLimit,
    create_scratch_org,
    definition_shape,
    register_created,
)
from sidecar.provisioning.devhub import DevHubLimits
from sidecar.provisioning.hydration import hydrate
from sidecar.provisioning.masking import mask
from sidecar.provisioning.paths import check_directory, inside
from sidecar.settings import OrgPoolSettings, SettingsStore
from sidecar.sf.client import SfClient

log = logging.getLogger(__name__)

FAILURE_BACKOFF_SECONDS = (30.0, 15 * 60.0)


class PreWarmer:
    def __init__(
        self,
        pool: PoolService,
        sf: SfClient,
        gate: CapacityGate,
        settings: SettingsStore,
        queue_length: Callable[[], Awaitable[int]],
        hub: DevHubLimits,
    ) -> None:
        self._hub = hub
        self._pool = pool
        self._sf = sf
        self._gate = gate
        self._settings = settings
        self._queue_length = queue_length
        self._wake = anyio.Event()
        self._failures = 0
        self.created = 0
        self.hydrated = 0
        self.last_problem: str | None = None

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake = anyio.Event()
            cfg = self._settings.current.org_pool
            pause: float = cfg.refreshIntervalSeconds
            if cfg.preWarm and cfg.projectDir:
                try:
                    if await self.top_up_once(cfg):
                        self._failures = 0
                        continue  # room for more: the next one at once
                except Exception as exc:  # anything: log, back off, try again later
                    self._failures += 1
                    self.last_problem = mask(str(getattr(exc, "message", exc)))
                    pause = min(FAILURE_BACKOFF_SECONDS[0] * 2 ** (self._failures - 1), FAILURE_BACKOFF_SECONDS[1])
                    log.warning("pre-warm: %s (next try in %.0f s)", self.last_problem, pause)
                    with anyio.move_on_after(pause):  # a failure backs off even when the pool keeps changing
                        await anyio.sleep(pause)
                    continue
            with anyio.move_on_after(pause):
                await self._wake.wait()

    async def top_up_once(self, cfg: OrgPoolSettings) -> bool:
        """Create one available org if there is room; True when one was created."""
        if await self._queue_length():
            return False
        assert cfg.projectDir is not None
        project = check_directory(cfg.projectDir, "orgPool.projectDir")
        definition = inside(project, cfg.scratchDefPath, "scratchDefPath")
        if await self._gate.used() >= self._pool.limits.max_orgs:
            return False
        full = await self._hub.no_room()
        if full is not None:
            raise SfFailed(f"{full}; pre-warm waits", name="LIMIT")
        reservation = await self._gate.reserve()
        if reservation is None:
            return False
        alias = "prewarm-" + uuid.uuid4().hex[:8]
        try:
            try:
                created = await create_scratch_org(
                    self._sf,
                    cfg,
                    alias=alias,
                    definition_file=definition,
                    duration_days=self._pool.limits.duration_days(),
                    cwd=project,
                    sink=None,
                    timeout=cfg.stepTimeoutMinutes * 60,
                )
            except DevHubLimit as exc:
                raise SfFailed(f"the Dev Hub refused a pre-warm org: {exc.message}", name="LIMIT_EXCEEDED") from None
            try:
                org = await register_created(
                    self._pool,
                    self._sf,
                    created,
                    cwd=project,
                    sink=None,
                    hydration=Hydration.HYDRATING,
                    shape=definition_shape(definition, cfg),
                )
            except (CapacityReached, AlreadyExists):
                return False
        finally:
            self._hub.forget()
            reservation.release()
        self.created += 1
        if not await hydrate(self._pool, self._sf, self._gate, cfg, org, project):
            raise SfFailed(f"the hydration of pre-warm org {alias} failed; it was deleted", name="HYDRATION")
        self.hydrated += 1
        log.info("pre-warm: created and hydrated available org %s", alias)
        return True
