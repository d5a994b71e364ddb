"""Issue 12: the fake `sf` signs up, times out and resumes as the real CLI does (plugin-org's `org create scratch`
and `org resume scratch`, @salesforce/core's scratchOrgResume): `--async` returns the job id at once, a `--wait`
that runs out exits 69 with the job id only in its message, the signup goes on and `org resume scratch` finishes
it (or says it is still under way, or that it failed), keeping the org's state in between."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.fakesf import FakeSf

HUB = "hub@example.com"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "proj" / "config").mkdir(parents=True)
    (tmp_path / "proj" / "config" / "def.json").write_text('{"edition": "Developer", "orgName": "QA"}')
    return tmp_path / "proj"


def run(fake: FakeSf, cwd: Path, *args: str) -> tuple[int, dict[str, Any]]:
    proc = subprocess.run(
        [fake.path, *args, "--json"],
        cwd=cwd,
        env={**fake.env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        timeout=60,
    )
    return proc.returncode, json.loads(proc.stdout)


CREATE = ("org", "create", "scratch", "--definition-file", "config/def.json", "--alias", "qa1", "--duration-days", "3")


def test_async_returns_the_job_id_at_once_and_resume_finishes_it(fake_sf: FakeSf, project: Path) -> None:
    # The Dev Hub takes 4 s: room for two fake starts on a loaded machine before the first resume, which must still
    # find the signup under way.
    fake_sf.write({"devHub": HUB, "orgs": [], "noise": False, "delays": {"org create scratch": 4.0}})
    started = time.monotonic()
    code, doc = run(fake_sf, project, *CREATE, "--async")
    assert code == 0 and time.monotonic() - started < 3.5  # the Dev Hub's time is not waited for
    result = doc["result"]
    assert set(result) == {"username", "scratchOrgInfo", "warnings"}  # plugin-org's async NUT: exactly these
    job_id = result["scratchOrgInfo"]["Id"]
    assert re.fullmatch(r"2SR[A-Za-z0-9]{15}", job_id) and result["scratchOrgInfo"]["Status"] == "New"
    assert result["username"] == result["scratchOrgInfo"]["SignupUsername"]
    assert fake_sf.read()["orgs"] == []  # not authorized yet: org list does not show it

    code, doc = run(fake_sf, project, "org", "resume", "scratch", "--job-id", job_id)  # --wait 0: answer at once
    assert (code, doc["name"], doc["exitCode"]) == (1, "StillInProgressError", 1)
    assert doc["actions"] == ["Increase the --wait time because creating a scratch org can take a while."]

    code, doc = run(fake_sf, project, "org", "resume", "scratch", "--job-id", job_id, "--wait", "1")
    assert code == 0 and set(doc["result"]) == {"username", "scratchOrgInfo", "authFields", "warnings", "orgId"}
    assert doc["result"]["username"] == result["username"] and doc["result"]["orgId"].startswith("00D")
    assert doc["result"]["scratchOrgInfo"]["Status"] == "Active"
    (org,) = fake_sf.read()["orgs"]
    assert org["alias"] == "qa1" and org["username"] == result["username"]
    assert fake_sf.read()["signups"] == {}

    code, doc = run(fake_sf, project, "org", "resume", "scratch", "--job-id", job_id)
    assert (code, doc["name"]) == (1, "CacheMissError")  # the job left the CLI's cache when it completed
    assert doc["message"] == f"The ScratchOrgInfoId {job_id} was not found in the cache."


def test_a_wait_that_runs_out_exits_69_and_the_signup_completes_later(fake_sf: FakeSf, project: Path) -> None:
    fake_sf.write({"devHub": HUB, "orgs": [], "noise": False, "scenarios": {"org create scratch": "timeout"}})
    code, doc = run(fake_sf, project, *CREATE, "--wait", "5")
    assert code == 69
    # OrgCreateScratch's `this.error(..., {code: '69', exit: 69})`: a plain Error; the job id only in the text.
    assert {k: doc[k] for k in ("name", "exitCode", "code", "status", "commandName")} == {
        "name": "Error",
        "exitCode": 69,
        "code": "69",
        "status": 69,
        "commandName": "OrgCreateScratch",
    }
    assert "data" not in doc
    found = re.fullmatch(
        r"The scratch org did not complete within your wait time\. Resume scratch org creation by running "
        r'"sf org resume scratch --job-id (2SR\w{15})"',
        doc["message"],
    )
    assert found is not None
    assert fake_sf.read()["orgs"] == []
    code, doc = run(fake_sf, project, "org", "resume", "scratch", "--use-most-recent")
    assert code == 0 and doc["result"]["scratchOrgInfo"]["Id"] == found.group(1)
    assert [o["alias"] for o in fake_sf.read()["orgs"]] == ["qa1"]


def test_resume_scenarios_and_refusals(fake_sf: FakeSf, project: Path) -> None:
    fake_sf.write(
        {
            "devHub": HUB,
            "orgs": [],
            "noise": False,
            "limits": {"ActiveScratchOrgs": {"max": 5, "remaining": 5}},
            "scenarios": {
                "org create scratch": [None, "signup-failed", "settings-failed"],
                "org resume scratch": ["timeout"],
            },
        }
    )
    ids = [run(fake_sf, project, *CREATE, "--async")[1]["result"]["scratchOrgInfo"]["Id"] for _ in range(3)]
    assert fake_sf.read()["limits"]["ActiveScratchOrgs"]["remaining"] == 2  # each signup takes its slot at once

    code, doc = run(fake_sf, project, "org", "resume", "scratch", "--job-id", ids[0], "--wait", "10")
    assert (code, doc["name"]) == (1, "ScratchOrgResumeTimeOutError")  # the scenario's wait ran out at once
    assert doc["message"] == "The client has timed out. (Last known Status: Creating)"
    assert run(fake_sf, project, "org", "resume", "scratch", "--job-id", ids[0], "--wait", "10")[0] == 0

    code, doc = run(fake_sf, project, "org", "resume", "scratch", "--job-id", ids[1])
    assert (code, doc["name"]) == (1, "RemoteOrgSignupFailed")
    assert fake_sf.read()["limits"]["ActiveScratchOrgs"]["remaining"] == 3  # a failed signup frees its slot

    code, doc = run(fake_sf, project, "org", "resume", "scratch", "--job-id", ids[2])
    assert (code, doc["name"]) == (68, "ProblemDeployingSettings")
    assert doc["data"]["username"] in {o["username"] for o in fake_sf.read()["orgs"]}  # authorized: deletable
    assert (
        run(fake_sf, project, "org", "delete", "scratch", "--target-org", doc["data"]["username"], "--no-prompt")[0]
        == 0
    )

    code, doc = run(fake_sf, project, "org", "resume", "scratch", "--use-most-recent")
    assert (code, doc["name"]) == (1, "NoRecentJobIdError")
    for bad, why in (("2SR123", "must be 15 or 18"), ("00D000000000001AAA", "must begin with 2SR")):
        code, doc = run(fake_sf, project, "org", "resume", "scratch", "--job-id", bad)
        assert code == 2 and why in doc["message"]
    code, doc = run(fake_sf, project, "org", "resume", "scratch")
    assert code == 2 and "Exactly one of the following must be provided" in doc["message"]
    code, doc = run(fake_sf, project, "org", "resume", "scratch", "--job-id", ids[0], "--use-most-recent")
    assert code == 2
