"""agent:provision over real pipes with the fake `sf`: the pipeline, its streaming, and every error branch of §4."""

from __future__ import annotations

import json
import re
from pathlib import Path

import anyio
import pytest

from sidecar.devtools.client import RpcError, SidecarProcess
from tests.support.fakesf import FakeSf, scratch_org
from tests.support.provisioning import (
    HUB,
    config,
    fake_state,
    home_bytes,
    make_worktree,
    processes_with,
    provision_in_background,
    statuses,
    terminal_text,
)

pytestmark = pytest.mark.anyio


async def test_new_org_full_pipeline_streams_and_reaches_qa_ready(home: Path, tmp_path: Path, fake_sf: FakeSf) -> None:
    worktree = make_worktree(tmp_path / "wt")
    fake_sf.write(
        fake_state(
            noise=True,
            delays={
                "project deploy start": 1.2,
                "data import tree": 0.6,
                "org create user": 0.6,
                "org assign permset": 0.6,
            },
        )
    )
    settings = fake_sf.settings(permissionSets=["QA_Admin", "QA_User"], devHub=HUB, defaultDurationDays=3)
    async with SidecarProcess.start(home, settings=settings, env=fake_sf.env) as sc:
        result = await sc.call("agent:provision", config("a1", worktree), timeout=30)

        assert result["success"] is True and result["queued"] is False
        assert result["errors"] == [] and result["warnings"] == []
        assert result["loginUrl"].startswith("https://") and "frontdoor.jsp?otp=" in result["loginUrl"]
        assert [s["name"] for s in result["steps"]] == ["org", "deploy", "data", "users", "permsets", "login"]
        assert all(s["status"] == "ok" for s in result["steps"]), result["steps"]
        assert result["org"]["alias"] == "qa-a1" and result["org"]["assignedAgentId"] == "a1"
        assert result["org"]["source"] == "provisioned" and result["org"]["status"] == "leased"
        lease = await sc.call("org:lease", "a1")
        assert lease["id"] == result["org"]["id"]

        # Status: PROVISIONING through the steps, then QA_READY.
        seen = statuses(sc, "a1")
        assert [s["status"] for s in seen][-1] == "QA_READY"
        assert {s["step"] for s in seen if s["status"] == "PROVISIONING"} == {
            "org", "deploy", "data", "users", "permsets", "login"
        }  # fmt: skip

        # The pane: each command echoed first, progress while the deploy ran, sections in pipeline order.
        text = terminal_text(sc, "a1")
        echoes = [line for line in text.splitlines() if line.startswith("$ sf ")]
        assert [e.split()[2:4] for e in echoes] == [
            ["org", "create"], ["org", "resume"], ["project", "deploy"], ["project", "deploy"], ["data", "import"],
            ["org", "create"], ["org", "assign"], ["org", "open"],
        ]  # fmt: skip
        assert text.count("Deploying Metadata... Components:") >= 2
        assert text.index("Deploy ID: 0Af") < text.index("Status: Succeeded")
        assert "Imported 1 record (Account 1)" in text and "Created QA user" in text
        assert "Permission sets: assigned QA_Admin, QA_User" in text

        # Progress arrived while the deploy ran, not in one piece at the end.
        deploy_chunks = [
            n for n in sc.notifications
            if n["method"] == "terminal:output" and "Deploying Metadata... Components" in n["params"]["data"]
        ]  # fmt: skip
        assert len(deploy_chunks) >= 2

    calls = fake_sf.calls()
    create = next(c["argv"] for c in calls if c["argv"][:3] == ["org", "create", "scratch"])
    assert create[create.index("--definition-file") + 1] == str(worktree / "config" / "project-scratch-def.json")
    assert create[create.index("--duration-days") + 1] == "3"
    assert create[create.index("--target-dev-hub") + 1] == HUB
    assert create[create.index("--alias") + 1] == "qa-a1"
    assert "-d" not in create and "--set-default" not in create
    deploy = next(c for c in calls if c["argv"][:3] == ["project", "deploy", "start"])
    assert "--json" not in deploy["argv"]
    assert deploy["argv"][deploy["argv"].index("--source-dir") + 1] == str(worktree / "force-app")
    assert deploy["cwd"] == str(worktree)
    permset = next(c["argv"] for c in calls if c["argv"][:3] == ["org", "assign", "permset"])
    assert permset.count("--name") == 2  # one call for all sets
    # Data, users and permission sets ran side by side (their 0.6 s delays overlap).
    middle = [
        c
        for c in calls
        if c["argv"][:3] in (["data", "import", "tree"], ["org", "create", "user"], ["org", "assign", "permset"])
    ]
    assert len(middle) == 3
    assert max(c["start"] for c in middle) < min(c["end"] for c in middle)

    # The frontdoor URL is a credential: in the response only.
    token = re.search(r"otp=([A-Za-z0-9]+)", result["loginUrl"]).group(1)
    assert token not in json.dumps(sc.notifications)
    assert token.encode() not in home_bytes(home)  # database, WAL and stderr log
    assert "otp=" not in (home / "stderr.log").read_text()
    # Nor does any access token (`00D...!...`, which `org create scratch --json` prints) reach them.
    session = re.compile(rb"00D[A-Za-z0-9]{12,15}![A-Za-z0-9._]{8}")
    assert not session.search(json.dumps(sc.notifications).encode())
    assert not session.search(home_bytes(home))


