"""Hydration: pre-warm deploys `projectDir`'s HEAD, its data plan, QA user and permission sets to a new pool org
before any agent asks, so the agent's own run is a delta deploy of its branch.

The org is registered `hydrating` (in the pool, counted against capacity, never claimable: the claim's SQL excludes
it) and becomes `ready` only when every step ended ok or skipped. A hydration that fails marks the org `failed`
first (still never claimable), then deletes it from the Dev Hub and the pool, so a half-built org is never handed
out even when the deletion itself fails. The steps are the pipeline's own (pipeline.Pipeline.hydrate), so what the
org records is exactly what an agent's run would have recorded.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import anyio

from sidecar.errors import NotFound
from sidecar.pool.models import Hydration, ScratchOrg
from sidecar.pool.service import PoolService
from sidecar.provisioning.creation import CapacityGate, delete_quietly
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
        )
        outcome = await pipeline.hydrate(org)
        if isinstance(outcome.ending, Succeeded):
            await pool.set_hydration(org.id, Hydration.READY)
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
