"""`sf org delete scratch`: removes the org from the state; without --no-prompt it asks on stdin first."""

from __future__ import annotations

import sys
from typing import Any

from . import orgs
from .context import Invocation
from .envelopes import write_stdout
from .errors import FakeSfError, named_org_not_found


def org_delete_scratch(inv: Invocation) -> int:
    """Delete the target scratch org (an expired one deletes cleanly); its active-org slot is freed."""
    assert inv.target is not None
    org = inv.target
    orgs.reject_non_scratch(org)
    name = org.get("alias") or org["username"]
    if not inv.args.get("no-prompt"):
        write_stdout(f"? Are you sure you want to delete the scratch org with name: {name}? (y/N) ")
        answer = sys.stdin.readline() if sys.stdin is not None else ""
        if not answer:  # stdin closed (/dev/null): the prompt library gives up, nothing is deleted
            raise FakeSfError("ExitPromptError", "User force closed the prompt with 0 null", 1)
        if answer.strip().lower() not in ("y", "yes"):
            return inv.finish({"orgId": org["orgId"], "username": org["username"]}, human="Nothing deleted.")
    inv.sleep(inv.delay)
    with inv.store.transaction() as state:
        removed = _remove(state, org)
        if removed is None:  # deleted by a parallel invocation meanwhile
            raise named_org_not_found(name, None)
        active = (state.get("limits") or {}).get("ActiveScratchOrgs")
        if isinstance(active, dict) and "remaining" in active and not orgs.is_expired(removed):
            cap = int(active.get("max", int(active["remaining"]) + 1))
            active["remaining"] = min(cap, int(active["remaining"]) + 1)
        if state.get("defaultOrg") in (org.get("alias"), org["username"]):
            state.pop("defaultOrg", None)
    result = {"orgId": org["orgId"], "username": org["username"]}
    return inv.finish(result, human=f"Successfully deleted scratch org {org['username']}.")


def _remove(state: dict[str, Any], org: dict[str, Any]) -> dict[str, Any] | None:
    entries = state.get("orgs") or []
    for index, entry in enumerate(entries):
        full = orgs.view(entry, state.get("devHub"))
        if full["orgId"] == org["orgId"] and full["username"] == org["username"]:
            return orgs.view(entries.pop(index), state.get("devHub"))
    return None
