"""The result documents of `project deploy start/report`, in the Metadata API's shapes and quirks.

Quirks kept on purpose because the sidecar must handle them: `componentFailures` is an object when there is one
failure and an array when there are several; line and column numbers are strings there but integers in `files[]`;
a failed deploy is a result with `success: false`, not an error.
"""

from __future__ import annotations

from typing import Any

from . import ids
from .metadata import Component

EXIT_CODES = {"Succeeded": 0, "SucceededPartial": 68, "Failed": 1, "Canceled": 1, "InProgress": 69, "Queued": 69}
FAILURE_SCENARIOS = {"fail-array": 2, "fail-object": 1, "fail-files": 2, "partial": 1}
PROBLEMS = [
    ("Variable does not exist: acount", 12, 5),
    ("Missing ';' at '}'", 27, 1),
]
ID_PREFIXES = {"ApexClass": "01p", "ApexTrigger": "01q", "ApexPage": "066", "CustomObject": "01I", "Layout": "00h"}


def exit_code_for(status: str) -> int:
    """The CLI's exit code for a deploy status (0, 1, 68 partial, 69 still running)."""
    return EXIT_CODES.get(status, 1)


def final_result(
    deploy_id: str, components: list[Component], scenario: str | None, instance_url: str, started: str, completed: str
) -> dict[str, Any]:
    """The finished deploy: success, or the failure shape the scenario names."""
    failing_count = FAILURE_SCENARIOS.get(scenario or "", 0)
    components = list(components)
    while len(components) < failing_count:  # too few real components to fail: invent broken ones
        n = len(components) + 1
        components.append(Component("ApexClass", f"FakeBroken{n}", f"classes/FakeBroken{n}.cls"))
    failing, passing = components[:failing_count], components[failing_count:]
    if scenario in ("fail-array", "fail-object", "fail-files"):
        status, deployed = "Failed", []
    elif scenario == "partial":
        status, deployed = "SucceededPartial", passing
    else:
        status, deployed = "Succeeded", components
    details: dict[str, Any] = {
        "componentSuccesses": [_success_entry(c, deploy_id, completed) for c in deployed]
        + ([_package_xml(completed)] if deployed else []),
        "runTestResult": {"numFailures": "0", "numTestsRun": "0", "totalTime": "0.0"},
    }
    if failing and scenario != "fail-files":
        entries = [_failure_entry(c, i, completed) for i, c in enumerate(failing)]
        details["componentFailures"] = entries[0] if len(entries) == 1 else entries
    files = [_file_failure(c, i) for i, c in enumerate(failing)]
    files += [
        {"fullName": c.full_name, "type": c.type, "state": "Created", "filePath": f} for c in deployed for f in c.files
    ]
    return _deploy_result(
        deploy_id,
        created_by=ids.stable_id("005", instance_url),
        started=started,
        status=status,
        details=details,
        total=len(components),
        deployed=len(deployed),
        errors=len(failing),
        files=files,
        completedDate=completed,
        lastModifiedDate=completed,
    ) | {
        "zipSize": 1024 + 512 * len(components),
        "zipFileCount": sum(max(1, len(c.files)) for c in components) + 1,
        "deployUrl": (
            f"{instance_url.rstrip('/')}/lightning/setup/DeployStatus/page?address=%2Fchangemgmt%2F"
            f"monitorDeploymentsDetails.apexp%3FasyncId%3D{deploy_id}%26retURL%3D%252Fchangemgmt%252F"
            "monitorDeployment.apexp"
        ),
    }


def running_result(
    deploy_id: str, total: int, deployed: int, started: str, status: str = "InProgress"
) -> dict[str, Any]:
    """A deploy that has not finished (async start, a --wait that ran out, a report while it runs)."""
    details = {"componentSuccesses": [], "runTestResult": {"numFailures": "0", "numTestsRun": "0", "totalTime": "0.0"}}
    return _deploy_result(
        deploy_id,
        created_by="005000000000000AAA",
        started=started,
        status=status,
        details=details,
        total=total,
        deployed=deployed,
        errors=0,
        files=[],
    )


