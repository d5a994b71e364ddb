"""The fake `sf` run as a real subprocess: shapes and exit codes against the real CLI's outputs, state changes,
scenarios, streaming, concurrency and process-group hygiene.

These tests use only the standard library and pytest, and import nothing from the `sidecar` package, so they run
in any virtual environment that has pytest.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SF = REPO / "sidecar" / "fakesf" / "bin" / "sf"
REFERENCE = REPO.parent / "shared" / "sf-cli-reference" / "real-outputs"
UPDATE_NOISE = "Warning: @salesforce/cli update available from 2.146.3 to 2.150.6."
HUB = "hub@example.com"


class FakeSf:
    """A temporary project directory, state file and log, and a way to run the fake in them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state_path = root / "state.json"
        self.log_path = root / "sf-log.jsonl"
        self.project = root / "project"
        classes = self.project / "force-app" / "main" / "default" / "classes"
        classes.mkdir(parents=True)
        for name in ("AccountService", "ContactService", "Util"):
            (classes / f"{name}.cls").write_text(f"public class {name} {{}}\n")
            (classes / f"{name}.cls-meta.xml").write_text("<ApexClass/>\n")
        bundle = self.project / "force-app" / "main" / "default" / "lwc" / "greeting"
        bundle.mkdir(parents=True)
        for name in ("greeting.js", "greeting.html", "greeting.js-meta.xml"):
            (bundle / name).write_text("x\n")
        (self.project / "force-app" / "main" / "default" / "lwc" / "jsconfig.json").write_text("{}\n")
        (self.project / "config").mkdir()
        (self.project / "config" / "project-scratch-def.json").write_text('{"edition": "Developer", "orgName": "Acme"}')

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(SF_FAKE_STATE=str(self.state_path), SF_FAKE_LOG=str(self.log_path), SF_USE_PROGRESS_BAR="false")
        env.update(extra)
        return env

    def write_state(self, state: dict[str, Any]) -> None:
        self.state_path.write_text(json.dumps(state))

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = json.loads(self.state_path.read_text())
        return state

    def run(
        self, *args: str, timeout: float = 15, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SF), *args],
            cwd=self.project,
            env=env or self.env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def run_json(self, *args: str) -> tuple[int, dict[str, Any]]:
        proc = self.run(*args, "--json")
        return proc.returncode, json.loads(proc.stdout)

    def log(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log_path.read_text().splitlines()]


@pytest.fixture
def fake(tmp_path: Path) -> FakeSf:
    return FakeSf(tmp_path)


def with_org(fake: FakeSf, **extra: Any) -> dict[str, Any]:
    """A state with the hub and one active org `qa1`."""
    org = {
        "alias": "qa1",
        "username": "test-qa1@example.com",
        "orgId": "00D000000000001AAA",
        "instanceUrl": "https://qa1.scratch.my.salesforce.com",
        "expirationDate": _days(5),
        "status": "Active",
        "devHubUsername": HUB,
    }
    state = {"devHub": HUB, "orgs": [org], **extra}
    fake.write_state(state)
    return state


def spawn(fake: FakeSf, *args: str, new_session: bool = False) -> subprocess.Popen[str]:
    """The fake `sf` as the sidecar starts it: argv list, stdin closed, stdout piped as text."""
    return subprocess.Popen(
        [str(SF), *args],
        cwd=fake.project,
        env=fake.env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=new_session,
    )


def _days(n: int) -> str:
    return (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=n)).isoformat()


