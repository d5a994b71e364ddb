"""Hydration: pre-warm deploys `projectDir`'s HEAD, its data plan, QA user and permission sets to a new pool org
before any agent asks, so the agent's own run is a delta deploy of its branch.

Pooled orgs are kept close to the branch agents start from: each pre-warm round, an available hydrated org whose
`deployedCommit` is more than `orgPool.rehydrateAfterCommits` commits behind `projectDir`'s HEAD (or is not an
ancestor of it, or is missing from the repository) is taken out of reach (`hydrating` again, only if no claim
took it first) and brought up to HEAD: re-hydrated in place when the plan is a delta (only added or modified
files, the same config), replaced when only a full deploy could do it (a deleted or renamed file, rewritten
history, a changed project or scratch definition): a full deploy cannot remove what the org holds beyond the
branch, so the org is deleted and the top-up creates a new one. One org per round, so the rest of the pool stays
claimable.

The org is registered `hydrating` (in the pool, counted against capacity, never claimable: the claim's SQL excludes
it) and becomes `ready` only when every step ended ok or skipped. A hydration that fails marks the org `failed`
first (still never claimable), then deletes it from the Dev Hub and the pool, so a half-built org is never handed
out even when the deletion itself fails. The steps are the pipeline's own (pipeline.Pipeline.hydrate), so what the
org records is exactly what an agent's run would have recorded.
"""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path

import anyio

from sidecar.errors import NotFound, SfFailed
from sidecar.pool.models import Hydration, OrgStatus, ScratchOrg
from sidecar.pool.service import PoolService
from sidecar.provisioning.creation import CapacityGate, delete_quietly
from sidecar.provisioning.delta import Delta, GitError, SourceState, commits_behind, plan_deploy
from sidecar.provisioning.masking import mask
from sidecar.provisioning.models import ProvisionConfig
from sidecar.provisioning.paths import run_paths
from sidecar.provisioning.pipeline import Pipeline, Succeeded
from sidecar.provisioning.terminal import Terminal
from sidecar.settings import OrgPoolSettings
from sidecar.sf.client import SfClient

log = logging.getLogger(__name__)
AGENT = "prewarm-hydration"


async def _discard(stream: str, text: str) -> None:
    """Hydration has no pane: its command output goes nowhere (failures are logged as sentences)."""


async def _nothing(*_: object) -> None:
    return None


async def _none_waiting() -> int:
    return 0


async def hydrate(
    pool: PoolService, sf: SfClient, gate: CapacityGate, settings: OrgPoolSettings, org: ScratchOrg, project: Path
) -> bool:
    """Build `org` from `project` and mark it ready; on any failure mark it failed and delete it. True when ready."""
    try:
        pipeline = Pipeline(
            sf=sf,
            pool=pool,
            gate=gate,
            settings=settings,
            config=ProvisionConfig(agent_id=AGENT, org_alias=org.alias, branch_name="HEAD", worktree_path=str(project)),
            paths=run_paths(str(project), settings),
            terminal=Terminal(_discard),
            on_step=_nothing,
            waiting_ahead=_none_waiting,
            quiet_deploys=True,  # no pane: a full deploy's progress would go nowhere, its `deploy report` is saved
        )
        started = time.monotonic()
        outcome = await pipeline.hydrate(org)
        if isinstance(outcome.ending, Succeeded):
            await pool.set_hydration(org.id, Hydration.READY)
            log.info("pre-warm: hydrated %s in %.0f ms", org.alias, (time.monotonic() - started) * 1000)
            return True
        problem = "; ".join([*outcome.errors, *outcome.warnings]) or "a step failed"
        log.warning("pre-warm: hydration of %s failed at %s: %s", org.alias, outcome.step, mask(problem))
    except BaseException:
        with anyio.CancelScope(shield=True):
            await discard(pool, sf, org, project)
        raise
    with anyio.CancelScope(shield=True):
        await discard(pool, sf, org, project)
    return False


async def discard(pool: PoolService, sf: SfClient, org: ScratchOrg, project: Path | None) -> None:
    """Keep a half-built org out of reach: marked failed at once, then deleted from the Dev Hub and the pool."""
    try:
        await pool.set_hydration(org.id, Hydration.FAILED)
    except NotFound:
        return
    await delete_quietly(sf, org.alias, project, None)
    with contextlib.suppress(NotFound):
        await pool.remove(org.id, force=True, delete_remote=False)  # deleted just above


async def rehydrate_stale(
    pool: PoolService,
    sf: SfClient,
    gate: CapacityGate,
    settings: OrgPoolSettings,
    project: Path,
    shape: str | None = None,
) -> bool:
    """Bring the first stale available org up to `project`'s HEAD (see the module's docstring); True when one was
    re-hydrated or replaced, so pre-warm goes round again at once. Raises SfFailed when a re-hydration failed (the
    org is deleted, as after any failed hydration), so pre-warm backs off. With `shape`, only orgs of that shape
    (the pre-warm entry made from `project`) are looked at."""
    for org in await pool.list_orgs():
        if org.status is not OrgStatus.AVAILABLE or org.hydration is not Hydration.READY:
            continue
        if shape is not None and org.shape != shape:
            continue  # another pre-warm entry's org: compared with its own project's HEAD
        if org.deployed_commit is None:
            continue  # nothing recorded (git could not tell at its hydration): nothing to compare with
        try:
            behind = await commits_behind(project, org.deployed_commit)
        except GitError as exc:  # projectDir's history cannot be read now: the pool is left as it is
            log.info("pre-warm: cannot tell how far pool org %s is behind: %s", org.alias, exc)
            return False
        if behind is not None and behind <= settings.rehydrateAfterCommits:
            continue
        paths = run_paths(str(project), settings)
        held = await pool.deployment(org.id)
        plan = await plan_deploy(
            paths.worktree, paths.source_dir, paths.scratch_def, SourceState.from_record(held.state)
        )
        taken = await pool.take_for_rehydration(org.id)
        if taken is None:
            continue  # claimed (or changed) meanwhile: it is its agent's now
        how = "unknown" if behind is None else f"{behind} commits behind"
        if not isinstance(plan.decision, Delta):
            log.info("pre-warm: replacing %s (%s HEAD): %s", org.alias, how, plan.decision.reason)
            with anyio.CancelScope(shield=True):
                await discard(pool, sf, taken, project)
            return True
        log.info("pre-warm: re-hydrating %s (%s HEAD) with a delta deploy", org.alias, how)
        if not await hydrate(pool, sf, gate, settings, taken, project):
            raise SfFailed(f"the re-hydration of pool org {org.alias} failed; it was deleted", name="HYDRATION")
        return True
    return False
