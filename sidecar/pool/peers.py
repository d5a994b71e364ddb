"""What other sidecars commit to the team pool, heard through the database and told here as if it happened here.

On PostgreSQL the pool's trigger (migration 0011) NOTIFYs every committed change with a small payload: the org's
id, the reason, the writing process (`origin`) and the lease holder concerned. This receiver re-reads the row
(a deleted row's display columns travel in the payload) and announces a `PoolChange` to this sidecar's listeners,
so its client gets the same `org:changed` a local change gives, and its provisioning queue wakes for an org freed
elsewhere. A payload of this process's own commit is skipped: those were announced already, once.

The agent of a change is named only when the lease holder is this instance: an agent id means something on its
own machine only, so another machine's `agent-1` must never read as this one's. When a peer reaps this instance's
lease (it could not beat: its database connection was down), the agent named is this instance's, and its run or
`sf:run` commands against that org stop as for any other end of their lease.

After the listener reconnects it cannot know what it missed: `resynced` tells its listeners (one `org:changed` of
reason `resync`, org null, with the status re-read) and the client re-reads the list. One thing it must not miss:
a lease of this instance's that ended meanwhile (a peer reaped it while this sidecar could not beat, or expired or
removed it). The receiver remembers this instance's leases as its changes go by, and on resync announces each one
that is gone, with its agent, so a run or `sf:run` still using that org stops instead of sharing it with the next
agent.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from sidecar.errors import NotFound
from sidecar.events import Listeners
from sidecar.pool.models import ChangeReason, OrgStatus, PoolStatus, ScratchOrg
from sidecar.pool.service import PoolChange, PoolService
from sidecar.storage.rows import to_model

log = logging.getLogger(__name__)

# The channel migration 0011's trigger notifies on.
POOL_CHANNEL = "sweatshop_pool"


class PeerChanges:
    def __init__(self, pool: PoolService, origin: str) -> None:
        self._pool = pool
        self._origin = origin  # this process's id in payloads (PostgresDatabase.origin)
        self.resynced: Listeners[PoolStatus] = Listeners("pool resync")
        # This instance's leases as last heard: agent id -> its org then.
        self._mine: dict[str, ScratchOrg] = {}
        pool.subscribe(self._track)

    async def _track(self, change: PoolChange) -> None:
        """Keep `_mine` current from every change this sidecar hears (its own, and peers' naming its agents)."""
        org = change.org
        if org.status is OrgStatus.LEASED and change.agent_id is not None and org.assigned_agent_id == change.agent_id:
            self._mine[change.agent_id] = org
            return
        if org.status is not OrgStatus.LEASED or change.reason is ChangeReason.REMOVED:
            for agent, held in list(self._mine.items()):
                if held.id == org.id:
                    del self._mine[agent]

    async def received(self, payload: dict[str, Any]) -> None:
        """One payload of the pool's channel (see the module docstring)."""
        if payload.get("origin") == self._origin:
            return
        try:
            reason = ChangeReason(str(payload.get("reason")))
        except ValueError:
            log.warning("ignored a pool notification with reason %r", payload.get("reason"))
            return
        org = await self._org(payload, reason)
        if org is None:
            return  # removed again since: its removal has its own notification
        mine = payload.get("holder") == self._pool.holder.instance_id
        agent = payload.get("agent") if mine and isinstance(payload.get("agent"), str) else None
        await self._pool.announce_committed([PoolChange(reason, org, agent)])

    async def _org(self, payload: dict[str, Any], reason: ChangeReason) -> ScratchOrg | None:
        org_id = payload.get("id")
        if not isinstance(org_id, str):
            return None
        if reason is ChangeReason.REMOVED:
            try:
                return to_model(ScratchOrg, payload.get("org") or {})
            except ValidationError:
                log.warning("ignored a removal notification without a readable org")
                return None
        try:
            return await self._pool.get(org_id)
        except NotFound:
            return None

    async def resync(self) -> None:
        """After a reconnection: this instance's leases that ended meanwhile, then one `resync` for the rest."""
        ended: list[PoolChange] = []
        for agent, known in list(self._mine.items()):
            lease = await self._pool.lease_of(agent)
            if lease is not None and lease.id == known.id:
                continue
            try:
                org = await self._pool.get(known.id)
            except NotFound:
                ended.append(PoolChange(ChangeReason.REMOVED, known, agent))
                continue
            if org.status is OrgStatus.LEASED and org.assigned_agent_id == agent and lease is None:
                continue  # still its lease, only past its expiry: the expiry sweep announces that
            reason = ChangeReason.EXPIRED if org.status is OrgStatus.EXPIRED else ChangeReason.REAPED
            ended.append(PoolChange(reason, org, agent))
            del self._mine[agent]  # the org may be leased again (by a peer's agent): not through _track
        await self._pool.announce_committed(ended)
        await self.resynced.publish(await self._pool.status())
