"""`governance:*` channels: what the signed-in person sees, what operators see, reapplying a default plan, and the
team capacity of a shared pool."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from sidecar.errors import ErrorCode as E
from sidecar.governance.models import Home, Overview, ReapplyOutcome
from sidecar.governance.service import GovernanceService
from sidecar.handlers.notifications import governance_notifications
from sidecar.pool.models import PoolStatus
from sidecar.pool.service import PoolService
from sidecar.rpc import NoParams, rpc_method
from sidecar.wiremodel import StrictStr, WireModel


class ReapplyParams(WireModel):
    pool_id: StrictStr


class TeamCapacityParams(WireModel):
    max_orgs: Annotated[int, Field(strict=True, ge=0, le=10_000)]


# The wire name and shape of governance's notification live in notifications.py; wire.py reads them from here.
NOTIFICATIONS = governance_notifications()


class GovernanceHandlers:
    def __init__(self, governance: GovernanceService, pool: PoolService | None = None) -> None:
        self._governance = governance
        self._pool = pool

    @rpc_method("governance:home", result=Home, errors=[E.NOT_AUTHENTICATED])
    async def home(self, params: NoParams) -> Home:
        """What the UI shows the signed-in person: `solo` (their pool, its entitlements and scratch orgs, no
        selectors) or `full` (the organizations and workspaces to choose from)."""
        return await self._governance.home()

    @rpc_method("governance:overview", result=Overview, errors=[E.NOT_AUTHENTICATED, E.ACCESS_DENIED])
    async def overview(self, params: NoParams) -> Overview:
        """Operators only: every organization with its members and their roles, workspaces and pools."""
        return await self._governance.overview()

    @rpc_method(
        "governance:reapplyDefaults",
        result=ReapplyOutcome,
        errors=[E.INVALID_PARAMS, E.NOT_AUTHENTICATED, E.ACCESS_DENIED, E.NOT_FOUND],
    )
    async def reapply_defaults(self, params: ReapplyParams) -> ReapplyOutcome:
        """Operators only: put a pool back on its org type's default plan (rank 0), or end its plan when the
        type has none."""
        return await self._governance.reapply_defaults(params.pool_id)

    @rpc_method(
        "governance:setTeamCapacity",
        result=PoolStatus,
        errors=[E.INVALID_PARAMS, E.NOT_AUTHENTICATED, E.ACCESS_DENIED],
    )
    async def set_team_capacity(self, params: TeamCapacityParams) -> PoolStatus:
        """Operators only: the capacity of the pool the team shares (available + leased + creations under way),
        stored in the database for every sidecar; entitlements still narrow it."""
        self._governance.require_operator()
        if self._pool is None:
            raise RuntimeError("setting the team capacity needs the pool")
        return await self._pool.set_team_capacity(params.max_orgs)