def _deploy_result(
    deploy_id: str,
    *,
    created_by: str,
    started: str,
    status: str,
    details: dict[str, Any],
    total: int,
    deployed: int,
    errors: int,
    files: list[dict[str, Any]],
    **dates: str,
) -> dict[str, Any]:
    """The fields every deploy result has, keys in the real CLI's order (alphabetical, then `files`)."""
    fields: dict[str, Any] = {
        "checkOnly": False,
        "createdBy": created_by,
        "createdByName": "User User",
        "createdDate": started,
        "details": details,
        "done": exit_code_for(status) != 69,  # 69: still running
        "id": deploy_id,
        "ignoreWarnings": False,
        "numberComponentErrors": errors,
        "numberComponentsDeployed": deployed,
        "numberComponentsTotal": total,
        "numberTestErrors": 0,
        "numberTestsCompleted": 0,
        "numberTestsTotal": 0,
        "rollbackOnError": True,
        "runTestsEnabled": False,
        "startDate": started,
        "status": status,
        "success": status in ("Succeeded", "SucceededPartial"),
        **dates,
    }
    return dict(sorted(fields.items())) | {"files": files}


def failure_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Failures from whichever place the result reports them (componentFailures, else failed files[])."""
    raw = (result.get("details") or {}).get("componentFailures")
    entries = [raw] if isinstance(raw, dict) else list(raw or [])
    if entries:
        return [
            {
                "type": e["problemType"],
                "name": e["fullName"],
                "problem": e["problem"],
                "loc": f"{e['lineNumber']}:{e['columnNumber']}",
                "path": e["fileName"],
            }
            for e in entries
        ]
    return [
        {
            "type": f["problemType"],
            "name": f["fullName"],
            "problem": f["error"].removesuffix(f" ({f['lineNumber']}:{f['columnNumber']})"),
            "loc": f"{f['lineNumber']}:{f['columnNumber']}",
            "path": f["filePath"],
        }
        for f in result.get("files") or []
        if f.get("state") == "Failed"
    ]


def _success_entry(c: Component, deploy_id: str, when: str) -> dict[str, Any]:
    return {
        "changed": "true",
        "componentType": c.type,
        "created": "true",
        "createdDate": when,
        "deleted": "false",
        "fileName": c.api_path,
        "fullName": c.full_name,
        "id": ids.stable_id(ID_PREFIXES.get(c.type, "0Ib"), deploy_id + c.type + c.full_name),
        "success": "true",
    }


def _package_xml(when: str) -> dict[str, Any]:
    return {
        "changed": "true",
        "componentType": "",
        "created": "false",
        "createdDate": when,
        "deleted": "false",
        "fileName": "package.xml",
        "fullName": "package.xml",
        "success": "true",
    }


def _failure_entry(c: Component, index: int, when: str) -> dict[str, Any]:
    problem, line, column = PROBLEMS[index % len(PROBLEMS)]
    return {
        "changed": "false",
        "columnNumber": str(column),
        "componentType": c.type,
        "created": "false",
        "createdDate": when,
        "deleted": "false",
        "fileName": c.api_path,
        "fullName": c.full_name,
        "lineNumber": str(line),
        "problem": problem,
        "problemType": "Error",
        "success": "false",
    }


def _file_failure(c: Component, index: int) -> dict[str, Any]:
    problem, line, column = PROBLEMS[index % len(PROBLEMS)]
    content = [f for f in c.files if not f.endswith("-meta.xml")] or c.files or [c.api_path]
    return {
        "fullName": c.full_name,
        "type": c.type,
        "state": "Failed",
        "filePath": content[0],
        "error": f"{problem} ({line}:{column})",
        "problemType": "Error",
        "lineNumber": line,
        "columnNumber": column,
    }
