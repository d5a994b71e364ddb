"""Reading `sf org list --json` into the pool's terms; the shapes are the real CLI's (shared/sf-cli-reference)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sidecar.errors import SfFailed
from sidecar.pool.models import DiscoveredOrg
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
