"""`sf org create user` and `sf org assign permset`: the QA-user steps of provisioning."""

from __future__ import annotations

import json
from typing import Any

from . import ids, orgs
from .context import Invocation
from .errors import FakeSfError
from .tables import header, table

DUPLICATE_PERMSET = "Duplicate PermissionSetAssignment: the permission set is already assigned"


def org_create_user(inv: Invocation) -> int:
    """Create a user: `{orgId, permissionSetAssignments, fields}`; exit 68 when a sub-step (scenario `partial`)
    fails."""
    assert inv.target is not None
    org = inv.target
    orgs.reject_non_scratch(org)
    fields = _user_fields(inv, org)
    inv.sleep(inv.delay)
    username = fields["username"]
    if inv.scenario == "duplicate-username":
        raise _duplicate(username)
    if inv.scenario == "license-limit":
        raise FakeSfError(
            "licenseLimitExceeded", 'There are no available user licenses for the user profile "Standard User".', 1
        )
    with inv.store.transaction() as state:
        taken = state.setdefault("users", [])
        if username in taken:
            raise _duplicate(username)
        taken.append(username)
    permsets = fields.pop("permsets", None)
    assignments = (
        permsets if isinstance(permsets, list) else [p.strip() for p in str(permsets or "").split(",") if p.strip()]
    )
    fields["id"] = ids.new_id("005")
    result = {"orgId": org["orgId"], "permissionSetAssignments": assignments, "fields": fields}
    message = (
        f'Successfully created user "{username}" with ID {fields["id"]} for org {org["orgId"]}.\n'
        f'See more details about this user by running "sf user display -o {username}".'
    )
    if inv.scenario == "partial":
        failures = [
            {"name": "Permission Set Assignment", "message": 'Permission set "QA_Extra" not found in target org.'}
        ]
        human = (
            header("Partial Success")
            + message
            + "\n\n"
            + header("Failures")
            + table([("name", "Action"), ("message", "Error Message")], failures)
        )
        return inv.finish(result, status=68, human=human)
    return inv.finish(result, human=message)


def _duplicate(username: str) -> FakeSfError:
    return FakeSfError(
        "duplicateUsername",
        f'The username "{username}" already exists in this or another Salesforce org. Usernames must be unique '
        "across all Salesforce orgs. Try using the --set-unique-username flag to force a unique username by "
        "appending the org ID.",
        1,
    )


def _user_fields(inv: Invocation, org: dict[str, Any]) -> dict[str, Any]:
    """Defaults, then the definition file, then `key=value` arguments; keys lower-cased as the CLI returns them."""
    fields: dict[str, Any] = {
        "username": f"{ids.random_token(13, '0123456789')}_{org['username']}",
        "email": org["username"],
        "lastname": "User",
        "alias": "user",
        "timezonesidkey": "America/Los_Angeles",
        "localesidkey": "en_US",
        "emailencodingkey": "UTF-8",
        "languagelocalekey": "en_US",
        "profileid": ids.stable_id("00e", org["orgId"]),
    }
    default_username = fields["username"]
    path = inv.args.get("definition-file")
    if path:
        with open(path, encoding="utf-8") as handle:
            try:
                definition = json.load(handle)
            except json.JSONDecodeError as exc:
                raise FakeSfError(
                    "JsonParseError", f"Parse error in file {path} on line {exc.lineno}\n{exc.msg}", 1
                ) from None
        if isinstance(definition, dict):
            fields.update({str(k).lower(): v for k, v in definition.items()})
    for pair in inv.args.positionals:
        key, _, value = pair.partition("=")
        fields[key.lower()] = value
    if inv.args.get("set-unique-username") and fields["username"] != default_username:
        fields["username"] = f"{fields['username']}.{org['orgId'].lower()}"
    return fields


def org_assign_permset(inv: Invocation) -> int:
    """Assign each --name: duplicates and sets listed in `missingPermsets` fail; exit 0 / 68 some / 1 all failed.

    Like the real CLI, both lists name the user (`name`), not the permission set; a failure's message says which
    set and why.
    """
    assert inv.target is not None
    org = inv.target
    names: list[str] = inv.args.get("name")
    users: list[str] = inv.args.get("on-behalf-of") or [org["username"]]
    inv.sleep(inv.delay)
    successes: list[dict[str, str]] = []
    failures: list[dict[str, str]] = []
    with inv.store.transaction() as state:
        missing = set(state.get("missingPermsets") or [])
        assigned = state.setdefault("assignedPermsets", {})
        for user in users:
            keys = [user] if inv.args.get("on-behalf-of") else [k for k in (org.get("alias"), org["username"]) if k]
            for name in names:
                if name in missing:
                    failures.append({"name": user, "message": f'Permission set "{name}" not found in target org.'})
                elif any(name in (assigned.get(k) or []) for k in keys):
                    failures.append({"name": user, "message": DUPLICATE_PERMSET})
                else:
                    assigned.setdefault(keys[0], []).append(name)
                    successes.append({"name": user, "value": name})
    status = 68 if failures and successes else 1 if failures else 0
    return inv.finish(
        {"successes": successes, "failures": failures}, status=status, human=_human_permsets(successes, failures)
    )


def _human_permsets(successes: list[dict[str, str]], failures: list[dict[str, str]]) -> str:
    text = header("Partial Success") if successes and failures else ""
    if successes:
        text += header("Permsets Assigned") + table(
            [("name", "Username"), ("value", "Permission Set Assignment")], successes
        )
    if failures:
        text += (
            ("\n" if successes else "")
            + header("Failures")
            + table([("name", "Username"), ("message", "Error Message")], failures)
        )
    return text
