"""Every notification the sidecar sends, in one place: the domain's events mapped to wire names and shapes.

The pool, governance and provisioning publish typed events (`PoolChange`, `GovernanceChangeReason`,
`RunStatusChanged`, `TerminalChunk`) and know nothing of JSON-RPC; this module subscribes to them and is the only
code that names a notification ("org:changed", "governance:changed", "agent:status", "terminal:output",
"org:discovery", "org:expiring"). protocol.md documents each one (tests/rpc/test_protocol_doc.py holds the two
together).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sidecar.events import Listeners
from sidecar.pool.models import ChangeReason, DiscoveryReport, PoolStatus, ScratchOrg, SkippedOrg
from sidecar.pool.service import ExpiryWarning, PoolChange, PoolService, WarningKind
from sidecar.rpc import NotificationSpec
from sidecar.wiremodel import WireModel

if TYPE_CHECKING:
    from sidecar.governance.service import GovernanceChangeReason, GovernanceService
    from sidecar.provisioning.models import ProvisioningEvent

Notify = Callable[[str, WireModel], Awaitable[None]]
PoolStatusReader = Callable[[], Awaitable[PoolStatus]]

ORG_CHANGED = "org:changed"
ORG_DISCOVERY = "org:discovery"
ORG_EXPIRING = "org:expiring"
GOVERNANCE_CHANGED = "governance:changed"
TERMINAL_OUTPUT = "terminal:output"
AGENT_STATUS = "agent:status"


class OrgChanged(WireModel):
    reason: ChangeReason
    # null only for reason `resync` (the sidecar re-read a shared pool after reconnecting: re-read the list).
    org: ScratchOrg | None
    status: PoolStatus
    agent_id: str | None = None


class OrgExpiring(WireModel):
    org: ScratchOrg
    agent_id: str
    expires_at: datetime
    # "early": orgPool.expiryWarningHours before expiry; "final": one hour before.
    warning: WarningKind


class OrgDiscovery(WireModel):
    registered: list[str]
    updated: list[str]
    skipped: list[SkippedOrg]


@functools.cache
def governance_changed_model() -> type[WireModel]:
    """`GovernanceChanged`, built on first use: the governance models take a large share of the import time, and
    the pool's notifications are wired before the first `org:status` is answered, governance's only after."""
    # Pydantic resolves the string annotations below at run time from this frame, not from TYPE_CHECKING.
    from sidecar.governance.models import Session
    from sidecar.governance.service import GovernanceChangeReason  # noqa: F401

    class GovernanceChanged(WireModel):
        reason: GovernanceChangeReason
        session: Session
        status: PoolStatus

    return GovernanceChanged


@functools.cache
def governance_notifications() -> list[NotificationSpec]:
    return [
        NotificationSpec(
            GOVERNANCE_CHANGED,
            governance_changed_model(),
            "After sign-in, sign-out, a catalog change or a reapplied default plan: the session and the pool status"
            " under the limits now in force.",
        ),
    ]


ORG_NOTIFICATIONS = [
    NotificationSpec(ORG_CHANGED, OrgChanged, "After every committed change to the pool."),
    NotificationSpec(
        ORG_DISCOVERY, OrgDiscovery, "After each discovery: what was added, updated and left out, and why."
    ),
    NotificationSpec(
        ORG_EXPIRING,
        OrgExpiring,
        "A leased org expires soon: at orgPool.expiryWarningHours and at 1 hour before, once each.",
    ),
]


@functools.cache
def provisioning_notifications() -> list[NotificationSpec]:
    """Built on first use, as governance's are: the provisioning models load after the first `org:status`."""
    from sidecar.provisioning.models import AgentStatusEvent, TerminalOutput

    return [
        NotificationSpec(
            TERMINAL_OUTPUT,
            TerminalOutput,
            "Output of every `sf` command run for an agent, live, in order within a stream, secrets masked.",
        ),
        NotificationSpec(
            AGENT_STATUS,
            AgentStatusEvent,
            "The agent's provisioning status: PROVISIONING (with the step), QUEUED, QA_READY or ERROR.",
        ),
    ]


class Notifications:
    """Subscribes to the services' events and sends each as its notification through `notify`."""

    def __init__(self, notify: Notify) -> None:
        self._notify = notify

    def watch_pool(self, pool: PoolService) -> None:
        async def changed(change: PoolChange) -> None:
            status = await pool.status()
            await self._notify(
                ORG_CHANGED, OrgChanged(reason=change.reason, org=change.org, status=status, agent_id=change.agent_id)
            )

        pool.subscribe(changed)

        async def expiring(warning: ExpiryWarning) -> None:
            await self._notify(
                ORG_EXPIRING,
                OrgExpiring(
                    org=warning.org, agent_id=warning.agent_id, expires_at=warning.expires_at, warning=warning.kind
                ),
            )

        pool.subscribe_warnings(expiring)

    def watch_resync(self, resynced: Listeners[PoolStatus]) -> None:
        """A shared pool re-read after its listener reconnected (sidecar/pool/peers.py): one `org:changed`
        `resync` with no org, so the client re-reads what it may have missed."""

        async def changed(status: PoolStatus) -> None:
            await self._notify(ORG_CHANGED, OrgChanged(reason=ChangeReason.RESYNC, org=None, status=status))

        resynced.subscribe(changed)

    def watch_governance(self, governance: GovernanceService, pool_status: PoolStatusReader) -> None:
        model: Any = governance_changed_model()

        async def changed(reason: GovernanceChangeReason) -> None:
            await self._notify(
                GOVERNANCE_CHANGED, model(reason=reason, session=governance.session(), status=await pool_status())
            )

        governance.subscribe(changed)

    def watch_provisioning(self, events: Listeners[ProvisioningEvent]) -> None:
        # Imported here, once: provisioning's models load after the first `org:status` (see provisioning_notifications),
        # and terminal:output is the busiest notification, so its handler must not import on every line.
        from sidecar.provisioning.models import AgentStatusEvent, RunStatusChanged, TerminalChunk, TerminalOutput

        async def changed(event: ProvisioningEvent) -> None:
            if isinstance(event, TerminalChunk):
                await self._notify(
                    TERMINAL_OUTPUT, TerminalOutput(agent_id=event.agent_id, stream=event.stream, data=event.text)
                )
            elif isinstance(event, RunStatusChanged):
                await self._notify(
                    AGENT_STATUS,
                    AgentStatusEvent(
                        agent_id=event.agent_id,
                        status=event.status,
                        step=event.step,
                        errors=list(event.errors),
                        warnings=list(event.warnings),
                    ),
                )

        events.subscribe(changed)

    async def discovery(self, report: DiscoveryReport) -> None:
        await self._notify(ORG_DISCOVERY, OrgDiscovery(**report.model_dump()))
