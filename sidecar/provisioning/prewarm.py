"""Pre-warm: keep each configured shape topped up with ready orgs, so a claim finds one instead of waiting minutes.

What to keep warm is `orgPool.prewarm`, a list of `{projectDir, scratchDefPath?, count}`: `count` unleased orgs of
the shape of that definition (sidecar/pool/shapes.py), created from `projectDir` and hydrated from its HEAD. When the
list is empty, `orgPool.preWarm: true` + `orgPool.projectDir` are the shorthand for one entry of `maxOrgs` orgs from
`orgPool.scratchDefPath`, as before shapes. Entries whose definitions have the same shape are one target (their
counts add up; the first entry's project creates).

Each round does one thing, so the settings (re-read every round) and the pool's state are fresh for each decision:
1. Replace expiring orgs: an unleased org of a configured shape within `minRemainingHours` of expiry is claimed by
   nobody. Once its shape has its count of claimable orgs again (the replacement created first), it is taken out of
   the pool (`PoolService.remove`: deleted in the Dev Hub first when `orgPool.deleteOnRemove`, else only forgotten).
   When the pool is full, so that no replacement can be created, the expiring org goes first: it serves nobody and
   holds the slot the replacement needs.
2. Otherwise create one org, for the shape with the fewest available orgs (ties: the order of the list), inside the
   same capacity reservation as the pipeline's, so the total never exceeds capacity. Never while agents wait in the
   provisioning queue (the queue's head creates its own org, and one created here would only race it), nor when the
   Dev Hub reports no room (`sf org list limits`, see devhub.py).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path

import anyio

from sidecar.errors import AlreadyExists, CapacityReached, NotFound, OrgLeased, SfFailed, SidecarError
from sidecar.pool.models import Hydration, ScratchOrg
from sidecar.pool.service import PoolService
from sidecar.pool.shapes import DefinitionError, Shape, shape_of_file
from sidecar.provisioning.creation import (
    CapacityGate,
    CreationPending,
    DevHubLimit,
    create_scratch_org,
    register_created,
)
from sidecar.provisioning.devhub import DevHubLimits
from sidecar.provisioning.hydration import hydrate, rehydrate_stale
from sidecar.provisioning.masking import mask
from sidecar.provisioning.paths import check_directory, inside
from sidecar.settings import OrgPoolSettings, PrewarmEntry, SettingsStore
from sidecar.sf.client import SfClient

log = logging.getLogger(__name__)

FAILURE_BACKOFF_SECONDS = (30.0, 15 * 60.0)


@dataclass(frozen=True)
class Target:
    """One shape to keep warm: where its orgs come from and how many unleased ones to keep."""

    project: Path
    definition: Path
    shape: Shape
    count: int
    # The settings that create and hydrate its orgs: orgPool with this entry's scratchDefPath.
    settings: OrgPoolSettings


def configured_entries(cfg: OrgPoolSettings, max_orgs: int) -> list[PrewarmEntry]:
    """`orgPool.prewarm`, or the shorthand's one entry (`preWarm` + `projectDir`: `max_orgs` orgs), or nothing."""
    if cfg.prewarm:
        return list(cfg.prewarm)
    if cfg.preWarm and cfg.projectDir:
        # Built without validation: the shorthand's projectDir is checked where it is used, as it always was.
        return [PrewarmEntry.model_construct(projectDir=cfg.projectDir, scratchDefPath=None, count=max_orgs)]
    return []


