"""`sf data query --target-org <hub> --query "SELECT ... FROM ActiveScratchOrg ..."`: the Dev Hub's active scratch
orgs, the ones holding its slots, whether or not this machine is authorized to them (`orgs`, `loggedOut`, and
`hubOnly`: orgs someone created elsewhere). Only ActiveScratchOrg is known; the result is the real
`{records: [{attributes, ...fields}], totalSize, done}`."""

from __future__ import annotations

import re
from typing import Any

from . import orgs
from .context import Invocation
from .errors import FakeSfError, named_org_not_found

SELECT = re.compile(r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<object>\w+)\b", re.IGNORECASE | re.DOTALL)


def data_query(inv: Invocation) -> int:
    query = inv.args.get("query") or ""
    match = SELECT.match(query)
    if match is None:
        raise FakeSfError("MALFORMED_QUERY", f"unexpected token: {query[:40]!r}", 1)
    if match["object"] != "ActiveScratchOrg":
        raise FakeSfError("INVALID_TYPE", f"sObject type '{match['object']}' is not supported by the fake.", 1)
    hub = inv.state.get("devHub")
    if not hub or inv.args.get("target-org") != hub:
        raise named_org_not_found(str(inv.args.get("target-org")), "target-org")
    fields = [f.strip() for f in match["fields"].split(",")]
    records = []
    for org in _hub_orgs(inv.state):
        row = _row(org)
        records.append(
            {
                "attributes": {
                    "type": "ActiveScratchOrg",
                    "url": f"/services/data/v62.0/sobjects/ActiveScratchOrg/{row['Id']}",
                },
                **{f: row.get(f) for f in fields},
            }
        )
    inv.sleep(inv.delay)
    return inv.finish({"records": records, "totalSize": len(records), "done": True})


def _hub_orgs(state: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for key in ("orgs", "loggedOut", "hubOnly"):
        for entry in state.get(key) or []:
            full = orgs.view(entry, state.get("devHub"))
            if full.get("status") == "Active" and not full.get("isExpired") and full.get("orgId", "").startswith("00D"):
                found.append(full)
    return found


def _row(org: dict[str, Any]) -> dict[str, Any]:
    return {
        "Id": "0Hx" + org["orgId"][3:15],
        "SignupUsername": org["username"],
        "ScratchOrg": org["orgId"][:15],
        "ExpirationDate": org.get("expirationDate"),
        "CreatedDate": org.get("createdDate"),
        "Status": "Active",
    }
