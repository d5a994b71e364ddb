"""The pool's data shapes; `ScratchOrg` and `PoolStatus` are also the wire shapes (camelCase)."""

from __future__ import annotations

import math
import re
from datetime import datetime
from enum import StrEnum
from typing import Literal

from sidecar.wiremodel import WireModel

ALIAS_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,79}$")


class OrgStatus(StrEnum):
    AVAILABLE = "available"
    LEASED = "leased"
    EXPIRED = "expired"


class Hydration(StrEnum):
    """Where a pre-warmed org is in getting the project deployed to it; only `ready` (or none) is claimable."""

    HYDRATING = "hydrating"
    FAILED = "failed"
    READY = "ready"


class OrgSource(StrEnum):
    MANUAL = "manual"
    DISCOVERED = "discovered"
    PROVISIONED = "provisioned"


class ChangeReason(StrEnum):
    REGISTERED = "registered"
    CLAIMED = "claimed"
    RELEASED = "released"
    EXPIRED = "expired"
    REMOVED = "removed"
    DISCOVERED = "discovered"
    # A live peer ended the lease of a sidecar instance that stopped heartbeating (sidecar/pool/instances.py).
    REAPED = "reaped"
    # Not a change: this sidecar listens to the team database again and re-read it (`org` is null).
    RESYNC = "resync"


class ScratchOrg(WireModel):
    id: str
    alias: str
    username: str | None = None
    sf_org_id: str | None = None
    instance_url: str | None = None
    login_url: str | None = None
    status: OrgStatus
    assigned_agent_id: str | None = None
    leased_at: datetime | None = None
    expires_at: datetime | None = None
    created_at: datetime | None = None
    source: OrgSource
    # The commit of the project the org's last successful deploy came from (a re-provision deploys what changed
    # since); None when nothing is recorded, and the next deploy is full.
    deployed_commit: str | None = None
    # Pre-warm's hydration: None (not hydrated), hydrating, failed (never claimed) or ready.
    hydration: Hydration | None = None
    # The machine whose agent holds the lease (orgPool.machineName, default its host name); null when not leased.
    machine_name: str | None = None
    # The hash of the scratch definition and Dev Hub it was created from (sidecar/pool/shapes.py); null: unknown.
    shape: str | None = None
    # The definition file's name, for people (the hash says nothing to them).
    definition_name: str | None = None

    def matches(self, target: str) -> bool:
        """An agent may name its org by any of the four identities a person or the CLI uses."""
        return target in {self.id, self.alias, self.username, self.sf_org_id}


class Indicator(WireModel):
    label: str
    level: Literal["green", "yellow", "red"]


class ShapeCounts(WireModel):
    """One shape's share of the pool (`shape` null: orgs of unknown shape)."""

    shape: str | None = None
    definition_name: str | None = None
    total: int
    available: int
    expiring_soon: int = 0
    leased: int
    expired: int


class PoolStatus(WireModel):
    total: int
    # Claimable: unleased, and more than minRemainingHours left.
    available: int
    leased: int
    expired: int
    max_orgs: int
    indicator: Indicator
    # Unleased and not expired, but within minRemainingHours of expiry: no claim takes them.
    expiring_soon: int = 0
    # Per shape (null: unknown), the same counts; the totals above are their sums.
    by_shape: list[ShapeCounts] = []  # noqa: RUF012 - pydantic copies a default per instance

    @classmethod
    def build(
        cls,
        total: int,
        available: int,
        leased: int,
        expired: int,
        max_orgs: int,
        expiring_soon: int = 0,
        by_shape: list[ShapeCounts] | None = None,
    ) -> PoolStatus:
        level: Literal["green", "yellow", "red"]
        if available == 0:
            level = "red"
        elif available <= max(1, math.ceil(max_orgs / 4)):
            level = "yellow"
        else:
            level = "green"
        return cls(
            total=total,
            available=available,
            leased=leased,
            expired=expired,
            max_orgs=max_orgs,
            indicator=Indicator(label=f"Orgs: {available}/{max_orgs} available", level=level),
            expiring_soon=expiring_soon,
            by_shape=by_shape or [],
        )


class DiscoveredOrg(WireModel):
    """One scratch org as `sf org list --json` reports it, reduced to what the pool keeps."""

    alias: str | None = None
    username: str
    sf_org_id: str | None = None
    instance_url: str | None = None
    login_url: str | None = None
    expires_at: datetime | None = None
    active: bool = True
    cli_status: str | None = None


class SkippedOrg(WireModel):
    alias: str
    reason: str


class DiscoveryReport(WireModel):
    registered: list[str]
    updated: list[str]
    skipped: list[SkippedOrg]
