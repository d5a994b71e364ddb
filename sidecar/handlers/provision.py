"""Provisioning channels: `agent:provision`, the queue, `sf:run`, and the terminal/status notifications."""

from __future__ import annotations

from sidecar.errors import ErrorCode as E
from sidecar.handlers.notifications import provisioning_notifications
from sidecar.pool.models import ScratchOrg
from sidecar.pool.orphans import OrphanOrg
from sidecar.provisioning.devhub import HubLimits
from sidecar.provisioning.models import (
    LoginUrl,
    ProvisionConfig,
    ProvisionResult,
    QueueEntry,
    RunRecord,
    SfRunParams,
    SfRunResult,
)
from sidecar.provisioning.service import ProvisioningService
from sidecar.provisioning.sfrun import SfRunner
from sidecar.rpc import NoParams, rpc_method
from sidecar.wiremodel import StrictStr, WireModel

# The wire names and shapes of provisioning's notifications live in notifications.py; wire.py reads them here.
NOTIFICATIONS = provisioning_notifications()


class AgentParams(WireModel):
    agent_id: StrictStr


class AdoptParams(WireModel):
    username: StrictStr
    alias: StrictStr | None = None


class ProvisionHandlers:
    def __init__(self, service: ProvisioningService, runner: SfRunner) -> None:
        self._service = service
        self._runner = runner

    @rpc_method(
        "agent:provision",
        result=ProvisionResult,
        single_object=True,
        errors=[E.INVALID_PARAMS, E.ACCESS_DENIED, E.ALREADY_EXISTS],
    )
    async def provision(self, params: ProvisionConfig) -> ProvisionResult:
        """Get the agent's worktree into a scratch org and return a frontdoor login URL; queued when no org is free."""
        return await self._service.provision(params)

    @rpc_method("provision:queue", result=list[QueueEntry])
    async def queue(self, params: NoParams) -> list[QueueEntry]:
        """The agents waiting for an org, head first."""
        return await self._service.queue()

    @rpc_method("provision:runs", result=list[RunRecord])
    async def runs(self, params: NoParams) -> list[RunRecord]:
        """The latest provisioning run of each agent, newest first (interrupted ones included)."""
        return await self._service.runs()

    @rpc_method(
        "agent:loginUrl",
        result=LoginUrl,
        errors=[E.INVALID_PARAMS, E.ACCESS_DENIED, E.SF_UNAVAILABLE, E.SF_FAILED, E.TIMEOUT],
    )
    async def login_url(self, params: AgentParams) -> LoginUrl:
        """A fresh single-use frontdoor URL for the agent's own org (after a queued run finished by itself)."""
        return await self._service.login_url(params.agent_id)

    @rpc_method("org:limits", result=HubLimits, errors=[E.SF_FAILED, E.SF_UNAVAILABLE, E.TIMEOUT])
    async def limits(self, params: NoParams) -> HubLimits:
        """The Dev Hub's ActiveScratchOrgs and DailyScratchOrgs (max, remaining), cached for a minute."""
        return await self._service.hub_limits_now()

    @rpc_method("org:orphans", result=list[OrphanOrg], errors=[E.SF_FAILED, E.SF_UNAVAILABLE, E.TIMEOUT])
    async def orphans(self, params: NoParams) -> list[OrphanOrg]:
        """The Dev Hub's active scratch orgs (ActiveScratchOrg) that the pool does not know."""
        return await self._service.orphans()

    @rpc_method(
        "org:adopt",
        result=ScratchOrg,
        errors=[E.INVALID_PARAMS, E.NOT_FOUND, E.ALREADY_EXISTS, E.CAPACITY_REACHED, E.SF_FAILED, E.SF_UNAVAILABLE],
    )
    async def adopt(self, params: AdoptParams) -> ScratchOrg:
        """Register an orphan by its signup username (alias: the given one, else the username), available."""
        return await self._service.adopt(params.username, params.alias)

    @rpc_method(
        "sf:run",
        result=SfRunResult,
        single_object=True,
        errors=[E.INVALID_PARAMS, E.ACCESS_DENIED, E.SF_UNAVAILABLE, E.TIMEOUT, E.CANCELLED, E.ORG_NOT_AUTHORIZED],
    )
    async def sf_run(self, params: SfRunParams) -> SfRunResult:
        """Run `sf <args>` for an agent against its own org only, streamed to its terminal; `{exitCode, result}`."""
        return await self._runner.run(params.agent_id, params.args)
