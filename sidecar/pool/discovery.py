"""Reading `sf org list --json` into the pool's terms; the shapes are the real CLI's (shared/sf-cli-reference).

Without `--all` the real listing shows only scratch orgs whose status is `Active`: an expired or deleted org
disappears instead of showing `isExpired`. Absence alone is no proof (the list shows only orgs authorized on this
machine), but a pool org that vanished from a successful listing on or after its expiration day is gone.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from sidecar.errors import SfFailed
from sidecar.pool.models import DiscoveredOrg, OrgStatus, ScratchOrg
from sidecar.timeutil import end_of_day


def parse_org_list(result: Any) -> list[DiscoveredOrg]:
    """The scratch orgs of an `org list` result; a shape we do not recognise is SF_FAILED, not a silent empty pool."""
    if not isinstance(result, dict) or not isinstance(result.get("scratchOrgs", []), list):
        raise SfFailed("sf org list returned a result without a scratchOrgs list", name="UnexpectedOutput")
    found = []
    for entry in result.get("scratchOrgs", []):
        if not isinstance(entry, dict) or not isinstance(entry.get("username"), str):
            continue
        expires_at = None
        if isinstance(entry.get("expirationDate"), str):
            try:
                expires_at = end_of_day(date.fromisoformat(entry["expirationDate"][:10]))
            except ValueError:
                expires_at = None
        status = entry.get("status")
        active = (status in (None, "Active")) and not entry.get("isExpired", False)
        found.append(
            DiscoveredOrg(
                alias=entry.get("alias") or None,
                username=entry["username"],
                sf_org_id=entry.get("orgId"),
                instance_url=entry.get("instanceUrl"),
                login_url=entry.get("loginUrl"),
                expires_at=expires_at,
                active=active,
                cli_status=status if isinstance(status, str) else None,
            )
        )
    return found


def vanished_and_due(pool: Iterable[ScratchOrg], found: list[DiscoveredOrg], now: datetime) -> list[ScratchOrg]:
    """Pool orgs a successful listing no longer shows whose expiration day has come: the CLI dropped them because
    they expired. Call it only with the orgs of a listing that succeeded: a failed `org list` is an error, never an
    empty list here. The pool keeps expiry as the end of the expiration day; the org itself may expire any time
    that day, so the day's start is the test."""
    seen = (
        {o.username for o in found} | {o.sf_org_id for o in found if o.sf_org_id} | {o.alias for o in found if o.alias}
    )
    due = []
    for org in pool:
        if org.status is OrgStatus.EXPIRED or org.expires_at is None:
            continue
        if {org.username, org.sf_org_id, org.alias} & seen:
            continue
        if org.expires_at - timedelta(days=1) <= now:
            due.append(org)
    return due
