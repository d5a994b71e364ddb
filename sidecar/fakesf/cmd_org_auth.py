"""`sf org auth show-sfdx-auth-url` and `sf org login sfdx-url`: moving an org's authorization between machines.

Each state file is one machine's CLI auth store (its `orgs`): an org created with one state file is unknown to a
fake run with another until that one logs in with the org's auth URL. The real URL is
`force://<clientId>:<clientSecret>:<refreshToken>@<instance host>`, and the real login asks the org who it is with
the refresh token. The fake has no org to ask, so its refresh token carries the org's details (base64url JSON)
after a random secret kept in the org's entry (`authSecret`): another fake machine rebuilds the same org from it.
Shapes and messages from plugin-org's `org auth show-sfdx-auth-url` and plugin-auth's `org login sfdx-url`.
"""

from __future__ import annotations

import base64
import json
import sys
from typing import Any

from . import ids, orgs
from .context import Invocation
from .errors import FakeSfError

SHOW_WARNING = (
    "This command exposes a sensitive SFDX Auth URL containing a refresh token that grants persistent access to the "
    "org. Unlike an access token, this credential does not expire and allows re-authentication without user "
    "interaction. Sharing this URL is equivalent to giving permanent login access to the org. For additional "
    "information, please review "
    "https://developer.salesforce.com/docs/atlas.en-us.sfdx_dev.meta/sfdx_dev/sfdx_dev_auth_url.htm"
)
INVALID_URL = (
    'Invalid SFDX authorization URL. Must be in the format "force://<clientId>:<clientSecret>:<refreshToken>@'
    "<instanceUrl>\". Note that having the instanceUrl inside the SFDX authorization URL doesn't include the "
    'protocol ("https://").'
)
CLIENT_ID = "PlatformCLI"
TOKEN_PREFIX = "5Aep861"
AUTH_FIELDS = (
    "instanceUrl",
    "orgId",
    "username",
    "loginUrl",
    "clientId",
    "isDevHub",
    "instanceApiVersion",
    "devHubUsername",
    "created",
    "expirationDate",
    "createdOrgInstance",
    "isScratch",
    "isSandbox",
    "tracksSource",
)
# What another machine needs to know the org as this one does (the rest is derived, see orgs.view).
CARRIED = (
    "username",
    "orgId",
    "instanceUrl",
    "loginUrl",
    "expirationDate",
    "createdDate",
    "devHubUsername",
    "edition",
    "orgName",
    "status",
)


def show_sfdx_auth_url(inv: Invocation) -> int:
    """`{sfdxAuthUrl}` with the CLI's warning; without --json and --no-prompt it asks first (stdin EOF: refused)."""
    assert inv.target is not None
    org = inv.target
    if org.get("isDevHub"):
        raise FakeSfError(
            "NoRefreshTokenError",
            f'An SFDX Auth URL is not available for "{org["username"]}". This URL is only available for orgs '
            'authenticated via a web-based login flow. Re-authenticate to the org using "sf org login web" to make '
            "it available.",
            1,
        )
    if not inv.json and not inv.args.get("no-prompt"):
        answer = sys.stdin.readline() if sys.stdin is not None else ""
        if answer.strip().lower() not in ("y", "yes"):
            raise FakeSfError("SfError", "Show SFDX auth URL confirmation denied or timed out.", 1)
    inv.sleep(inv.delay)
    with inv.store.transaction() as state:
        entry = (state.get("orgs") or [])[inv.target_index] if inv.target_index is not None else None
        secret = entry.get("authSecret") if entry is not None else None
        if entry is not None and not secret:
            secret = entry["authSecret"] = ids.random_token(40)
    url = auth_url(org, str(secret or ids.random_token(40)))
    human = f"SFDX Auth URL  {url}"
    return inv.finish({"sfdxAuthUrl": url}, warnings=[SHOW_WARNING], human=human)


