"""`sf data import tree`: records created from a data plan, or the import failure the sidecar must warn about."""

from __future__ import annotations

import json
import os
from typing import Any

from . import ids
from .context import Invocation
from .errors import FakeSfError, failed_validation
from .tables import table

KEY_PREFIXES = {"Account": "001", "Contact": "003", "Opportunity": "006", "Lead": "00Q", "Case": "500"}


def data_import_tree(inv: Invocation) -> int:
    """Import the plan's records: `[{refId, type, id}]`; scenario `fail` is the real "Data Import failed" error."""
    plan, files = inv.args.get("plan"), inv.args.get("files")
    if bool(plan) == bool(files):
        raise failed_validation(["Exactly one of the following must be provided: --files, --plan"])
    records = _records_from_plan(plan) if plan else _records_from_files(files, os.getcwd())
    inv.sleep(inv.delay)
    if inv.scenario == "fail":
        first = records[0] if records else {"refId": "AccountRef1", "type": "Account"}
        raise FakeSfError(
            "SfError",
            "Data Import failed",
            1,
            data=[
                {
                    "referenceId": first["refId"],
                    "StatusCode": "REQUIRED_FIELD_MISSING",
                    "Message": "Required fields are missing: [Name]",
                    "fields": ["Name"],
                }
            ],
        )
    result = [
        {"refId": r["refId"], "type": r["type"], "id": ids.new_id(KEY_PREFIXES.get(r["type"], "a00"))} for r in records
    ]
    return inv.finish(result, human=table([("refId", "Reference ID"), ("type", "Type"), ("id", "ID")], result))


def _records_from_plan(plan_path: str) -> list[dict[str, str]]:
    """(refId, type) pairs from a plan `[{sobject, files}]`; a plan in another shape imports two fixed records."""
    try:
        with open(plan_path, encoding="utf-8") as handle:
            plan = json.load(handle)
    except (OSError, json.JSONDecodeError):
        plan = None
    if not isinstance(plan, list) or not plan:
        return [{"refId": "AccountRef1", "type": "Account"}, {"refId": "ContactRef1", "type": "Contact"}]
    base = os.path.dirname(os.path.abspath(plan_path))
    records: list[dict[str, str]] = []
    for entry in plan:
        if not isinstance(entry, dict):
            continue
        sobject = str(entry.get("sobject") or "Account")
        found = _records_from_files(entry.get("files") or [], base, default_type=sobject)
        records += found or [{"refId": f"{sobject}Ref1", "type": sobject}]
    return records


def _records_from_files(files: list[Any], base: str, default_type: str | None = None) -> list[dict[str, str]]:
    """Records of sObject tree files (`{"records": [{"attributes": {type, referenceId}}]}`)."""
    records: list[dict[str, str]] = []
    for name in files:
        try:
            with open(os.path.join(base, str(name)), encoding="utf-8") as handle:
                tree = json.load(handle)
        except (OSError, json.JSONDecodeError):
            continue
        for index, record in enumerate(tree.get("records") or [] if isinstance(tree, dict) else [], start=1):
            attributes = record.get("attributes") or {} if isinstance(record, dict) else {}
            kind = str(attributes.get("type") or default_type or "Account")
            records.append({"refId": str(attributes.get("referenceId") or f"{kind}Ref{index}"), "type": kind})
    return records
