"""The pure parts of provisioning, in-process: masking, path rules, result sentences, the terminal's ordering."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from sidecar.errors import AccessDenied, InvalidParams
from sidecar.provisioning import results
from sidecar.provisioning.masking import LineMasker, mask, mask_value
from sidecar.provisioning.paths import inside, run_paths
from sidecar.provisioning.terminal import Terminal
from sidecar.settings import OrgPoolSettings

TOKEN = "00D5g000004abcD!AQ4AQK9d8hW.4sV_qjJ3ZxLkLp0rT1uVyWbN2mQ"


@pytest.mark.parametrize(
    "text, secret",
    [
        ("https://x.my.salesforce.com/secur/frontdoor.jsp?otp=AbC123xyz&startURL=%2F", "AbC123xyz"),
        ("https://x.my.salesforce.com/secur/frontdoor.jsp?sid=" + TOKEN, TOKEN.split("!")[1]),
        ("Access Token     " + TOKEN, TOKEN.split("!")[1]),
        ('{"accessToken": "' + TOKEN + '"}', TOKEN.split("!")[1]),
        ('"AuthCode": "aPrxT7Zq0b"', "aPrxT7Zq0b"),
        ("Sfdx Auth Url    force://PlatformCLI::5Aep861secret@x.my.salesforce.com", "5Aep861secret"),
        ("https://example.com/cb?access_token=zzTopSecret9&x=1", "zzTopSecret9"),
        ("Authorization: Bearer abcdefghijklmnop", "abcdefghijklmnop"),
        ("Password         S3cr3t!Pass", "S3cr3t!Pass"),
    ],
)
def test_mask_hides_secrets(text: str, secret: str) -> None:
    assert secret not in mask(text)
    assert "****" in mask(text)


def test_mask_leaves_ordinary_output_alone() -> None:
    line = "Deploying Metadata... Components: 3/4 (75%) Deploy ID: 0Af5g00000ABCDEFGH org 00D5g000004abcDEAA"
    assert mask(line) == line


def test_line_masker_catches_a_token_split_across_chunks() -> None:
    masker = LineMasker()
    url = "https://x/secur/frontdoor.jsp?otp=SPLITsecretVALUE42&startURL=%2F\n"
    out = masker.feed(url[:40]) + masker.feed(url[40:55]) + masker.feed(url[55:]) + masker.flush()
    assert "SPLITsecretVALUE42" not in out and out.endswith("\n")
    assert masker.feed("no newline yet") == "" and masker.flush() == "no newline yet"
    # Progress lines ending in \r are released at once.
    assert masker.feed("50%\r") == "50%\r"


def test_mask_value_masks_nested_documents() -> None:
    doc = {"result": {"accessToken": "x", "url": "https://h/secur/frontdoor.jsp?otp=abc", "list": ["sid=123"]}}
    masked = mask_value(doc)
    assert masked["result"]["accessToken"] == "****"
    assert masked["result"]["url"].endswith("?****") and masked["result"]["list"] == ["sid=****"]


def test_settings_paths_must_stay_inside_the_worktree(tmp_path: Path) -> None:
    wt = tmp_path / "wt"
    (wt / "data").mkdir(parents=True)
    (tmp_path / "outside.json").write_text("[]")
    assert inside(wt.resolve(), "data/plan.json", "dataPlanPath") == wt.resolve() / "data" / "plan.json"
    for bad in ("../outside.json", "data/../../outside.json", str(tmp_path / "outside.json"), "..\\outside.json"):
        with pytest.raises(AccessDenied):
            inside(wt.resolve(), bad, "dataPlanPath")
    (wt / "data" / "link.json").symlink_to(tmp_path / "outside.json")
    with pytest.raises(AccessDenied, match="symlink"):
        inside(wt.resolve(), "data/link.json", "dataPlanPath")
    (wt / "inner.json").write_text("{}")
    (wt / "data" / "ok.json").symlink_to(wt / "inner.json")  # a symlink that stays inside is fine
    assert inside(wt.resolve(), "data/ok.json", "dataPlanPath") == (wt / "inner.json").resolve()
    with pytest.raises(InvalidParams):
        run_paths("wt", OrgPoolSettings())
    with pytest.raises(InvalidParams):
        run_paths(str(tmp_path / "nowhere"), OrgPoolSettings())
    with pytest.raises(InvalidParams, match="not a Salesforce project"):  # a directory, but no project
        run_paths(str(wt), OrgPoolSettings())
    (wt / "sfdx-project.json").write_text("{}")
    with pytest.raises(InvalidParams, match="no source directory force-app"):
        run_paths(str(wt), OrgPoolSettings())
    (wt / "force-app").mkdir()
    worktree_link = tmp_path / "wt-link"
    worktree_link.symlink_to(wt)
    assert run_paths(str(worktree_link), OrgPoolSettings()).worktree == wt.resolve()


def test_deploy_failures_in_both_shapes() -> None:
    wt = Path("/w")
    one = {
        "fullName": "A",
        "componentType": "ApexClass",
        "fileName": "classes/A.cls",
        "problem": "Boom",
        "lineNumber": "3",
        "columnNumber": "9",
    }
    as_object = {
        "details": {"componentFailures": one},
        "files": [{"fullName": "A", "type": "ApexClass", "state": "Failed", "filePath": "/w/force-app/classes/A.cls"}],
    }
    assert results.deploy_failures(as_object, wt) == ["ApexClass A (force-app/classes/A.cls:3:9): Boom"]
    as_array = {"details": {"componentFailures": [one, {**one, "fullName": "B", "fileName": "classes/B.cls"}]}}
    assert results.deploy_failures(as_array, wt) == [
        "ApexClass A (classes/A.cls:3:9): Boom",
        "ApexClass B (classes/B.cls:3:9): Boom",
    ]
    files_only = {
        "details": {},
        "files": [
            {
                "fullName": "C",
                "type": "ApexTrigger",
                "state": "Failed",
                "filePath": "/w/t/C.trigger",
                "error": "Bad (4:2)",
                "lineNumber": 4,
                "columnNumber": 2,
            },
            {"fullName": "D", "type": "ApexClass", "state": "Created", "filePath": "/w/D.cls"},
        ],
    }
    assert results.deploy_failures(files_only, wt) == ["ApexTrigger C (t/C.trigger:4:2): Bad"]


def test_deploy_id_and_human_error_scanners_handle_chunking() -> None:
    ids = results.DeployIdScanner()
    for chunk in ("Deploying...\rDeploy I", "D: 0Af5g00000ABCDEF", "GH\nStatus: In Progress\n"):
        ids.feed(chunk)
    assert ids.deploy_id == "0Af5g00000ABCDEFGH"
    errors = results.HumanErrorScanner()
    errors.feed(
        "Error (DomainNotFoundError): Parsing --target-org \n\tThe org cannot be found\nSee more help with --help\n"
    )
    assert errors.error == "DomainNotFoundError: Parsing --target-org The org cannot be found"


def test_permset_duplicates_count_as_done() -> None:
    outcome = results.permset_outcome(
        {
            "successes": [{"name": "u", "value": "A"}],
            "failures": [
                {"name": "u", "message": "Duplicate PermissionSetAssignment: already assigned"},
                {"name": "u", "message": 'Permission set "C" not found in target org.'},
            ],
        },
        ["A", "B", "C"],
    )
    assert outcome.assigned == ["A"] and outcome.already == ["B"]
    assert outcome.failed == ['Permission set C was not assigned: Permission set "C" not found in target org.']


@pytest.mark.anyio
async def test_terminal_shows_side_by_side_sections_in_order() -> None:
    shown: list[str] = []

    async def emit(stream: str, text: str) -> None:
        shown.append(text)

    terminal = Terminal(emit)
    first, second, third = terminal.section(), terminal.section(), terminal.section()
    await third.line("third 1")
    await second.line("second 1")
    await first.line("first 1")  # live: the head section
    assert shown == ["first 1\n"]
    await third.line("third 2")
    await third.close()
    await first.close()  # now second is live: its buffer first
    assert shown == ["first 1\n", "second 1\n"]
    await second.line("second 2")
    await second.close()
    assert shown == ["first 1\n", "second 1\n", "second 2\n", "third 1\n", "third 2\n"]
    with anyio.fail_after(1):
        await terminal.section().line("after")
    assert shown[-1] == "after\n"
