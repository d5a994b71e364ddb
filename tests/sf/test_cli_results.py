"""Reading what the real CLI prints (sidecar/provisioning/results.py): shapes from CLI 2.146.3's plugin sources."""

from __future__ import annotations

from pathlib import Path

from sidecar.provisioning import results

WT = Path("/w")


def test_deploy_warnings_are_warnings_not_failures() -> None:
    result = {
        "details": {
            "componentFailures": [
                {"componentType": "ApexClass", "fullName": "A", "fileName": "classes/A.cls", "problem": "Unused",
                 "problemType": "Warning", "lineNumber": "3", "columnNumber": "1"},
                {"componentType": "ApexClass", "fullName": "B", "fileName": "classes/B.cls", "problem": "Boom",
                 "problemType": "Error", "lineNumber": "5", "columnNumber": "2"},
            ]
        },
        "files": [{"fullName": "A", "type": "ApexClass", "state": "Failed", "error": "Unused", "filePath": "/w/A.cls"}],
    }  # fmt: skip
    assert results.deploy_failures(result, WT) == ["ApexClass B (classes/B.cls:5:2): Boom"]
    assert results.deploy_warnings(result, WT) == ["ApexClass A (classes/A.cls:3:1): Unused"]
    only_warning = {
        "details": {"componentFailures": {**result["details"]["componentFailures"][0]}},
        "files": result["files"],
    }
    assert results.deploy_failures(only_warning, WT) == []  # nor read back from files[]


def test_permset_failures_read_every_message_and_duplicates_are_done() -> None:
    outcome = results.permset_outcome(
        {
            "successes": [{"name": "me@x.com", "value": "A"}],
            "failures": [
                {"name": "me@x.com", "message": "Multiple errors occurred. See JSON output for details.",
                 "details": [{"message": "duplicate value found: Assignee", "errorCode": "DUPLICATE_VALUE"},
                             {"message": "Duplicate PermissionSetAssignment", "errorCode": "DUPLICATE_VALUE"}]},
                {"name": "me@x.com", "message": "Multiple errors occurred. See JSON output for details.",
                 "details": [{"message": "license limit exceeded", "errorCode": "LICENSE_LIMIT_EXCEEDED"},
                             {"message": "field integrity", "errorCode": "FIELD_INTEGRITY_EXCEPTION"}]},
            ],
        },
        ["A", "B", "C"],
    )  # fmt: skip
    assert outcome.assigned == ["A"] and outcome.already == ["B"]
    assert outcome.failed == [
        "Permission set C was not assigned: license limit exceeded (LICENSE_LIMIT_EXCEEDED); "
        "field integrity (FIELD_INTEGRITY_EXCEPTION)"
    ]