async def test_second_provision_reuses_the_org_and_claim_comes_before_create(
    home: Path, tmp_path: Path, fake_sf: FakeSf
) -> None:
    worktree = make_worktree(tmp_path / "wt", data=False, users=False)
    fake_sf.write(fake_state(noise=True, orgs=[scratch_org("pool1")]))
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        registered = await sc.call("org:register", "pool1")
        first = await sc.call("agent:provision", config("a1", worktree), timeout=30)
        assert first["success"] and first["org"]["id"] == registered["id"]
        assert "Claimed org pool1 from the pool." in terminal_text(sc, "a1")
        steps = {s["name"]: s["status"] for s in first["steps"]}
        assert steps["data"] == "skipped" and steps["users"] == "skipped" and steps["permsets"] == "skipped"
        second = await sc.call("agent:provision", config("a1", worktree), timeout=30)
        assert second["success"] and second["org"]["id"] == registered["id"]
        assert "Reusing org pool1" in terminal_text(sc, "a1")
    argvs = [c["argv"] for c in fake_sf.calls()]
    assert not any(a[:3] == ["org", "create", "scratch"] for a in argvs)
    assert sum(a[:3] == ["project", "deploy", "start"] for a in argvs) == 2


async def test_deploy_failures_in_every_shape(home: Path, tmp_path: Path, fake_sf: FakeSf) -> None:
    worktree = make_worktree(tmp_path / "wt", data=False, users=False)
    fake_sf.write(
        fake_state(
            noise=True,
            orgs=[scratch_org("pool1")],
            scenarios={"project deploy start": ["fail-array", "fail-object", "fail-files", "partial"]},
        )
    )
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        pooled = await sc.call("org:register", "pool1")
        results = [await sc.call("agent:provision", config("a1", worktree), timeout=30) for _ in range(4)]

        array, single, files, partial = results
        class_file = "force-app/main/default/classes/Service1.cls"
        for failed, count in ((array, 2), (single, 1), (files, 2)):
            assert failed["success"] is False and failed["loginUrl"] is None and failed["queued"] is False
            assert len(failed["errors"]) == count, failed["errors"]
            assert {s["name"]: s["status"] for s in failed["steps"]}["deploy"] == "failed"
            assert {s["name"]: s["status"] for s in failed["steps"]}["login"] == "skipped"
            assert failed["org"]["id"] == pooled["id"]  # stays leased so the agent can fix and retry
        assert array["errors"][0] == f"ApexClass Service1 ({class_file}:12:5): Variable does not exist: acount"
        assert (
            array["errors"][1].startswith("ApexClass Service2 (") and ":27:1): Missing ';' at '}'" in array["errors"][1]
        )
        assert single["errors"] == [f"ApexClass Service1 ({class_file}:12:5): Variable does not exist: acount"]
        assert files["errors"][0] == f"ApexClass Service1 ({class_file}:12:5): Variable does not exist: acount"

        assert partial["success"] is True and partial["loginUrl"]
        assert any("Service1" in w and "acount" in w for w in partial["warnings"])
        assert {s["name"]: s["status"] for s in partial["steps"]}["deploy"] == "warning"

        errors = [s for s in statuses(sc, "a1") if s["status"] == "ERROR"]
        assert len(errors) == 3 and all(s["step"] == "deploy" for s in errors)
        assert errors[0]["errors"] == array["errors"]
        assert (await sc.call("org:lease", "a1"))["id"] == pooled["id"]