def _reference(name: str) -> dict[str, Any]:
    path = REFERENCE / name
    if not path.exists():
        pytest.skip(f"reference output {path} is not present")
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def _assert_same_error(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    """Key for key equal, except stack/cause traces, whose first line (name: message) must still match."""
    assert list(actual) == list(expected)
    for key, value in expected.items():
        if key in ("stack", "cause") and value != "undefined":
            assert actual[key].split("\n    at ")[0] == value.split("\n    at ")[0], key
        else:
            assert actual[key] == value, key


# --- the launcher ---------------------------------------------------------------------------------------------


def test_launcher_is_executable_and_exposed_by_executable_path(tmp_path: Path) -> None:
    assert os.access(SF, os.X_OK)
    assert SF.read_text().startswith("#!/usr/bin/env python3\n")
    spec = importlib.util.spec_from_file_location(
        "fakesf_under_test", SF.parent.parent / "__init__.py", submodule_search_locations=[str(SF.parent.parent)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.executable_path() == SF.resolve()
    link = tmp_path / "sf"  # run through a symlink from elsewhere, as a PATH entry would
    link.symlink_to(SF)
    env = {k: v for k, v in os.environ.items() if k not in ("SF_FAKE_STATE", "SF_FAKE_LOG", "PYTHONPATH")}
    proc = subprocess.run(
        [str(link), "--version"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=10, check=False
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("@salesforce/cli/2.146.3 linux-x64 node-v20.20.2")


# --- org list ---------------------------------------------------------------------------------------------------


def test_org_list_empty_matches_the_real_output_without_any_state(fake: FakeSf) -> None:
    env = fake.env()
    del env["SF_FAKE_STATE"]
    proc = fake.run("org", "list", "--json", env=env)
    assert proc.returncode == 0
    document = json.loads(proc.stdout)
    assert document == {
        "status": 0,
        "result": {"other": [], "sandboxes": [], "nonScratchOrgs": [], "devHubs": [], "scratchOrgs": []},
        "warnings": [
            (
                "Secrets are now hidden from 'sf org list' command output. Use the 'sf org auth' commands instead. "
                "As a temporary workaround, you can set SF_TEMP_SHOW_SECRETS=true to render these secrets. This "
                "workaround will be removed in an upcoming release."
            )
        ],
    }
    if (REFERENCE / "org_list_empty.json").exists():
        assert document == _reference("org_list_empty.json")
    assert UPDATE_NOISE in proc.stderr
    assert not fake.state_path.exists()  # a read-only command writes no state


def test_noise_can_be_switched_off(fake: FakeSf) -> None:
    fake.write_state({"noise": False})
    proc = fake.run("org", "list", "--json")
    assert proc.returncode == 0 and proc.stderr == ""


def test_org_list_shows_only_active_orgs_without_all_like_the_real_cli(fake: FakeSf) -> None:
    fake.write_state(
        {
            "devHub": HUB,
            "orgs": [
                {"alias": "live", "expirationDate": _days(3)},
                {"alias": "old", "expirationDate": _days(-2)},
                {"alias": "gone", "status": "Deleted"},
            ],
        }
    )
    _, listed = fake.run_json("org", "list")
    scratch = {o["alias"]: o for o in listed["result"]["scratchOrgs"]}
    assert set(scratch) == {"live"}  # expired and deleted orgs disappear: no status "Expired" in the listing
    assert scratch["live"]["isExpired"] is False and scratch["live"]["status"] == "Active"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", scratch["live"]["expirationDate"])
    for key in (
        "username",
        "orgId",
        "instanceUrl",
        "loginUrl",
        "devHubUsername",
        "createdDate",
        "status",
        "orgName",
        "edition",
        "signupUsername",
        "lastUsed",
        "isDefaultUsername",
    ):
        assert key in scratch["live"], key
    assert scratch["live"]["accessToken"] != "" and "!" not in scratch["live"]["accessToken"]
    assert listed["result"]["devHubs"][0]["username"] == HUB
    _, again = fake.run_json("org", "list")
    assert again["result"]["scratchOrgs"][0]["orgId"] == scratch["live"]["orgId"]  # derived ids are stable
    _, everything = fake.run_json("org", "list", "--all")
    every = {o["alias"]: o for o in everything["result"]["scratchOrgs"]}
    assert set(every) == {"live", "old", "gone"} and every["old"]["isExpired"] is True


@pytest.mark.parametrize("scenario", ["garbage", "empty-stdout", "error"])
def test_org_list_failure_scenarios(fake: FakeSf, scenario: str) -> None:
    fake.write_state({"scenarios": {"org list": scenario}})
    proc = fake.run("org", "list", "--json")
    if scenario == "error":
        assert proc.returncode == 1
        error = json.loads(proc.stdout)
        assert error["name"] == "SfError" and error["exitCode"] == 1 and error["status"] == 1
        assert error["commandName"] == "OrgListCommand"
        return
    assert proc.returncode == 0
    if scenario == "empty-stdout":
        assert proc.stdout == ""
    else:
        assert proc.stdout.strip()
        with pytest.raises(json.JSONDecodeError):
            json.loads(proc.stdout)


# --- org create / delete ------------------------------------------------------------------------------------------


def test_create_list_delete_round_trip(fake: FakeSf) -> None:
    fake.write_state(
        {
            "devHub": HUB,
            "limits": {"ActiveScratchOrgs": {"max": 5, "remaining": 5}, "DailyScratchOrgs": {"max": 9, "remaining": 9}},
        }
    )
    code, created = fake.run_json(
        "org", "create", "scratch", "-f", "config/project-scratch-def.json", "-a", "qa1", "-y", "3", "--wait", "10"
    )
    assert code == 0 and created["status"] == 0 and created["warnings"] == []
    result = created["result"]
    assert list(result) == ["username", "scratchOrgInfo", "authFields", "warnings", "orgId"]
    assert re.fullmatch(r"00D[A-Za-z0-9]{15}", result["orgId"])
    assert re.fullmatch(r"test-[a-z0-9]+@example\.com", result["username"])
    assert result["scratchOrgInfo"]["ExpirationDate"] == _days(3) == result["authFields"]["expirationDate"]
    assert result["scratchOrgInfo"]["Status"] == "Active" and result["scratchOrgInfo"]["DurationDays"] == 3
    assert result["authFields"]["devHubUsername"] == HUB and result["authFields"]["orgId"] == result["orgId"]

    _, listed = fake.run_json("org", "list")
    [entry] = listed["result"]["scratchOrgs"]
    assert (entry["alias"], entry["username"], entry["orgId"]) == ("qa1", result["username"], result["orgId"])
    assert entry["expirationDate"] == _days(3) and entry["status"] == "Active" and entry["orgName"] == "Acme"
    limits = fake.state()["limits"]
    assert limits["ActiveScratchOrgs"]["remaining"] == 4 and limits["DailyScratchOrgs"]["remaining"] == 8

    code, deleted = fake.run_json("org", "delete", "scratch", "-o", result["username"], "-p")
    assert code == 0 and deleted["result"] == {"orgId": result["orgId"], "username": result["username"]}
    _, listed = fake.run_json("org", "list")
    assert listed["result"]["scratchOrgs"] == []
    assert fake.state()["limits"]["ActiveScratchOrgs"]["remaining"] == 5

    code, again = fake.run_json("org", "delete", "scratch", "--target-org", "qa1", "--no-prompt")
    assert code == 1 and again["name"] == "NamedOrgNotFoundError" and again["exitCode"] == 1


def test_set_default_is_d_and_the_default_org_is_used_without_target(fake: FakeSf) -> None:
    fake.write_state({"devHub": HUB})
    code, created = fake.run_json(
        "org", "create", "scratch", "-f", "config/project-scratch-def.json", "-a", "qa1", "-d"
    )
    assert code == 0
    _, listed = fake.run_json("org", "list")
    assert listed["result"]["scratchOrgs"][0]["isDefaultUsername"] is True
    code, opened = fake.run_json("org", "open", "--url-only")
    assert code == 0 and opened["result"]["orgId"] == created["result"]["orgId"]


def test_create_without_dev_hub_matches_the_real_error(fake: FakeSf) -> None:
    proc = fake.run(
        "org", "create", "scratch", "-f", "config/project-scratch-def.json", "-a", "qa1", "-y", "7", "--json"
    )
    assert proc.returncode == 1
    error = json.loads(proc.stdout)
    assert error["name"] == error["code"] == "NoDefaultDevHubError"
    if (REFERENCE / "create_scratch.json").exists():
        _assert_same_error(error, _reference("create_scratch.json"))
    wrong_hub = fake.run("org", "create", "scratch", "-f", "config/project-scratch-def.json", "-v", "nope", "--json")
    assert wrong_hub.returncode == 2 and "Parsing --target-dev-hub" in json.loads(wrong_hub.stdout)["message"]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("-f", "config/missing.json", "-a", "x"), "No file found at config/missing.json"),
        (("-f", "config/project-scratch-def.json", "-y", "31"), "less than or equal to 30 but received: 31"),
        (("-f", "config/project-scratch-def.json", "-y", "0"), "greater than or equal to 1 but received: 0"),
        (("-f", "config/project-scratch-def.json", "--duration", "7"), "Nonexistent flag: --duration"),
        (("-f",), "Flag --definition-file expects a value"),
    ],
)
def test_create_flag_errors_exit_2(fake: FakeSf, args: tuple[str, ...], fragment: str) -> None:
    fake.write_state({"devHub": HUB})
    proc = fake.run("org", "create", "scratch", *args, "--json")
    assert proc.returncode == 2
    error = json.loads(proc.stdout)
    assert error["exitCode"] == error["status"] == 2 and error["code"] == "2"
    assert fragment in error["message"]
    assert "orgs" not in fake.state()


def test_limit_error_from_state_limits_and_from_scenario(fake: FakeSf) -> None:
    fake.write_state({"devHub": HUB, "limits": {"ActiveScratchOrgs": {"max": 2, "remaining": 0}}})
    code, error = fake.run_json("org", "create", "scratch", "-f", "config/project-scratch-def.json", "-a", "qa1")
    assert code == 1
    assert error["name"] == error["code"] == "LIMIT_EXCEEDED"
    assert error["message"] == (
        "The signup request failed because this organization has reached its active scratch org limit"
    )
    assert "orgs" not in fake.state()

    fake.write_state({"devHub": HUB, "scenarios": {"org create scratch": "daily-limit"}})
    code, error = fake.run_json("org", "create", "scratch", "-f", "config/project-scratch-def.json", "-a", "qa1")
    assert code == 1 and error["code"] == "LIMIT_EXCEEDED" and "daily scratch org signup limit" in error["message"]


def test_scenario_lists_are_consumed_one_per_invocation(fake: FakeSf) -> None:
    fake.write_state({"devHub": HUB, "scenarios": {"org create scratch": ["limit", None, "signup-failed"]}})
    create = ("org", "create", "scratch", "-f", "config/project-scratch-def.json", "-a", "qa1")
    outcomes = [fake.run_json(*create) for _ in range(4)]
    assert [code for code, _ in outcomes] == [1, 0, 1, 0]
    assert outcomes[0][1]["name"] == "LIMIT_EXCEEDED"
    assert outcomes[1][1]["status"] == 0
    assert outcomes[2][1]["name"] == "RemoteOrgSignupFailed"
    state = fake.state()
    assert state["scenarios"]["org create scratch"] == []
    assert len(state["orgs"]) == 2
    assert [o.get("alias") for o in state["orgs"]] == [None, "qa1"]  # the alias moved to the newest org


def test_unknown_scenario_is_a_loud_fake_failure(fake: FakeSf) -> None:
    fake.write_state({"scenarios": {"org list": "fial"}})
    proc = fake.run("org", "list", "--json")
    assert proc.returncode == 99 and "unknown scenario 'fial'" in proc.stderr


def test_concurrent_creates_lose_no_update(fake: FakeSf) -> None:
    fake.write_state(
        {
            "devHub": HUB,
            "delays": {"org create scratch": 0.3},
            "limits": {"ActiveScratchOrgs": {"max": 40, "remaining": 20}},
        }
    )
    procs = [
        spawn(fake, "org", "create", "scratch", "-f", "config/project-scratch-def.json", "-a", f"agent{i}", "--json")
        for i in range(8)
    ]
    outputs = []
    for proc in procs:
        out, _ = proc.communicate(timeout=20)
        outputs.append((proc.returncode, json.loads(out)))
    assert all(code == 0 for code, _ in outputs)
    state = fake.state()
    assert sorted(o["alias"] for o in state["orgs"]) == sorted(f"agent{i}" for i in range(8))
    assert len({o["orgId"] for o in state["orgs"]}) == 8
    assert {o["orgId"] for o in state["orgs"]} == {doc["result"]["orgId"] for _, doc in outputs}
    assert state["limits"]["ActiveScratchOrgs"]["remaining"] == 12
    log = fake.log()
    assert len(log) == 8 and all(line["exitCode"] == 0 for line in log)
    first_end = min(line["end"] for line in log)
    assert sum(line["start"] < first_end for line in log) > 1  # they really ran side by side


def test_delete_without_no_prompt_reads_stdin_and_deletes_nothing(fake: FakeSf) -> None:
    with_org(fake)
    proc = fake.run("org", "delete", "scratch", "-o", "qa1", "--json")
    assert proc.returncode != 0
    assert "Are you sure" in proc.stdout
    assert [o["alias"] for o in fake.state()["orgs"]] == ["qa1"]


def test_expired_org_deletes_but_cannot_be_deployed_to(fake: FakeSf) -> None:
    fake.write_state({"devHub": HUB, "orgs": [{"alias": "old", "expirationDate": _days(-1)}]})
    code, error = fake.run_json("project", "deploy", "start", "-o", "old", "-d", "force-app")
    assert code == 2 and error["name"] == "DomainNotFoundError" and error["actions"]
    code, deleted = fake.run_json("org", "delete", "scratch", "-o", "old", "-p")
    assert code == 0 and deleted["result"]["username"]
    assert fake.state()["orgs"] == []


# --- target-org errors against the real outputs -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "args"),
    [
        ("deploy.json", ("project", "deploy", "start", "-o", "qa1", "--source-dir", "force-app")),
        ("permset.json", ("org", "assign", "permset", "-o", "qa1", "-n", "MyApp_Admin", "-n", "MyApp_User")),
        ("user.json", ("org", "create", "user", "-o", "qa1")),
        ("open.json", ("org", "open", "-o", "qa1", "--url-only")),
        ("delete.json", ("org", "delete", "scratch", "-o", "qa1", "-p")),
        ("limits.json", ("org", "list", "limits", "-o", "qa1")),
        ("import.json", ("data", "import", "tree", "-o", "qa1", "-p", "data/sample-data-plan.json")),
    ],
)
def test_unknown_alias_errors_match_the_real_cli(fake: FakeSf, reference: str, args: tuple[str, ...]) -> None:
    expected = _reference(reference)
    proc = fake.run(*args, "--json")
    assert proc.returncode == expected["exitCode"]
    _assert_same_error(json.loads(proc.stdout), expected)


def test_unknown_alias_without_json_prints_the_human_error_on_stderr(fake: FakeSf) -> None:
    proc = fake.run("project", "deploy", "start", "-o", "qa1", "--source-dir", "force-app")
    assert proc.returncode == 2 and proc.stdout == ""
    assert (
        "Error (NamedOrgNotFoundError): Parsing --target-org \n\tNo authorization information found for qa1.\n"
        "See more help with --help\n"
    ) in proc.stderr


def test_unknown_commands_exit_127_without_json_and_unknown_flags_exit_2(fake: FakeSf) -> None:
    for args in (("org", "frobnicate"), ("frobnicate",), ("org", "list", "extra")):
        proc = fake.run(*args, "--json")
        assert proc.returncode == 127, args
        assert proc.stdout == "" and "is not a sf command" in proc.stderr
    for args in (("alias", "set", "qa1=x"), ("config", "set", "target-org=qa1")):  # real commands the fake lacks
        proc = fake.run(*args, "--json")
        assert proc.returncode == 99 and "does not implement" in proc.stderr, args
    proc = fake.run("org", "list", "--bogus", "--json")
    error = json.loads(proc.stdout)
    assert proc.returncode == 2 and error["message"].startswith("Nonexistent flag: --bogus")
    proc = fake.run("org:list", "stray", "--json")  # spaced, `stray` would be read as part of the command id
    assert proc.returncode == 2 and "Unexpected argument: stray" in json.loads(proc.stdout)["message"]


# --- deploy -------------------------------------------------------------------------------------------------------


def test_deploy_human_mode_streams_progress_then_report_returns_the_result(fake: FakeSf) -> None:
    with_org(fake, delays={"project deploy start": 1.5})
    started = time.monotonic()
    arrivals: list[tuple[float, str]] = []
    with spawn(fake, "project", "deploy", "start", "--target-org", "qa1", "--source-dir", "force-app") as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            arrivals.append((time.monotonic() - started, line.rstrip("\n")))
        code = proc.wait(timeout=10)
    ended = time.monotonic() - started
    assert code == 0
    id_lines = [(t, line) for t, line in arrivals if line.startswith("Deploy ID: ")]
    deploy_id = id_lines[0][1].removeprefix("Deploy ID: ")
    assert re.fullmatch(r"0Af[A-Za-z0-9]{15}", deploy_id)
    assert id_lines[0][0] < ended - 1.0, "the deploy id must arrive long before the command ends"
    progress = [t for t, line in arrivals if line.startswith("Deploying Metadata... Components:")]
    assert len(progress) >= 4
    assert progress[-2] - progress[0] >= 0.8, "progress lines must be spread over the delay"
    assert any(line == "Status: Succeeded" for _, line in arrivals)

    code, report = fake.run_json("project", "deploy", "report", "--job-id", deploy_id)
    assert code == 0
    result = report["result"]
    assert result["id"] == deploy_id and result["status"] == "Succeeded" and result["success"] is True
    assert result["done"] is True and result["numberComponentErrors"] == 0
    assert result["numberComponentsTotal"] == result["numberComponentsDeployed"] == 4  # 3 classes + 1 bundle
    assert {f["state"] for f in result["files"]} == {"Created"}
    assert len(result["files"]) == 9


def test_deploy_json_is_silent_until_done(fake: FakeSf) -> None:
    with_org(fake, delays={"project deploy start": 0.6})
    started = time.monotonic()
    proc = fake.run("project", "deploy", "start", "-o", "qa1", "-d", "force-app", "--json")
    assert time.monotonic() - started >= 0.6
    document = json.loads(proc.stdout)  # the whole of stdout is one document
    assert proc.returncode == 0 and document["status"] == 0
    assert document["result"]["status"] == "Succeeded"


def _deploy(fake: FakeSf, scenario: str) -> tuple[int, dict[str, Any]]:
    with_org(fake, scenarios={"project deploy start": scenario})
    return fake.run_json("project", "deploy", "start", "-o", "qa1", "-d", "force-app")


FAILURE_KEYS = {"componentType", "fullName", "fileName", "problem", "problemType", "lineNumber", "columnNumber"}


def test_deploy_fail_array_shape(fake: FakeSf) -> None:
    code, document = _deploy(fake, "fail-array")
    assert code == 1 and document["status"] == 1 and "name" not in document
    result = document["result"]
    assert result["success"] is False and result["status"] == "Failed" and result["done"] is True
    failures = result["details"]["componentFailures"]
    assert isinstance(failures, list) and len(failures) == 2 == result["numberComponentErrors"]
    for failure in failures:
        assert set(failure) >= FAILURE_KEYS
        assert failure["problemType"] == "Error"
        assert isinstance(failure["lineNumber"], str) and failure["lineNumber"].isdigit()
        assert isinstance(failure["columnNumber"], str)
    assert failures[0]["fileName"].startswith("classes/")


def test_deploy_fail_object_shape(fake: FakeSf) -> None:
    code, document = _deploy(fake, "fail-object")
    assert code == 1 and document["status"] == 1
    failure = document["result"]["details"]["componentFailures"]
    assert isinstance(failure, dict) and set(failure) >= FAILURE_KEYS
    assert failure["lineNumber"] == "12" and failure["columnNumber"] == "5"


def test_deploy_fail_files_shape(fake: FakeSf) -> None:
    code, document = _deploy(fake, "fail-files")
    assert code == 1
    result = document["result"]
    assert "componentFailures" not in result["details"] and result["success"] is False
    failed = [f for f in result["files"] if f["state"] == "Failed"]
    assert len(failed) == 2
    for entry in failed:
        assert {"fullName", "type", "filePath", "error", "problemType", "lineNumber", "columnNumber"} <= set(entry)
        assert isinstance(entry["lineNumber"], int)


def test_deploy_partial_exits_68_and_report_by_job_id_repeats_failures(fake: FakeSf) -> None:
    code, document = _deploy(fake, "partial")
    assert code == 68 and document["status"] == 68
    assert document["result"]["status"] == "SucceededPartial" and document["result"]["success"] is True
    code, report = fake.run_json("project", "deploy", "report", "-i", document["result"]["id"])
    assert code == 0 and report["result"] == document["result"]  # report exits 0 whatever the status


def test_deploy_human_failure_prints_a_failure_table(fake: FakeSf) -> None:
    with_org(fake, scenarios={"project deploy start": "fail-array"})
    proc = fake.run("project", "deploy", "start", "-o", "qa1", "-d", "force-app")
    assert proc.returncode == 1
    assert "Status: Failed" in proc.stdout and "Component Failures [2]" in proc.stdout
    assert "Variable does not exist" in proc.stdout


def test_deploy_report_unknown_id_and_async_in_progress(fake: FakeSf) -> None:
    with_org(fake, delays={"project deploy start": 30})
    code, error = fake.run_json("project", "deploy", "report", "--job-id", "0Af000000000000AAA")
    assert code == 1 and error["name"] == "InvalidJobIdError"
    code, queued = fake.run_json("project", "deploy", "start", "-o", "qa1", "-d", "force-app", "--async")
    assert code == 0 and queued["result"]["done"] is False
    code, running = fake.run_json("project", "deploy", "report", "--job-id", queued["result"]["id"])
    assert code == 0 and running["result"]["status"] == "InProgress"


def test_deploy_missing_source_dir_exits_2(fake: FakeSf) -> None:
    with_org(fake)
    code, error = fake.run_json("project", "deploy", "start", "-o", "qa1", "-d", "nowhere")
    assert code == 2 and "nowhere" in error["message"]


def _group_members(pgid: int) -> list[tuple[int, str]]:
    """(pid, state) of live processes in a process group, read from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append((int(entry.name), fields[0]))
    return members


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_hang_holds_a_child_and_killing_the_group_leaves_nothing(fake: FakeSf) -> None:
    with_org(fake, scenarios={"project deploy start": "hang"})
    with spawn(fake, "project", "deploy", "start", "-o", "qa1", "-d", "force-app", new_session=True) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("Deploying v")
        assert proc.stdout.readline().startswith("Deploy ID: 0Af")
        deadline = time.monotonic() + 5
        while len(_group_members(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_group_members(proc.pid)) >= 2, "hang must hold a child process"
        assert proc.poll() is None
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=3) == -signal.SIGTERM
        deadline = time.monotonic() + 3
        while _group_members(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _group_members(proc.pid) == []


# --- data, users, permission sets, open, limits ---------------------------------------------------------------------


def test_data_import_tree_from_plan_and_fail_scenario(fake: FakeSf) -> None:
    with_org(fake)
    data = fake.project / "data"
    data.mkdir()
    (data / "plan.json").write_text(json.dumps([{"sobject": "Account", "saveRefs": True, "files": ["Account.json"]}]))
    (data / "Account.json").write_text(
        json.dumps(
            {
                "records": [
                    {"attributes": {"type": "Account", "referenceId": "AcmeRef"}, "Name": "Acme"},
                    {"attributes": {"type": "Account", "referenceId": "GlobexRef"}, "Name": "Globex"},
                ]
            }
        )
    )
    code, imported = fake.run_json("data", "import", "tree", "-o", "qa1", "--plan", "data/plan.json")
    assert code == 0
    assert [(r["refId"], r["type"]) for r in imported["result"]] == [("AcmeRef", "Account"), ("GlobexRef", "Account")]
    assert all(re.fullmatch(r"001[A-Za-z0-9]{15}", r["id"]) for r in imported["result"])

    fake.write_state({**fake.state(), "scenarios": {"data import tree": "fail"}})
    code, error = fake.run_json("data", "import", "tree", "-o", "qa1", "-p", "data/plan.json")
    assert code == 1 and error["name"] == "SfError" and error["message"] == "Data Import failed"
    assert set(error["data"][0]) == {"referenceId", "StatusCode", "Message", "fields"}


def test_create_user_success_duplicate_and_partial(fake: FakeSf) -> None:
    with_org(fake)
    (fake.project / "config" / "user-def.json").write_text(json.dumps({"Username": "qa@acme.test", "LastName": "QA"}))
    args = ("org", "create", "user", "-o", "qa1", "--definition-file", "config/user-def.json")
    code, created = fake.run_json(*args)
    assert code == 0
    result = created["result"]
    assert result["orgId"] == "00D000000000001AAA" and result["permissionSetAssignments"] == []
    assert result["fields"]["username"] == "qa@acme.test" and result["fields"]["lastname"] == "QA"
    assert re.fullmatch(r"005[A-Za-z0-9]{15}", result["fields"]["id"])
    code, error = fake.run_json(*args)
    assert code == 1 and error["name"] == "duplicateUsername"

    fake.write_state({**fake.state(), "scenarios": {"org create user": ["duplicate-username", "partial"]}})
    code, error = fake.run_json("org", "create", "user", "-o", "qa1")
    assert code == 1 and error["name"] == "duplicateUsername"
    code, partial = fake.run_json("org", "create", "user", "-o", "qa1")
    assert code == 68 and partial["status"] == 68 and partial["result"]["fields"]["id"]


def test_permset_duplicate_and_missing(fake: FakeSf) -> None:
    with_org(fake, assignedPermsets={"qa1": ["MyApp_Admin"]}, missingPermsets=["Bad"])
    code, document = fake.run_json(
        "org", "assign", "permset", "-o", "qa1", "-n", "MyApp_Admin", "-n", "MyApp_User", "--name", "Bad"
    )
    assert code == 68 and document["status"] == 68
    assert document["result"]["successes"] == [{"name": "test-qa1@example.com", "value": "MyApp_User"}]
    messages = [f["message"] for f in document["result"]["failures"]]
    assert len(messages) == 2
    assert "Duplicate" in messages[0]
    assert messages[1] == 'Permission set "Bad" not found in target org.'
    code, document = fake.run_json("org", "assign", "permset", "-o", "qa1", "-n", "MyApp_User")
    assert code == 1 and document["status"] == 1 and document["result"]["successes"] == []
    code, document = fake.run_json("org", "assign", "permset", "-o", "test-qa1@example.com", "-n", "Other")
    assert code == 0 and document["result"]["failures"] == []
    assert sorted(fake.state()["assignedPermsets"]["qa1"]) == ["MyApp_Admin", "MyApp_User", "Other"]


def test_open_url_only_is_a_single_use_frontdoor_url(fake: FakeSf) -> None:
    with_org(fake)
    urls = []
    for _ in range(2):
        code, document = fake.run_json("org", "open", "-o", "qa1", "-r")
        assert code == 0
        result = document["result"]
        assert set(result) == {"url", "username", "orgId"}
        assert re.fullmatch(
            r"https://qa1\.scratch\.my\.salesforce\.com/secur/frontdoor\.jsp\?otp=[A-Za-z0-9]{40}&startURL=%2F",
            result["url"],
        )
        assert document["warnings"][0].startswith("This command will expose sensitive information")
        urls.append(result["url"])
    assert urls[0] != urls[1]


def test_org_list_limits_reports_state_limits(fake: FakeSf) -> None:
    with_org(
        fake,
        limits={"ActiveScratchOrgs": {"max": 40, "remaining": 38}, "DailyScratchOrgs": {"max": 80, "remaining": 70}},
    )
    code, document = fake.run_json("org", "list", "limits", "--target-org", HUB)
    assert code == 0
    limits = {entry["name"]: entry for entry in document["result"]}
    assert limits["ActiveScratchOrgs"] == {"name": "ActiveScratchOrgs", "max": 40, "remaining": 38}
    assert limits["DailyScratchOrgs"] == {"name": "DailyScratchOrgs", "max": 80, "remaining": 70}
    assert len(limits) > 2


# --- the invocation log and the state file ------------------------------------------------------------------------


def test_invocation_log_records_argv_times_and_exit_codes(fake: FakeSf) -> None:
    with_org(fake, delays={"org list": 0.2})
    fake.run("org", "list", "--json")
    fake.run("org", "open", "-o", "nobody", "--json")
    first, second = fake.log()
    assert first["argv"] == ["org", "list", "--json"] and first["exitCode"] == 0
    assert first["end"] - first["start"] >= 0.2
    assert second["argv"] == ["org", "open", "-o", "nobody", "--json"] and second["exitCode"] == 2
    assert first["end"] <= second["start"] and isinstance(second["pid"], int)


def test_broken_state_file_fails_loudly(fake: FakeSf) -> None:
    fake.state_path.write_text("{not json")
    proc = fake.run("org", "list", "--json")
    assert proc.returncode == 99 and "not valid JSON" in proc.stderr