def auth_url(org: dict[str, Any], secret: str) -> str:
    carried = {key: org.get(key) for key in CARRIED if org.get(key) is not None}
    payload = base64.urlsafe_b64encode(json.dumps(carried, sort_keys=True).encode()).decode().rstrip("=")
    host = str(org["instanceUrl"]).split("://", 1)[-1].rstrip("/")
    return f"force://{CLIENT_ID}::{TOKEN_PREFIX}{secret}.{payload}@{host}"


def login_sfdx_url(inv: Invocation) -> int:
    """Authorize the org the URL names in this machine's store (its alias moves to it); the result is the auth
    fields, tokens included, as the real command prints them."""
    url = _read_url(inv)
    parsed = _parse(url)
    inv.sleep(inv.delay)
    alias = inv.args.get("alias")
    with inv.store.transaction() as state:
        entries = state.setdefault("orgs", [])
        found = next((e for e in entries if orgs.view(e, state.get("devHub"))["username"] == parsed["username"]), None)
        if found is None:
            found = {}
            entries.append(found)
        found.update(parsed)
        if alias:
            for other in entries:  # the real CLI moves an alias to the org it now names
                if other is not found and other.get("alias") == alias:
                    other.pop("alias", None)
            found["alias"] = alias
        org = orgs.view(found, state.get("devHub"))
        if inv.args.get("set-default"):
            state["defaultOrg"] = alias or org["username"]
        entry = orgs.list_entry(org, state)
    # The auth fields, decrypted, as the real command returns them: the same fields `org list` shows, plus tokens.
    result = {
        "clientSecret": "",
        "accessToken": ids.new_access_token(org["orgId"]),
        "refreshToken": _token(url),
        **{key: entry[key] for key in AUTH_FIELDS},
        "instanceApiVersionLastRetrieved": orgs.iso_now(),
    }
    human = f"Successfully authorized {org['username']} with org ID {org['orgId']}"
    return inv.finish(result, human=human)


def _read_url(inv: Invocation) -> str:
    path = inv.args.get("sfdx-url-file")
    if path:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        if path.endswith(".json"):
            try:
                document = json.loads(text)
            except ValueError:
                document = {}
            inner = document.get("result") if isinstance(document, dict) else None
            text = (inner or {}).get("sfdxAuthUrl") or (document or {}).get("sfdxAuthUrl") or ""
        if not text:
            raise FakeSfError(
                "Error",
                f"Error getting the auth URL from file {path}. Please ensure it meets the description shown in the "
                "documentation for this command.",
                1,
            )
        return str(text).strip()
    if inv.args.get("sfdx-url-stdin"):
        return sys.stdin.read().strip() if sys.stdin is not None else ""
    raise FakeSfError("Error", "Please include either the --sfdx-url-stdin or --sfdx-url-file flags.", 1)


def _token(url: str) -> str:
    """The refresh token of `force://<clientId>:<clientSecret>:<refreshToken>@<host>`."""
    return url[len("force://") :].split(":", 2)[-1].rsplit("@", 1)[0]


def _parse(url: str) -> dict[str, Any]:
    """The org the URL authorizes, or INVALID_SFDX_AUTH_URL (a URL this fake did not mint is no org it knows)."""
    if not url.startswith("force://") or "@" not in url or url.count(":") < 3:
        raise FakeSfError("INVALID_SFDX_AUTH_URL", INVALID_URL, 1)
    token = _token(url)
    secret, _, payload = token.partition(".")
    try:
        carried = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        carried = None
    if not secret.startswith(TOKEN_PREFIX) or not isinstance(carried, dict) or not carried.get("username"):
        # The org refuses a refresh token it never issued (the real CLI's OAuth error).
        raise FakeSfError("invalid_grant", "expired access/refresh token", 1)
    org = {key: carried[key] for key in CARRIED if key in carried}
    org["authSecret"] = secret[len(TOKEN_PREFIX) :]
    return org