async def test_data_user_and_permset_failures_are_warnings(home: Path, tmp_path: Path, fake_sf: FakeSf) -> None:
    worktree = make_worktree(tmp_path / "wt")
    fake_sf.write(
        fake_state(
            noise=True,
            orgs=[scratch_org("pool1")],
            scenarios={"data import tree": "fail", "org create user": "duplicate-username"},
            missingPermsets=["Missing_Set"],
            assignedPermsets={"pool1": ["Already_Set"]},
        )
    )
    settings = fake_sf.settings(permissionSets=["Already_Set", "Missing_Set", "Fine_Set", "-o prod"])
    async with SidecarProcess.start(home, settings=settings, env=fake_sf.env) as sc:
        await sc.call("org:register", "pool1")
        result = await sc.call("agent:provision", config("a1", worktree), timeout=30)
        assert result["success"] is True and result["loginUrl"]
        assert statuses(sc, "a1")[-1]["status"] == "QA_READY"
        steps = {s["name"]: s["status"] for s in result["steps"]}
        assert steps == {
            "org": "ok",
            "deploy": "ok",
            "data": "warning",
            "users": "warning",
            "permsets": "warning",
            "login": "ok",
        }
        warnings = "\n".join(result["warnings"])
        assert "Sample data was not loaded" in warnings and "REQUIRED_FIELD_MISSING" in warnings
        assert "QA user was not created (duplicateUsername" in warnings
        assert 'Permission set Missing_Set was not assigned: Permission set "Missing_Set" not found' in warnings
        assert "'-o prod' is not a permission set API name" in warnings
        assert "Already_Set" not in warnings  # already assigned counts as done
        assert "already assigned Already_Set" in terminal_text(sc, "a1")
    permset = next(c["argv"] for c in fake_sf.calls() if c["argv"][:3] == ["org", "assign", "permset"])
    assert "-o prod" not in permset


async def test_step_timeout_kills_the_hung_command_and_names_the_step(
    home: Path, tmp_path: Path, fake_sf: FakeSf
) -> None:
    worktree = make_worktree(tmp_path / "wt", data=False, users=False)
    fake_sf.write(fake_state(noise=True, orgs=[scratch_org("pool1")], scenarios={"project deploy start": "hang"}))
    settings = fake_sf.settings(stepTimeoutMinutes=0.03)  # 1.8 s
    async with SidecarProcess.start(home, settings=settings, env=fake_sf.env) as sc:
        await sc.call("org:register", "pool1")
        with anyio.fail_after(15):
            result = await sc.call("agent:provision", config("a1", worktree), timeout=15)
        assert result["success"] is False
        assert len(result["errors"]) == 1 and "deploy" in result["errors"][0] and "timed out" in result["errors"][0]
        assert "orgPool.stepTimeoutMinutes" in result["errors"][0]
        assert statuses(sc, "a1")[-1]["status"] == "ERROR" and statuses(sc, "a1")[-1]["step"] == "deploy"
        # The fake's deploy and its `sleep 1000` child are gone (the whole process group was killed).
        assert processes_with(str(fake_sf.state_path), exclude=(sc.pid,)) == []


