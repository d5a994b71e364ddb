"""`agent:*` lifecycle channels: an agent that finishes or stops gives its org back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sidecar.errors import ErrorCode as E
from sidecar.pool.service import PoolService
from sidecar.rpc import rpc_method
from sidecar.wiremodel import StrictStr, WireModel

StopHook = Callable[[str], Awaitable[None]]


class AgentParams(WireModel):
    agent_id: StrictStr


class Released(WireModel):
    released_org_id: str | None


class AgentHandlers:
    def __init__(self, pool: PoolService, stop_hooks: list[StopHook] | None = None) -> None:
        self._pool = pool
        # Run before the release on agent:stopped (provisioning cancels the agent's run and queue entry).
        self._stop_hooks = stop_hooks or []

    @rpc_method("agent:completed", result=Released, errors=[E.INVALID_PARAMS])
    async def completed(self, params: AgentParams) -> Released:
        """The agent finished its ticket: release its org."""
        return Released(released_org_id=await self._pool.release_agent(params.agent_id))

    @rpc_method("agent:stopped", result=Released, errors=[E.INVALID_PARAMS])
    async def stopped(self, params: AgentParams) -> Released:
        """The agent was stopped: cancel what runs for it, then release its org."""
        for hook in self._stop_hooks:
            await hook(params.agent_id)
        return Released(released_org_id=await self._pool.release_agent(params.agent_id))
