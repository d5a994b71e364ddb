"""The Dev Hub's room for new scratch orgs, asked before a creation is attempted, cached for a minute.

A creation takes minutes and a Dev Hub out of `ActiveScratchOrgs` or `DailyScratchOrgs` refuses it only at the
end of the signup; asking `sf org list limits --target-org <devHub> --json` first (about 2 s) lets provisioning
queue the request at once and pre-warm wait, with the reason. The answer is cached for CACHE_SECONDS and dropped
after every creation attempt (each one changes the counts). Without `orgPool.devHub` the CLI's default hub is
used for creations and nothing is asked: `org:limits` then says which setting to set.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import anyio

from sidecar.errors import SfFailed
from sidecar.pool.models import ALIAS_PATTERN
from sidecar.settings import SettingsStore
from sidecar.sf.client import SfClient
from sidecar.timeutil import utcnow
from sidecar.wiremodel import WireModel

CACHE_SECONDS = 60.0
LIMITS_TIMEOUT_SECONDS = 120.0
ACTIVE = "ActiveScratchOrgs"
DAILY = "DailyScratchOrgs"
ACTIVE_QUERY = "SELECT Id, SignupUsername, ScratchOrg, ExpirationDate, CreatedDate FROM ActiveScratchOrg"


class LimitValue(WireModel):
    max: int | None = None
    remaining: int | None = None


class HubLimits(WireModel):
    dev_hub: str
    active_scratch_orgs: LimitValue
    daily_scratch_orgs: LimitValue
    fetched_at: datetime

    def no_room(self) -> str | None:
        """The sentence saying why no org can be created now, or None when the hub has room (or does not say)."""
        if self.active_scratch_orgs.remaining is not None and self.active_scratch_orgs.remaining <= 0:
            return (
                f"The Dev Hub {self.dev_hub} has no active scratch org left ({ACTIVE}: 0 of "
                f"{self.active_scratch_orgs.max} remaining)"
            )
        if self.daily_scratch_orgs.remaining is not None and self.daily_scratch_orgs.remaining <= 0:
            return (
                f"The Dev Hub {self.dev_hub} has no scratch org signup left today ({DAILY}: 0 of "
                f"{self.daily_scratch_orgs.max} remaining)"
            )
        return None


def no_dev_hub() -> SfFailed:
    return SfFailed(
        "orgPool.devHub is not set: set it in settings.json to the Dev Hub's alias or username so the sidecar can"
        " ask it about its scratch orgs",
        name="NoDevHubConfigured",
        setting="orgPool.devHub",
    )


def _value(entries: list[Any], name: str) -> LimitValue:
    for entry in entries:
        if isinstance(entry, dict) and entry.get("name") == name:
            cap, left = entry.get("max"), entry.get("remaining")
            return LimitValue(
                max=cap if isinstance(cap, int) and not isinstance(cap, bool) else None,
                remaining=left if isinstance(left, int) and not isinstance(left, bool) else None,
            )
    return LimitValue()


class DevHubLimits:
    def __init__(self, sf: SfClient, settings: SettingsStore, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._sf = sf
        self._settings = settings
        self._monotonic = monotonic
        self._cached: tuple[float, HubLimits] | None = None
        self._lock = anyio.Lock()

    def hub(self) -> str | None:
        hub = self._settings.current.org_pool.devHub
        if hub and not ALIAS_PATTERN.fullmatch(hub):
            raise SfFailed(f"orgPool.devHub {hub!r} is not a valid alias or username", name="InvalidSetting")
        return hub or None

    async def current(self) -> HubLimits:
        """The hub's scratch org limits (at most CACHE_SECONDS old); SfFailed naming orgPool.devHub when unset."""
        hub = self.hub()
        if hub is None:
            raise no_dev_hub()
        async with self._lock:  # one `sf org list limits` at a time; the others read its answer
            cached = self._cached
            if cached is not None and cached[1].dev_hub == hub and self._monotonic() - cached[0] < CACHE_SECONDS:
                return cached[1]
            envelope = await self._sf.run_json(
                ["org", "list", "limits", "--target-org", hub], timeout=LIMITS_TIMEOUT_SECONDS
            )
            entries: list[Any] = envelope.result if isinstance(envelope.result, list) else []
            limits = HubLimits(
                dev_hub=hub,
                active_scratch_orgs=_value(entries, ACTIVE),
                daily_scratch_orgs=_value(entries, DAILY),
                fetched_at=utcnow(),
            )
            self._cached = (self._monotonic(), limits)
            return limits

    async def no_room(self) -> str | None:
        """Why the hub cannot take a new org now, or None (room, or no orgPool.devHub to ask)."""
        if self.hub() is None:
            return None
        return (await self.current()).no_room()

    async def active_orgs(self) -> object:
        """The result of querying the hub's ActiveScratchOrg rows (never cached: orphans are looked for by hand)."""
        hub = self.hub()
        if hub is None:
            raise no_dev_hub()
        envelope = await self._sf.run_json(
            ["data", "query", "--target-org", hub, "--query", ACTIVE_QUERY], timeout=LIMITS_TIMEOUT_SECONDS
        )
        return envelope.result

    def forget(self) -> None:
        """Drop the cached answer (a creation was attempted: the counts changed)."""
        self._cached = None