async def test_missing_sf_is_a_clear_error_not_a_hang(home: Path, tmp_path: Path, fake_sf: FakeSf) -> None:
    worktree = make_worktree(tmp_path / "wt")
    settings = {"orgPool": {"sfPath": str(tmp_path / "no-such-sf")}}
    async with SidecarProcess.start(home, settings=settings, env=fake_sf.env) as sc:
        result = await sc.call("agent:provision", config("a1", worktree), timeout=15)
        assert result["success"] is False and result["queued"] is False
        assert "Salesforce CLI" in result["errors"][0] and "no-such-sf" in result["errors"][0]
        assert statuses(sc, "a1")[-1]["status"] == "ERROR"


@pytest.mark.parametrize(
    "scenarios, step",
    [
        ({"project deploy report": "garbage"}, "deploy"),
        ({"org create scratch": "garbage"}, "org"),
        ({"org open": "empty-stdout"}, "login"),
    ],
)
async def test_unparsable_cli_output_is_a_clear_error(
    home: Path, tmp_path: Path, fake_sf: FakeSf, scenarios: dict, step: str
) -> None:
    worktree = make_worktree(tmp_path / "wt", data=False, users=False)
    fake_sf.write(fake_state(noise=True, scenarios=scenarios))
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        result = await sc.call("agent:provision", config("a1", worktree), timeout=20)
        assert result["success"] is False
        assert "not JSON" in " ".join(result["errors"]), result["errors"]
        assert {s["name"]: s["status"] for s in result["steps"]}[step] == "failed"
        assert statuses(sc, "a1")[-1] == {
            "agentId": "a1", "status": "ERROR", "step": step, "errors": result["errors"], "warnings": []
        }  # fmt: skip


async def test_creation_errors_other_than_the_limit_end_in_error(home: Path, tmp_path: Path, fake_sf: FakeSf) -> None:
    worktree = make_worktree(tmp_path / "wt", data=False, users=False)
    fake_sf.write(fake_state(noise=True, scenarios={"org create scratch": ["signup-failed", "no-devhub"]}))
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        signup = await sc.call("agent:provision", config("a1", worktree), timeout=20)
        nohub = await sc.call("agent:provision", config("a1", worktree), timeout=20)
        assert signup["queued"] is False and "RemoteOrgSignupFailed" in signup["errors"][0]
        assert nohub["queued"] is False and "NoDefaultDevHubError" in nohub["errors"][0]
        assert await sc.call("provision:queue") == []
        assert (await sc.call("org:status"))["total"] == 0


async def test_worktree_and_settings_path_checks(home: Path, tmp_path: Path, fake_sf: FakeSf) -> None:
    worktree = make_worktree(tmp_path / "wt")
    outside = tmp_path / "secret.json"
    outside.write_text('[{"sobject": "Account", "files": []}]')
    planted = make_worktree(tmp_path / "planted")
    (planted / "data" / "sample-data-plan.json").unlink()
    (planted / "data" / "sample-data-plan.json").symlink_to(outside)
    escaping_dir = make_worktree(tmp_path / "escaping")
    (escaping_dir / "force-app").rename(escaping_dir / "gone")
    (escaping_dir / "force-app").symlink_to(tmp_path / "planted" / "force-app")
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        cases = [
            ({**config("a1", worktree), "worktreePath": "relative/wt"}, "INVALID_PARAMS", "worktreePath"),
            ({**config("a1", worktree), "worktreePath": str(tmp_path / "missing")}, "INVALID_PARAMS", "worktreePath"),
            ({**config("a1", worktree), "worktreePath": str(outside)}, "INVALID_PARAMS", "worktreePath"),
            ({**config("a1", worktree), "orgAlias": "-o prod"}, "INVALID_PARAMS", "alias"),
            ({**config("a1", worktree), "orgAlias": "a;rm -rf ~"}, "INVALID_PARAMS", "alias"),
            ({**config("a1", worktree), "agentId": ""}, "INVALID_PARAMS", "agentId"),
            (config("a1", planted), "ACCESS_DENIED", "resolves outside the worktree"),
            (config("a1", escaping_dir), "ACCESS_DENIED", "resolves outside the worktree"),
        ]
        for params, code, words in cases:
            with pytest.raises(RpcError) as caught:
                await sc.call("agent:provision", params)
            assert caught.value.kind == code, (params, caught.value.message)
            assert words in caught.value.message or words in json.dumps(caught.value.data), caught.value.message
        with pytest.raises(RpcError) as caught:  # the config must be one object, as ipcRenderer.invoke passes it
            await sc.call("agent:provision", "a1", str(worktree))
        assert caught.value.kind == "INVALID_PARAMS"
    assert fake_sf.calls() == []  # nothing ran for any of them

    # Settings paths with '..' or absolute are refused too.
    for bad in ("../secret.json", str(outside)):
        async with SidecarProcess.start(
            tmp_path / f"home{len(bad)}", settings=fake_sf.settings(dataPlanPath=bad), env=fake_sf.env
        ) as sc:
            with pytest.raises(RpcError) as caught:
                await sc.call("agent:provision", config("a1", worktree))
            assert caught.value.kind == "ACCESS_DENIED" and "dataPlanPath" in caught.value.message


