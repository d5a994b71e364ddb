"""`org:*` channels: the scratch-org pool."""

from __future__ import annotations

from datetime import datetime

from sidecar.errors import ErrorCode as E
from sidecar.errors import InvalidParams
from sidecar.handlers.notifications import ORG_NOTIFICATIONS, Notifications
from sidecar.pool.models import DiscoveryReport, PoolStatus, ScratchOrg
from sidecar.pool.service import PoolService, check_shape
from sidecar.pool.shapes import Shape
from sidecar.rpc import NoParams, rpc_method
from sidecar.wiremodel import StrictBool, StrictStr, WireModel


class AgentParams(WireModel):
    agent_id: StrictStr


class ClaimOptions(WireModel):
    shape: StrictStr | None = None


class ClaimParams(WireModel):
    agent_id: StrictStr
    options: ClaimOptions | None = None


class RegisterOptions(WireModel):
    expires_at: datetime | None = None
    login_url: StrictStr | None = None
    shape: StrictStr | None = None
    definition_file: StrictStr | None = None
    definition_name: StrictStr | None = None


class RegisterParams(WireModel):
    alias: StrictStr
    options: RegisterOptions | None = None


class ReleaseParams(WireModel):
    org_id: StrictStr
    agent_id: StrictStr | None = None


class RemoveOptions(WireModel):
    force: StrictBool = False
    delete_remote: StrictBool | None = None


class RemoveParams(WireModel):
    org_id: StrictStr
    options: RemoveOptions | None = None


class CheckAccessParams(WireModel):
    agent_id: StrictStr
    target: StrictStr


# The wire names and shapes of the pool's notifications live in notifications.py; wire.py reads them from here.
NOTIFICATIONS = ORG_NOTIFICATIONS


class OrgHandlers:
    def __init__(self, pool: PoolService, notifications: Notifications) -> None:
        self._pool = pool
        self._notifications = notifications

    @rpc_method("org:list", result=list[ScratchOrg])
    async def list_orgs(self, params: NoParams) -> list[ScratchOrg]:
        """Every org in the pool, oldest first."""
        return await self._pool.list_orgs()

    @rpc_method("org:status", result=PoolStatus)
    async def status(self, params: NoParams) -> PoolStatus:
        """Counts and the indicator the pool badge shows."""
        return await self._pool.status()

    @rpc_method("org:claim", result=ScratchOrg | None, errors=[E.INVALID_PARAMS])
    async def claim(self, params: ClaimParams) -> ScratchOrg | None:
        """Lease an available org to the agent (its current org if it holds one); with {shape}, only one of that
        shape (or unknown, per orgPool.reuseUnknownShapes); null when none is available."""
        return await self._pool.claim(params.agent_id, (params.options or ClaimOptions()).shape)

    @rpc_method("org:release", result=None, errors=[E.NOT_FOUND, E.ACCESS_DENIED])
    async def release(self, params: ReleaseParams) -> None:
        """Return a leased org to the pool; with agentId, only the owning agent may."""
        await self._pool.release(params.org_id, params.agent_id)

    @rpc_method("org:discover", result=list[ScratchOrg], errors=[E.SF_UNAVAILABLE, E.SF_FAILED])
    async def discover(self, params: NoParams) -> list[ScratchOrg]:
        """Reconcile the pool with `sf org list --json`; the whole pool afterwards."""
        report: DiscoveryReport = await self._pool.discover()
        await self._notifications.discovery(report)
        return await self._pool.list_orgs()

    @rpc_method("org:register", result=ScratchOrg, errors=[E.INVALID_PARAMS, E.ALREADY_EXISTS, E.CAPACITY_REACHED])
    async def register(self, params: RegisterParams) -> ScratchOrg:
        """Add an org by alias (available at once); it expires after defaultDurationDays unless expiresAt is given."""
        options = params.options or RegisterOptions()
        if options.shape is not None and options.definition_file is not None:
            raise InvalidParams("give shape or definitionFile, not both", param="definitionFile")
        shape = None
        if options.definition_file is not None:
            shape = self._pool.shape_of(options.definition_file)
        elif options.shape is not None:
            shape = Shape(check_shape(options.shape), options.definition_name)
        return await self._pool.register(
            params.alias, expires_at=options.expires_at, login_url=options.login_url, shape=shape
        )

    @rpc_method("org:remove", result=None, errors=[E.NOT_FOUND, E.ORG_LEASED, E.SF_FAILED, E.SF_UNAVAILABLE])
    async def remove(self, params: RemoveParams) -> None:
        """Take an org out of the pool; with deleteRemote (default orgPool.deleteOnRemove) delete it in the Dev Hub
        first, the row going only once the Dev Hub confirms. A leased one needs force."""
        options = params.options or RemoveOptions()
        await self._pool.remove(params.org_id, force=options.force, delete_remote=options.delete_remote)

    @rpc_method("org:refresh", result=PoolStatus)
    async def refresh(self, params: NoParams) -> PoolStatus:
        """Mark expired orgs now (leases included), send due expiry warnings, then report the status."""
        await self._pool.expire_due()
        await self._pool.warn_expiring()
        return await self._pool.status()

    @rpc_method("org:lease", result=ScratchOrg | None, errors=[E.INVALID_PARAMS])
    async def lease(self, params: AgentParams) -> ScratchOrg | None:
        """The org the agent holds, or null."""
        return await self._pool.lease_of(params.agent_id)

    @rpc_method("org:checkAccess", result=ScratchOrg, errors=[E.ACCESS_DENIED, E.INVALID_PARAMS])
    async def check_access(self, params: CheckAccessParams) -> ScratchOrg:
        """The agent's org when target names it (alias, username, pool id or Salesforce id); else ACCESS_DENIED."""
        return await self._pool.check_access(params.agent_id, params.target)
