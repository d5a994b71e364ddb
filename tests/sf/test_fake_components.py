"""The fake `sf`'s economics, run as a real subprocess: what each org holds after deploys (a file resolves to its
whole component, as in the real CLI) and a deploy's duration growing with its number of components."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sidecar.fakesf import executable_path
from sidecar.fakesf.components import deployed_files, source_files

HUB = "hub@example.com"
CLASSES = "force-app/main/default/classes"
BUNDLE = "force-app/main/default/lwc/greeting"


class Project:
    """An sfdx project (three classes and one bundle), a state file with two orgs, and a way to run the fake."""

    def __init__(self, root: Path, **state: Any) -> None:
        self.root = root / "pro ject"
        self.state_path = root / "state.json"
        for name in ("AccountService", "ContactService", "Util"):
            self.write(f"{CLASSES}/{name}.cls", f"public class {name} {{}}\n")
            self.write(f"{CLASSES}/{name}.cls-meta.xml", "<ApexClass/>\n")
        for name in ("greeting.js", "greeting.html", "greeting.js-meta.xml"):
            self.write(f"{BUNDLE}/{name}", f"{name}\n")
        self.write("force-app/main/default/lwc/jsconfig.json", "{}\n")
        self.write("sfdx-project.json", '{"packageDirectories": [{"path": "force-app", "default": true}]}')
        expires = (dt.date.today() + dt.timedelta(days=5)).isoformat()
        orgs = [
            {"alias": alias, "username": f"test-{alias}@example.com", "expirationDate": expires, "status": "Active"}
            for alias in ("qa1", "qa2")
        ]
        self.state_path.write_text(json.dumps({"devHub": HUB, "orgs": orgs, "noise": False, **state}))

    def write(self, relative: str, text: str) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = json.loads(self.state_path.read_text())
        return state

    def held(self, alias: str = "qa1") -> dict[str, str]:
        return deployed_files(self.state(), f"test-{alias}@example.com")

    def deploy(self, *sources: str, org: str = "qa1", extra: tuple[str, ...] = ()) -> tuple[int, dict[str, Any]]:
        proc = self.start_deploy(*sources, org=org, extra=extra)
        out, _ = proc.communicate(timeout=30)
        return proc.returncode, json.loads(out)

    def start_deploy(self, *sources: str, org: str = "qa1", extra: tuple[str, ...] = ()) -> subprocess.Popen[str]:
        argv = [str(executable_path()), "project", "deploy", "start", "--target-org", org, "--json", *extra]
        for source in sources:
            argv += ["--source-dir", source]
        return subprocess.Popen(
            argv,
            cwd=self.root,
            env={**os.environ, "SF_FAKE_STATE": str(self.state_path)},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


def test_a_full_deploy_leaves_the_org_holding_the_source_tree(project: Project) -> None:
    code, document = project.deploy("force-app")
    assert code == 0 and document["result"]["numberComponentsDeployed"] == 4
    held = project.held()
    assert held == source_files(project.root / "force-app")
    assert f"{CLASSES}/Util.cls-meta.xml" in held and f"{BUNDLE}/greeting.html" in held
    assert "force-app/main/default/lwc/jsconfig.json" not in held  # not part of any component
    assert project.held("qa2") == {}


@pytest.mark.parametrize(
    "given, expected",
    [
        (f"{CLASSES}/Util.cls", [f"{CLASSES}/Util.cls", f"{CLASSES}/Util.cls-meta.xml"]),
        (f"{CLASSES}/Util.cls-meta.xml", [f"{CLASSES}/Util.cls", f"{CLASSES}/Util.cls-meta.xml"]),
        (
            f"{BUNDLE}/greeting.js",
            [f"{BUNDLE}/greeting.html", f"{BUNDLE}/greeting.js", f"{BUNDLE}/greeting.js-meta.xml"],
        ),
    ],
)
def test_one_file_resolves_to_its_whole_component(project: Project, given: str, expected: list[str]) -> None:
    code, document = project.deploy(str(project.root / given))
    assert code == 0
    result = document["result"]
    assert result["numberComponentsTotal"] == 1
    assert sorted(project.held()) == expected
    assert sorted(Path(f["filePath"]).relative_to(project.root).as_posix() for f in result["files"]) == expected


def test_deploys_add_and_replace_components_and_never_remove_one(project: Project) -> None:
    project.deploy("force-app")
    project.write(f"{CLASSES}/Util.cls", "public class Util { Integer changed; }\n")
    assert project.held() != source_files(project.root / "force-app")  # the org is behind until it gets the file
    project.deploy(f"{CLASSES}/Util.cls")
    assert project.held() == source_files(project.root / "force-app")
    (project.root / BUNDLE / "greeting.html").unlink()
    project.write(f"{BUNDLE}/greeting.js", "changed\n")
    project.deploy(f"{BUNDLE}/greeting.js")
    held = project.held()
    assert f"{BUNDLE}/greeting.html" not in held, "a redeployed bundle is replaced whole"
    assert held == source_files(project.root / "force-app")
    (project.root / CLASSES / "ContactService.cls").unlink()
    (project.root / CLASSES / "ContactService.cls-meta.xml").unlink()
    project.deploy("force-app")
    assert f"{CLASSES}/ContactService.cls" in project.held(), "a deploy never deletes metadata"


def test_failed_deploys_record_nothing_and_partial_ones_leave_the_failures_out(project: Project) -> None:
    state = project.state()
    project.state_path.write_text(
        json.dumps({**state, "scenarios": {"project deploy start": ["fail-array", "partial"]}})
    )
    code, _ = project.deploy("force-app")
    assert code == 1 and project.held() == {}
    code, document = project.deploy("force-app")
    assert code == 68
    failures = document["result"]["details"]["componentFailures"]
    failed = failures if isinstance(failures, list) else [failures]
    held_names = {Path(p).name for p in project.held()}
    assert len(failed) == 1 and held_names
    assert not any(Path(p).name.startswith(failed[0]["fullName"] + ".") for p in project.held())


def _span(result: dict[str, Any]) -> float:
    def parse(stamp: str) -> dt.datetime:
        return dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z")

    return (parse(result["completedDate"]) - parse(result["startDate"])).total_seconds()


def test_a_deploys_duration_is_a_start_cost_plus_a_cost_per_component(tmp_path: Path) -> None:
    # --async returns at once; the stored result says when the deploy finishes, so no test has to wait for it.
    project = Project(tmp_path, deployCost={"start": 30, "perComponent": 7}, delays={"project deploy start": 1000})
    ids = []
    for sources, components in (((f"{CLASSES}/Util.cls",), 1), (("force-app",), 4)):
        code, document = project.deploy(*sources, extra=("--async",))
        assert code == 0 and document["result"]["status"] == "Queued"
        ids.append((document["result"]["id"], components))
    deploys = project.state()["deploys"]
    for deploy_id, components in ids:
        record = deploys[deploy_id]
        assert record["finishAt"] - record["startedAt"] == pytest.approx(30 + 7 * components, abs=0.01)
        assert _span(record["result"]) == pytest.approx(30 + 7 * components, abs=0.01)


def test_without_deploy_cost_the_commands_delay_applies(tmp_path: Path) -> None:
    project = Project(tmp_path, delays={"project deploy start": 42})
    _, document = project.deploy("force-app", extra=("--async",))
    record = project.state()["deploys"][document["result"]["id"]]
    assert record["finishAt"] - record["startedAt"] == pytest.approx(42, abs=0.01)


@pytest.mark.parametrize("cost", [{"start": "soon"}, {"perComponent": -1}, [1, 2]])
def test_a_bad_deploy_cost_is_the_fakes_own_failure(tmp_path: Path, cost: Any) -> None:
    project = Project(tmp_path, deployCost=cost)
    proc = project.start_deploy("force-app")
    proc.communicate(timeout=30)
    assert proc.returncode == 99
    assert project.held() == {}


def test_parallel_deploys_to_two_orgs_each_record_their_own(project: Project) -> None:
    procs = [project.start_deploy("force-app", org="qa1"), project.start_deploy(f"{CLASSES}/Util.cls", org="qa2")]
    for proc in procs:
        proc.communicate(timeout=30)
        assert proc.returncode == 0
    assert project.held("qa1") == source_files(project.root / "force-app")
    assert sorted(project.held("qa2")) == [f"{CLASSES}/Util.cls", f"{CLASSES}/Util.cls-meta.xml"]
