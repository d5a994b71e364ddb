"""`sf org logout --target-org A --no-prompt`: the CLI forgets the org's authorization; the org itself lives on in
the Dev Hub (it still holds its slot until deleted or expired). Result: the usernames logged out (plugin-auth's
`AuthLogoutResults`, a string array)."""

from __future__ import annotations

from .context import Invocation
from .errors import FakeSfError


def org_logout(inv: Invocation) -> int:
    """Move the target org from the authorized `orgs` to `loggedOut` (kept for the Dev Hub's view of it)."""
    if not inv.args.get("no-prompt"):
        raise FakeSfError("ExitPromptError", "User force closed the prompt with 0 null", 1)
    if inv.target is None:
        return inv.finish([], human="No orgs to log out of.")
    username = inv.target["username"]
    with inv.store.transaction() as state:
        entries = state.get("orgs") or []
        kept = [o for o in entries if o.get("username") != username]
        gone = [o for o in entries if o.get("username") == username]
        state["orgs"] = kept
        state.setdefault("loggedOut", []).extend(gone)
        if state.get("defaultOrg") in (inv.target.get("alias"), username):
            state.pop("defaultOrg", None)
    return inv.finish([username], human=f"Logged out of {username}.")
