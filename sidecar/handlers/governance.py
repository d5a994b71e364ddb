"""`governance:*` channels: what the signed-in person sees, what operators see, and reapplying a default plan."""

from __future__ import annotations

from collections.abc import Awaitable, Callable


from sidecar.errors import ErrorCode as E
from sidecar.governance.models import Home, Overview, ReapplyOutcome, Session
from sidecar.governance.service import GovernanceChangeReason, GovernanceService
from sidecar.pool.models import PoolStatus
from sidecar.rpc import NoParams, NotificationSpec, rpc_method
from sidecar.wiremodel import StrictStr, WireModel

Notify = Callable[[str, WireModel], Awaitable[None]]
PoolStatusReader = Callable[[], Awaitable[PoolStatus]]


class ReapplyParams(WireModel):
    pool_id: StrictStr


class GovernanceChanged(WireModel):
    reason: GovernanceChangeReason
    session: Session
    status: PoolStatus


NOTIFICATIONS = [
    NotificationSpec(
        "governance:changed",
        GovernanceChanged,
        "After sign-in, sign-out, a catalog change or a reapplied default plan: the session and the pool status"
        " under the limits now in force.",
    ),
]


class GovernanceHandlers:
    def __init__(self, governance: GovernanceService, pool_status: PoolStatusReader, notify: Notify) -> None:
        self._governance = governance
        self._pool_status = pool_status
        self._notify = notify
        governance.subscribe(self._on_change)

    async def _on_change(self, reason: GovernanceChangeReason) -> None:
        await self._notify(
            "governance:changed",
            GovernanceChanged(reason=reason, session=self._governance.session(), status=await self._pool_status()),
        )

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
