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
reason `resync`, org null, with the status re-read) and the client re-reads the list.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from sidecar.errors import NotFound
from sidecar.events import Listeners
from sidecar.pool.models import ChangeReason, PoolStatus, ScratchOrg
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
        await self.resynced.publish(await self._pool.status())
