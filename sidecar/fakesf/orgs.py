"""Orgs as the CLI knows them: lookup by alias or username, expiry, and the entries `sf org list` prints.

The state file may describe an org with only an alias; every field it leaves out is derived from what it gives
(stable across invocations), so `org list`, `org open` and `org delete` agree on one org id and username.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from . import ids
from .errors import FakeSfError, domain_not_found, named_org_not_found, no_default_env

API_VERSION = "62.0"


def today() -> dt.date:
    """Today's date in UTC, the calendar scratch org expiration dates are in."""
    return dt.datetime.now(dt.UTC).date()


def iso_now() -> str:
    """A timestamp like the Salesforce APIs return (`2026-01-31T12:00:00.000+0000`)."""
    now = dt.datetime.now(dt.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000"


def _seed(org: dict[str, Any]) -> str:
    return str(org.get("username") or org.get("alias") or org.get("orgId") or "org")


def view(org: dict[str, Any], hub: str | None = None) -> dict[str, Any]:
    """The org with every field filled in: given values win, the rest are derived from its alias or username."""
    seed = _seed(org)
    username = org.get("username") or f"test-{ids.stable_slug(seed, 12)}@example.com"
    instance = org.get("instanceUrl") or f"https://fake-{ids.stable_slug(seed, 8)}-dev-ed.scratch.my.salesforce.com"
    expiration = str(org.get("expirationDate") or (today() + dt.timedelta(days=7)).isoformat())[:10]
    created = org.get("createdDate") or _created_from(expiration)
    full = dict(org)
    full.update(
        {
            "alias": org.get("alias"),
            "username": username,
            "orgId": org.get("orgId") or ids.stable_id("00D", seed),
            "instanceUrl": instance,
            "loginUrl": org.get("loginUrl") or instance,
            "expirationDate": expiration,
            "status": org.get("status") or "Active",
            "createdDate": created,
            "devHubUsername": org.get("devHubUsername") or hub,
            "edition": org.get("edition") or "Developer",
            "orgName": org.get("orgName") or "Fake Company",
        }
    )
    full["isExpired"] = is_expired(full)
    return full


def _created_from(expiration: str) -> str:
    """A stable creation time for orgs the state file gives without one: a week before they expire."""
    try:
        day = dt.date.fromisoformat(expiration) - dt.timedelta(days=7)
    except ValueError:
        day = today()
    return f"{day.isoformat()}T00:00:00.000+0000"


def is_expired(org: dict[str, Any]) -> bool:
    """An explicit `isExpired` wins; else an expiration date before today, or status "Expired", means expired."""
    if "isExpired" in org and org["isExpired"] is not None:
        return bool(org["isExpired"])
    if str(org.get("status") or "") == "Expired":
        return True
    try:
        return dt.date.fromisoformat(str(org.get("expirationDate"))[:10]) < today()
    except ValueError:
        return False


def hub_view(hub: str) -> dict[str, Any]:
    """The authorized Dev Hub as an org (it can be a --target-org, e.g. for `org list limits`)."""
    return {
        "alias": None,
        "username": hub,
        "orgId": ids.stable_id("00D", "hub:" + hub),
        "instanceUrl": f"https://fake-hub-{ids.stable_slug(hub, 6)}.my.salesforce.com",
        "loginUrl": "https://login.salesforce.com",
        "status": "Active",
        "isExpired": False,
        "isDevHub": True,
    }


def find(state: dict[str, Any], ident: str) -> tuple[int | None, dict[str, Any]] | None:
    """Find an org by alias or username: (index in state["orgs"] or None for the hub, full view)."""
    hub = state.get("devHub")
    for index, org in enumerate(state.get("orgs") or []):
        full = view(org, hub)
        if ident in (full.get("alias"), full.get("username")):
            return index, full
    if hub and ident == hub:
        return None, hub_view(hub)
    return None


def resolve_target(
    state: dict[str, Any], ident: str | None, *, parse_style: bool = True, allow_inactive: bool = False
) -> tuple[int | None, dict[str, Any]]:
    """The org a --target-org value names, or the error the real CLI gives.

    Unknown: NamedOrgNotFoundError (exit 2 while parsing flags, exit 1 for commands that resolve it late).
    Expired or deleted: DomainNotFoundError (exit 2), unless `allow_inactive` (deleting an expired org works).
    No value: the default org (`defaultOrg` in the state), else NoDefaultEnvError.
    """
    if not ident:
        ident = state.get("defaultOrg")
        if not ident:
            raise no_default_env()
    found = find(state, ident)
    if found is None:
        raise named_org_not_found(ident, "target-org" if parse_style else None)
    index, org = found
    if not allow_inactive and (org.get("isExpired") or org.get("status") in ("Deleted", "Expired")):
        raise domain_not_found()
    return index, org


def list_entry(org: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """One `result.scratchOrgs[]` entry of `sf org list --json` (secrets redacted as the CLI now does)."""
    default = state.get("defaultOrg")
    is_default = bool(default) and default in (org.get("alias"), org.get("username"))
    entry: dict[str, Any] = {
        "accessToken": "[REDACTED]",
        "instanceUrl": org["instanceUrl"],
        "orgId": org["orgId"],
        "username": org["username"],
        "loginUrl": org["loginUrl"],
        "clientId": "PlatformCLI",
        "isDevHub": False,
        "instanceApiVersion": API_VERSION,
        "instanceApiVersionLastRetrieved": org["createdDate"],
        "devHubUsername": org["devHubUsername"],
        "created": org["createdDate"],
        "expirationDate": org["expirationDate"],
        "createdOrgInstance": "CS" + str(sum(map(ord, org["orgId"])) % 200),
        "isScratch": True,
        "isSandbox": False,
        "tracksSource": True,
        "name": org["orgName"],
        "instanceName": "CS" + str(sum(map(ord, org["orgId"])) % 200),
        "namespacePrefix": None,
        "isDefaultDevHubUsername": False,
        "isDefaultUsername": is_default,
        "lastUsed": org.get("lastUsed") or org["createdDate"],
        "attributes": {"type": "ScratchOrgInfo"},
        "orgName": org["orgName"],
        "status": org["status"],
        "createdBy": org["devHubUsername"] or "",
        "createdDate": org["createdDate"],
        "devHubOrgId": ids.stable_id("00D", "hub:" + str(org["devHubUsername"])),
        "edition": org["edition"],
        "signupUsername": org["username"],
        "isExpired": org["isExpired"],
    }
    if org.get("alias"):
        entry["alias"] = org["alias"]
    if is_default:
        entry["defaultMarker"] = "(U)"
    return entry


def hub_entry(hub: str) -> dict[str, Any]:
    """The Dev Hub's entry in `devHubs` and `nonScratchOrgs`."""
    org = hub_view(hub)
    return {
        "accessToken": "[REDACTED]",
        "instanceUrl": org["instanceUrl"],
        "orgId": org["orgId"],
        "username": hub,
        "loginUrl": org["loginUrl"],
        "clientId": "PlatformCLI",
        "isDevHub": True,
        "instanceApiVersion": API_VERSION,
        "isScratch": False,
        "isSandbox": False,
        "isDefaultDevHubUsername": True,
        "isDefaultUsername": False,
        "connectedStatus": "Connected",
        "defaultMarker": "(D)",
    }


def reject_non_scratch(org: dict[str, Any]) -> None:
    """`org delete scratch` and `org create user` work on scratch orgs only."""
    if org.get("isDevHub"):
        raise FakeSfError("NotScratchOrgError", f"The org {org['username']} is not a scratch org.", 1)
