"""`sf org list` and `sf org list limits`: what the sidecar's discovery and pre-warm read."""

from __future__ import annotations

from typing import Any

from . import orgs
from .context import Invocation
from .tables import header, table

SECRETS_WARNING = (
    "Secrets are now hidden from 'sf org list' command output. Use the 'sf org auth' commands instead. As a "
    "temporary workaround, you can set SF_TEMP_SHOW_SECRETS=true to render these secrets. This workaround will be "
    "removed in an upcoming release."
)

DEFAULT_LIMITS = {
    "ActiveScratchOrgs": 40,
    "DailyScratchOrgs": 80,
    "DailyApiRequests": 15000,
    "DailyAsyncApexExecutions": 250000,
    "DataStorageMB": 5,
    "FileStorageMB": 20,
}


def org_list(inv: Invocation) -> int:
    """List the authorized orgs. Without --all only Active scratch orgs are listed, like the real CLI: an expired
    or deleted org disappears (the sidecar cannot tell it from one never authorized here)."""
    inv.sleep(inv.delay)
    state = inv.state
    hub = state.get("devHub")
    scratch: list[dict[str, Any]] = []
    for org in state.get("orgs") or []:
        full = orgs.view(org, hub)
        if not inv.args.get("all") and (full["status"] != "Active" or full["isExpired"]):
            continue
        scratch.append(orgs.list_entry(full, state))
    hubs = [orgs.hub_entry(hub)] if hub else []
    result = {"other": [], "sandboxes": [], "nonScratchOrgs": list(hubs), "devHubs": list(hubs), "scratchOrgs": scratch}
    return inv.finish(result, warnings=[SECRETS_WARNING], human=_human_list(result))


def _human_list(result: dict[str, Any]) -> str:
    if not result["scratchOrgs"] and not result["devHubs"]:
        return (
            "No orgs can be found.\n"
            'Use one of the "org login" commands or "org create scratch" to add or create a scratch org.\n'
        )
    text = ""
    if result["devHubs"]:
        text += header("Dev Hubs") + table(
            [("defaultMarker", ""), ("username", "Username"), ("orgId", "Org ID"), ("connectedStatus", "Status")],
            result["devHubs"],
        )
    if result["scratchOrgs"]:
        rows = [dict(o, expired="expired" if o["isExpired"] else "") for o in result["scratchOrgs"]]
        text += header("Scratch Orgs") + table(
            [
                ("defaultMarker", ""),
                ("alias", "Alias"),
                ("username", "Username"),
                ("orgId", "Org ID"),
                ("status", "Status"),
                ("expirationDate", "Expires"),
                ("expired", ""),
            ],
            rows,
        )
    return text


def computed_limits(state: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Every limit as {max, remaining}: the state's `limits` win; scratch org limits default from the org count."""
    active = sum(
        1
        for org in state.get("orgs") or []
        if (full := orgs.view(org, state.get("devHub")))["status"] == "Active" and not full["isExpired"]
    )
    today = orgs.today().isoformat()
    created_today = sum(1 for org in state.get("orgs") or [] if str(org.get("createdDate", "")).startswith(today))
    used = {"ActiveScratchOrgs": active, "DailyScratchOrgs": created_today, "DailyApiRequests": 10}
    limits = {name: {"max": cap, "remaining": max(0, cap - used.get(name, 0))} for name, cap in DEFAULT_LIMITS.items()}
    for name, given in (state.get("limits") or {}).items():
        if isinstance(given, dict):
            cap = int(given.get("max", limits.get(name, {}).get("max", 0)))
            limits[name] = {"max": cap, "remaining": int(given.get("remaining", cap))}
    return limits


def org_list_limits(inv: Invocation) -> int:
    """`[{name, max, remaining}]`, sorted by name as the API returns them."""
    inv.sleep(inv.delay)
    result = [{"name": name, **values} for name, values in sorted(computed_limits(inv.state).items())]
    return inv.finish(result, human=table([("name", "Name"), ("max", "Max"), ("remaining", "Remaining")], result))