async def test_agent_completed_mid_run_stops_it(home: Path, tmp_path: Path, fake_sf: FakeSf) -> None:
    worktree = make_worktree(tmp_path / "wt", data=False, users=False)
    fake_sf.write(fake_state(noise=True, orgs=[scratch_org("pool1")], delays={"project deploy start": 20}))
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        await sc.call("org:register", "pool1")
        async with anyio.create_task_group() as tg:
            outcome: dict = {}
            await provision_in_background(tg, sc, config("a1", worktree), outcome, "Deploy ID")
            await sc.call("agent:completed", "a1")
        assert outcome["success"] is False and "released" in outcome["errors"][0]
        assert statuses(sc, "a1")[-1]["status"] == "ERROR"
        assert processes_with(str(fake_sf.state_path), exclude=(sc.pid,)) == []


async def test_a_side_by_side_step_timing_out_is_named_and_its_siblings_finish(
    home: Path, tmp_path: Path, fake_sf: FakeSf
) -> None:
    worktree = make_worktree(tmp_path / "wt")
    fake_sf.write(fake_state(noise=True, orgs=[scratch_org("pool1")], scenarios={"data import tree": "hang"}))
    async with SidecarProcess.start(home, settings=fake_sf.settings(stepTimeoutMinutes=0.05), env=fake_sf.env) as sc:
        await sc.call("org:register", "pool1")
        result = await sc.call("agent:provision", config("a1", worktree), timeout=20)
        steps = {s["name"]: s["status"] for s in result["steps"]}
        assert steps["data"] == "failed" and steps["users"] == "ok" and steps["login"] == "skipped"
        assert result["errors"] == [e for e in result["errors"] if "sample data step (data) timed out" in e] != []
        last = statuses(sc, "a1")[-1]
        assert last["status"] == "ERROR" and last["step"] == "data"
        assert processes_with(str(fake_sf.state_path), exclude=(sc.pid,)) == []


@pytest.mark.anyio
async def test_scratch_creation_warnings_are_shown_in_the_pane(home: Path, tmp_path: Path, fake_sf: FakeSf) -> None:
    """Issue 9 section 3: the `warnings` of `org create scratch` results reach the terminal pane."""
    worktree = make_worktree(tmp_path / "wt")
    state = fake_state()
    state["createWarnings"] = ["The feature PersonAccounts is not available for this edition and was ignored."]
    fake_sf.write(state)
    async with SidecarProcess.start(home, settings=fake_sf.settings(devHub=HUB), env=fake_sf.env) as sc:
        result = await sc.call("agent:provision", config("a1", worktree), timeout=30)
        assert result["success"] is True
        assert "Warning: The feature PersonAccounts is not available" in terminal_text(sc, "a1")