def resolve_targets(cfg: OrgPoolSettings, entries: list[PrewarmEntry]) -> tuple[list[Target], list[str]]:
    """The entries as targets, one per shape (same-shape entries add their counts), and a sentence for each entry
    that cannot be used now (a missing directory, a definition that gives no shape): the others still are."""
    by_shape: dict[str, Target] = {}
    problems: list[str] = []
    for index, entry in enumerate(entries):
        # The setting a problem names: the list's entry, or the shorthand's own keys.
        entry_key = f"prewarm[{index}]." if cfg.prewarm else ""
        relative = entry.scratchDefPath or cfg.scratchDefPath
        try:
            project = check_directory(entry.projectDir, f"orgPool.{entry_key}projectDir")
            definition = inside(project, relative, f"{entry_key}scratchDefPath")
            shape = shape_of_file(definition, cfg.devHub)
        except SidecarError as exc:
            problems.append(exc.message)
            continue
        except DefinitionError as exc:
            problems.append(f"orgPool.{entry_key}scratchDefPath: {exc}")
            continue
        known = by_shape.get(shape.hash)
        if known is not None:
            by_shape[shape.hash] = replace(known, count=known.count + entry.count)
            continue
        settings = cfg.model_copy(update={"scratchDefPath": relative})
        by_shape[shape.hash] = Target(project, definition, shape, entry.count, settings)
    return list(by_shape.values()), problems


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
        # Expiring orgs taken out of the pool after (or, in a full pool, before) their replacement.
        self.retired = 0
        self.last_problem: str | None = None

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake = anyio.Event()
            cfg = self._settings.current.org_pool
            pause: float = cfg.refreshIntervalSeconds
            if configured_entries(cfg, self._pool.limits.max_orgs):
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
        """One step towards the targets: retire one expiring org whose replacement is in place, or create one org
        for the shape that lacks the most. True when something changed (the caller goes again at once)."""
        targets, problems = resolve_targets(cfg, configured_entries(cfg, self._pool.limits.max_orgs))
        if problems:
            self._note("; ".join(problems))
            if not targets:
                raise SfFailed(problems[0], name="PREWARM_SETTINGS")
        counts = await self._pool.warm_counts()
        by_shape = {t.shape.hash: t for t in targets}
        expiring = [o for o in await self._pool.expiring_unleased() if o.shape in by_shape]
        for org in expiring:
            assert org.shape is not None
            if counts.get(org.shape, 0) >= by_shape[org.shape].count and await self._retire(org, "replaced"):
                return True
        lacking = sorted(
            (t for t in targets if counts.get(t.shape.hash, 0) < t.count),
            key=lambda t: counts.get(t.shape.hash, 0),  # stable: ties keep the order of the list
        )
        if await self._queue_length():  # agents waiting come first: no creation, no org taken for re-hydration
            return False
        for target in targets:  # orgs of each shape stay close to their project's HEAD (rehydrateAfterCommits)
            if await rehydrate_stale(
                self._pool, self._sf, self._gate, target.settings, target.project, shape=target.shape.hash
            ):
                return True
        if not lacking:
            return False
        if await self._gate.used() >= self._pool.limits.max_orgs:
            # Full: an expiring org claims a slot and serves nobody; it makes room for its replacement.
            return bool(expiring) and await self._retire(expiring[0], "making room for its replacement")
        full = await self._hub.no_room()
        if full is not None:
            raise SfFailed(f"{full}; pre-warm waits", name="LIMIT")
        return await self._create(lacking[0])

    async def _create(self, target: Target) -> bool:
        reservation = await self._gate.reserve()
        if reservation is None:
            return False
        cfg = target.settings
        alias = "prewarm-" + uuid.uuid4().hex[:8]
        try:
            try:
                created = await create_scratch_org(
                    self._sf,
                    cfg,
                    alias=alias,
                    definition_file=target.definition,
                    duration_days=self._pool.limits.duration_days(),
                    cwd=target.project,
                    sink=None,
                    timeout=cfg.stepTimeoutMinutes * 60,
                    reservation=reservation,
                )
            except CreationPending:  # seen through in the background (resumption.py)
                return False
            except DevHubLimit as exc:
                raise SfFailed(f"the Dev Hub refused a pre-warm org: {exc.message}", name="LIMIT_EXCEEDED") from None
            try:
                org = await register_created(
                    self._pool,
                    self._sf,
                    created,
                    cwd=target.project,
                    sink=None,
                    hydration=Hydration.HYDRATING,
                    shape=target.shape,
                )
            except (CapacityReached, AlreadyExists):
                return False
        finally:
            self._hub.forget()
            reservation.release()
        self.created += 1
        if not await hydrate(self._pool, self._sf, self._gate, cfg, org, target.project):
            raise SfFailed(f"the hydration of pre-warm org {alias} failed; it was deleted", name="HYDRATION")
        self.hydrated += 1
        log.info("pre-warm: created and hydrated available org %s (%s)", alias, target.shape.definition_name)
        return True

    async def _retire(self, org: ScratchOrg, why: str) -> bool:
        """Take an expiring org out of the pool by the pool's own rules (deleted in the Dev Hub first when
        orgPool.deleteOnRemove); True when it went. A failed deletion leaves it in the pool, to try again later."""
        try:
            await self._pool.remove(org.id)
        except (NotFound, OrgLeased):
            return False  # gone or leased meanwhile: nothing to do
        except SidecarError as exc:
            self._note(f"expiring org {org.alias} could not be removed: {exc.message}")
            return False
        self.retired += 1
        log.info("pre-warm: expiring org %s removed from the pool (%s)", org.alias, why)
        return True

    def _note(self, problem: str) -> None:
        """Remember a problem; log it when it is new (a round runs every refresh: the same sentence once)."""
        problem = mask(problem)
        if problem != self.last_problem:
            log.warning("pre-warm: %s", problem)
        self.last_problem = problem
