"""`sf org open --url-only`: a single-use frontdoor URL, i.e. a credential, plus the CLI's security warning."""

from __future__ import annotations

from urllib.parse import quote

from . import ids
from .context import Invocation

SECURITY_WARNING = (
    "This command will expose sensitive information that allows for subsequent activity using your current "
    "authenticated session. Sharing this information is equivalent to logging someone in under the current "
    "credential, resulting in unintended access and escalation of privilege. For additional information, please "
    "review the authorization section of the "
    "https://developer.salesforce.com/docs/atlas.en-us.sfdx_dev.meta/sfdx_dev/sfdx_dev_auth_web_flow.htm"
)


def org_open(inv: Invocation) -> int:
    """Return `{url, username, orgId}`; the fake never launches a browser, even without --url-only."""
    assert inv.target is not None
    org = inv.target
    inv.sleep(inv.delay)
    start = quote(inv.args.get("path") or "/", safe="")
    url = f"{org['instanceUrl'].rstrip('/')}/secur/frontdoor.jsp?otp={ids.random_token(40)}&startURL={start}"
    result = {"url": url, "username": org["username"], "orgId": org["orgId"]}
    if inv.args.get("url-only"):
        human = f"Access org {org['orgId']} as user {org['username']} with the following URL: {url}"
    else:
        human = f"Opening org {org['orgId']} as user {org['username']}"
    return inv.finish(result, warnings=[SECURITY_WARNING], human=human)
