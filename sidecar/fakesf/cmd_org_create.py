"""`sf org create scratch`: the Dev Hub checks, its limits, and the org it adds to the state."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

from . import ids, orgs
from .context import Invocation
from .envelopes import write_stderr
from .errors import FakeSfError, failed_validation, named_org_not_found, no_default_dev_hub

ACTIVE_LIMIT_MESSAGE = "The signup request failed because this organization has reached its active scratch org limit"
DAILY_LIMIT_MESSAGE = (
    "The signup request failed because this organization has reached its daily scratch org signup limit"
)


def limit_exceeded(daily: bool) -> FakeSfError:
    """The Dev Hub's refusal: name and code LIMIT_EXCEEDED, exit 1, for both the active and the daily limit."""
    return FakeSfError("LIMIT_EXCEEDED", DAILY_LIMIT_MESSAGE if daily else ACTIVE_LIMIT_MESSAGE, 1)


def org_create_scratch(inv: Invocation) -> int:
    """Create a scratch org: check the hub and its limits, wait the configured delay, record the org."""
    args = inv.args
    if not args.get("definition-file") and not args.get("edition"):
        raise failed_validation(["At least one of the following must be provided: --definition-file, --edition"])
    definition = _read_definition(args.get("definition-file"))
    hub = _resolve_hub(inv.state, args.get("target-dev-hub"))
    if inv.scenario == "no-devhub":
        raise no_default_dev_hub()
    if inv.scenario in ("limit", "daily-limit"):
        raise limit_exceeded(daily=inv.scenario == "daily-limit")
    with inv.store.transaction() as state:
        _reserve_signup(state)

    scratch_org_info_id = ids.new_id("2SR")
    inv.say(f"Creating Scratch Org\nRequest Id: {scratch_org_info_id}")
    wait_seconds = args.get("wait") * 60
    if inv.delay > wait_seconds:
        _stages(inv, wait_seconds)
        write_stderr(f"Resume with sf org resume scratch --job-id {scratch_org_info_id}\n")
        raise FakeSfError("Error", "The scratch org did not complete within your wait time", 69, code="69")
    _stages(inv, inv.delay)
    if inv.scenario == "signup-failed":
        with inv.store.transaction() as state:
            _release_active(state)
        raise FakeSfError(
            "RemoteOrgSignupFailed", "The request to create a scratch org failed with error code: C-1033.", 1
        )

    org = _new_org(args, definition, hub)
    with inv.store.transaction() as state:
        existing = state.setdefault("orgs", [])
        if org.get("alias"):
            for other in existing:  # the real CLI moves an alias to the newest org
                if other.get("alias") == org["alias"]:
                    other.pop("alias", None)
        existing.append(org)
        if args.get("set-default"):
            state["defaultOrg"] = org.get("alias") or org["username"]
        # Scenario: the Dev Hub's words about the signup (unsupported features, settings it ignored).
        warnings = [str(w) for w in state.get("createWarnings") or []]
    result = _result(org, scratch_org_info_id, args.get("duration-days"), definition)
    result["warnings"] = warnings
    human = f"Your scratch org is ready.\nUsername: {org['username']}\nOrg ID: {org['orgId']}\n"
    if org.get("alias"):
        human += f"Alias: {org['alias']}\n"
    return inv.finish(result, human=human)


STAGES = ("Prepare Request", "Send Request", "Wait For Org", "Available", "Authenticate", "Deploy Settings")


def _stages(inv: Invocation, seconds: float) -> None:
    """Spend `seconds` like the real command, printing its stages as they pass in human mode."""
    for stage in STAGES:
        inv.sleep(seconds / len(STAGES))
        inv.say(f"✔ {stage}")


def _read_definition(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FakeSfError("JsonParseError", f"Parse error in file {path} on line {exc.lineno}\n{exc.msg}", 1) from None
    return data if isinstance(data, dict) else {}


def _resolve_hub(state: dict[str, Any], flag_value: str | None) -> str:
    hub = state.get("devHub")
    if flag_value:
        if hub and flag_value == hub:
            return str(hub)
        raise named_org_not_found(flag_value, "target-dev-hub")
    if not hub:
        raise no_default_dev_hub()
    return str(hub)


def _explicit_limit(state: dict[str, Any], name: str) -> dict[str, Any] | None:
    limits = state.get("limits")
    entry = limits.get(name) if isinstance(limits, dict) else None
    return entry if isinstance(entry, dict) and "remaining" in entry else None


def _reserve_signup(state: dict[str, Any]) -> None:
    """Enforce explicit `limits` and count this signup against them (before the wait, as the Dev Hub does)."""
    active = _explicit_limit(state, "ActiveScratchOrgs")
    daily = _explicit_limit(state, "DailyScratchOrgs")
    if active is not None and int(active["remaining"]) <= 0:
        raise limit_exceeded(daily=False)
    if daily is not None and int(daily["remaining"]) <= 0:
        raise limit_exceeded(daily=True)
    for entry in (active, daily):
        if entry is not None:
            entry["remaining"] = int(entry["remaining"]) - 1


def _release_active(state: dict[str, Any]) -> None:
    """A failed signup frees its active slot again (the daily count stays used)."""
    active = _explicit_limit(state, "ActiveScratchOrgs")
    if active is not None:
        cap = int(active.get("max", int(active["remaining"]) + 1))
        active["remaining"] = min(cap, int(active["remaining"]) + 1)


def _new_org(args: Any, definition: dict[str, Any], hub: str) -> dict[str, Any]:
    username = args.get("username") or ids.new_scratch_username()
    org_id = ids.new_id("00D")
    instance = (
        f"https://fake-{ids.random_token(10, 'abcdefghijklmnopqrstuvwxyz0123456789')}-dev-ed.scratch.my.salesforce.com"
    )
    days = int(args.get("duration-days"))
    org: dict[str, Any] = {}
    if args.get("alias"):
        org["alias"] = args.get("alias")
    org.update(
        {
            "username": username,
            "orgId": org_id,
            "instanceUrl": instance,
            "loginUrl": instance,
            "expirationDate": (orgs.today() + dt.timedelta(days=days)).isoformat(),
            "status": "Active",
            "createdDate": orgs.iso_now(),
            "devHubUsername": hub,
            "edition": str(args.get("edition") or definition.get("edition") or "Developer").title(),
            "orgName": str(args.get("name") or definition.get("orgName") or "Fake Company"),
            # The parsed definition the org was created from: tests read it to check which shape went where.
            # (State only: no command prints it, as the real CLI keeps it in the Dev Hub.)
            "definition": definition,
        }
    )
    return org


def _result(org: dict[str, Any], info_id: str, days: int, definition: dict[str, Any]) -> dict[str, Any]:
    instance_name = "CS" + str(sum(map(ord, org["orgId"])) % 200)
    info = {
        "Id": info_id,
        "CreatedDate": org["createdDate"],
        "DurationDays": days,
        "Edition": org["edition"],
        "ExpirationDate": org["expirationDate"],
        "LoginUrl": org["instanceUrl"],
        "OrgName": org["orgName"],
        "ScratchOrg": org["orgId"][:15],
        "SignupEmail": str(definition.get("adminEmail") or "admin@example.com"),
        "SignupInstance": instance_name,
        "SignupUsername": org["username"],
        "Status": "Active",
        "Username": org["username"],
        "AuthCode": ids.random_token(32),
    }
    auth = {
        "accessToken": ids.new_access_token(org["orgId"]),
        "instanceUrl": org["instanceUrl"],
        "orgId": org["orgId"],
        "username": org["username"],
        "loginUrl": org["loginUrl"],
        "clientId": "PlatformCLI",
        "created": str(int(time.time() * 1000)),
        "createdOrgInstance": instance_name,
        "devHubUsername": org["devHubUsername"],
        "expirationDate": org["expirationDate"],
        "instanceApiVersion": orgs.API_VERSION,
        "instanceApiVersionLastRetrieved": org["createdDate"],
        "isDevHub": False,
        "isScratch": True,
        "isSandbox": False,
        "name": org["orgName"],
        "instanceName": instance_name,
        "namespacePrefix": None,
        "tracksSource": True,
    }
    return {
        "username": org["username"],
        "scratchOrgInfo": info,
        "authFields": auth,
        "warnings": [],
        "orgId": org["orgId"],
    }
