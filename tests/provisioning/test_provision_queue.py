"""The durable queue and its hand-over, cancellation, restarts, serialized creations and pre-warm, over real pipes,
on both engines: each test runs once on the SQLite file and once with SWEATSHOP_DATABASE_URL naming a fresh
PostgreSQL database (the sidecars it starts, restarts included, share that database)."""

from __future__ import annotations

import itertools
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import pytest

from sidecar.devtools.client import SidecarProcess
from sidecar.storage.url import ENV_VAR, DatabaseTarget, Engine
from tests.support.fakesf import FakeSf, scratch_org
from tests.support.postgres import database_target, postgres_server, postgres_url  # noqa: F401
from tests.support.provisioning import (
    HUB,
    config,
    fake_state,
    kill_leftovers,
    make_worktree,
    processes_with,
    provision_in_background,
    statuses,
    terminal_text,
)

pytestmark = pytest.mark.anyio


@dataclass
class EngineFakeSf(FakeSf):
    """The fake `sf`, whose environment also names the database every sidecar of the test uses."""

    database_env: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, **self.database_env}


@pytest.fixture
def fake_sf(fake_sf: FakeSf, database_target: DatabaseTarget) -> FakeSf:
    on_postgres = database_target.engine is Engine.POSTGRES
    return EngineFakeSf(fake_sf.state_path, fake_sf.log_path, {ENV_VAR: database_target.url} if on_postgres else {})


async def test_capacity_queue_is_fifo_and_hands_over_on_release(home: Path, tmp_path: Path, fake_sf: FakeSf) -> None:
    worktree = make_worktree(tmp_path / "wt", data=False, users=False)
    fake_sf.write(fake_state(orgs=[scratch_org("pool1")]))
    async with SidecarProcess.start(home, settings=fake_sf.settings(maxOrgs=1), env=fake_sf.env) as sc:
        pooled = await sc.call("org:register", "pool1")
        first = await sc.call("agent:provision", config("a1", worktree), timeout=20)
        assert first["success"]

        second = await sc.call("agent:provision", config("a2", worktree), timeout=20)
        third = await sc.call("agent:provision", config("a3", worktree), timeout=20)
        for queued in (second, third):
            assert queued["success"] is False and queued["queued"] is True and queued["loginUrl"] is None
            assert queued["errors"] == [] and queued["org"] is None
            assert {s["name"]: s["status"] for s in queued["steps"]}["org"] == "warning"
        assert "maxOrgs (1)" in second["warnings"][0]
        assert "1 agent is already waiting" in third["warnings"][0]  # first come, first served
        assert "Position in the queue: 2." in third["warnings"][-1]
        assert statuses(sc, "a2")[-1]["status"] == "QUEUED"
        queue = await sc.call("provision:queue")
        assert [(e["position"], e["agentId"], e["reason"]) for e in queue] == [
            (1, "a2", "capacity"),
            (2, "a3", "capacity"),
        ]
        # Asking again while queued answers queued again; nothing new starts.
        again = await sc.call("agent:provision", config("a2", worktree))
        assert again["queued"] is True and "Position in the queue: 1." in again["warnings"][0]

        mark = len(sc.messages)
        await sc.call("agent:completed", "a1")  # the org goes back to the pool: the head gets it
        ready = await sc.wait_notification(
            "agent:status", lambda p: p["agentId"] == "a2" and p["status"] == "QA_READY", timeout=20, start=mark
        )
        assert ready["params"]["errors"] == []
        assert (await sc.call("org:lease", "a2"))["id"] == pooled["id"]
        assert "released to this agent from the queue" in terminal_text(sc, "a2")
        assert [s["status"] for s in statuses(sc, "a2")][-6:] == ["PROVISIONING"] * 5 + ["QA_READY"]
        assert [e["agentId"] for e in await sc.call("provision:queue")] == ["a3"]
        # The login URL of a run that finished by itself is fetched afresh, on demand.
        fresh = await sc.call("agent:loginUrl", "a2")
        assert fresh["loginUrl"].startswith("https://") and fresh["org"]["id"] == pooled["id"]

        # agent:stopped takes a waiting agent out of the queue.
        assert await sc.call("agent:stopped", "a3") == {"releasedOrgId": None}
        assert await sc.call("provision:queue") == []
        runs = {r["agentId"]: r for r in await sc.call("provision:runs")}
        assert runs["a2"]["state"] == "succeeded" and runs["a3"]["state"] == "cancelled"


async def test_queue_survives_a_restart(home: Path, tmp_path: Path, fake_sf: FakeSf) -> None:
    worktree = make_worktree(tmp_path / "wt", data=False, users=False)
    fake_sf.write(fake_state(orgs=[scratch_org("pool1")]))
    settings = fake_sf.settings(maxOrgs=1)
    async with SidecarProcess.start(home, settings=settings, env=fake_sf.env) as sc:
        await sc.call("org:register", "pool1")
        assert (await sc.call("agent:provision", config("a1", worktree), timeout=20))["success"]
        assert (await sc.call("agent:provision", config("a2", worktree), timeout=20))["queued"]
        assert (await sc.call("agent:provision", config("a3", worktree), timeout=20))["queued"]
        sc.kill9()  # no goodbye: the queue must already be on disk
    async with SidecarProcess.start(home, settings=settings, env=fake_sf.env) as sc:
        assert [e["agentId"] for e in await sc.call("provision:queue")] == ["a2", "a3"]
        await sc.call("agent:completed", "a1")
        await sc.wait_notification(
            "agent:status", lambda p: p["agentId"] == "a2" and p["status"] == "QA_READY", timeout=20
        )
        assert [e["agentId"] for e in await sc.call("provision:queue")] == ["a3"]


async def test_devhub_limit_queues_then_retries_with_backoff(home: Path, tmp_path: Path, fake_sf: FakeSf) -> None:
    worktree = make_worktree(tmp_path / "wt", data=False, users=False)
    fake_sf.write(fake_state(scenarios={"org create scratch": ["limit", "daily-limit", None]}))
    env = {**fake_sf.env, "SWEATSHOP_LIMIT_RETRY_SECONDS": "0.4"}
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=env) as sc:
        result = await sc.call("agent:provision", config("a1", worktree), timeout=20)
        assert result["success"] is False and result["queued"] is True
        assert "LIMIT_EXCEEDED" in result["warnings"][0] and "active scratch org limit" in result["warnings"][0]
        assert statuses(sc, "a1")[-1]["status"] == "QUEUED"
        queue = await sc.call("provision:queue")
        assert queue[0]["reason"] == "devhub-limit" and queue[0]["attempts"] == 1 and queue[0]["retryAt"]
        # Retried by itself: a second refusal (daily limit), then success, with the same notifications.
        await sc.wait_notification("agent:status", lambda p: p["status"] == "QA_READY", timeout=20)
        assert await sc.call("provision:queue") == []
    creates = [c for c in fake_sf.calls() if c["argv"][:3] == ["org", "create", "scratch"]]
    assert len(creates) == 3
    # Backoff: the second retry waited about twice as long as the first.
    first_gap = creates[1]["start"] - creates[0]["end"]
    second_gap = creates[2]["start"] - creates[1]["end"]
    assert first_gap >= 0.3 and second_gap >= 0.7, (first_gap, second_gap)


async def test_stop_mid_deploy_kills_the_process_group_and_releases(
    home: Path, tmp_path: Path, fake_sf: FakeSf
) -> None:
    worktree = make_worktree(tmp_path / "wt", data=False, users=False)
    fake_sf.write(fake_state(orgs=[scratch_org("pool1")], delays={"project deploy start": 30}))
    marker = str(fake_sf.state_path)
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        pooled = await sc.call("org:register", "pool1")
        outcome: dict = {}
        async with anyio.create_task_group() as tg:
            await provision_in_background(tg, sc, config("a1", worktree), outcome, "Deploying Metadata")
            running = processes_with(marker, exclude=(sc.pid,))
            assert running, "the deploy should be running"
            started = time.monotonic()
            released = await sc.call("agent:stopped", "a1")
            elapsed = time.monotonic() - started
        assert elapsed < 2.0, elapsed
        for pid in running:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
        assert processes_with(marker, exclude=(sc.pid,)) == []
        assert released == {"releasedOrgId": pooled["id"]}
        assert outcome["success"] is False and "cancelled" in outcome["errors"][0]
        assert {s["name"]: s["status"] for s in outcome["steps"]}["deploy"] == "failed"
        assert (await sc.call("org:list"))[0]["status"] == "available"
        assert await sc.call("provision:queue") == []
        assert (await sc.call("provision:runs"))[0]["state"] == "cancelled"
        assert "cancelled because the agent was stopped" in terminal_text(sc, "a1")


async def test_killed_sidecar_mid_run_is_reported_interrupted_on_restart(
    home: Path, tmp_path: Path, fake_sf: FakeSf
) -> None:
    worktree = make_worktree(tmp_path / "wt", data=False, users=False)
    # A hung deploy (with a child of its own) prints nothing more, so nothing ends it but a kill.
    fake_sf.write(fake_state(orgs=[scratch_org("pool1")], scenarios={"project deploy start": "hang"}))
    marker = str(fake_sf.state_path)
    try:
        async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
            pooled = await sc.call("org:register", "pool1")
            request = sc.new_id()
            await sc.send(
                {"jsonrpc": "2.0", "id": request, "method": "agent:provision", "params": [config("a1", worktree)]}
            )
            await sc.wait_notification("terminal:output", lambda p: "Deploy ID" in p["data"], timeout=10)
            assert len(processes_with(marker, exclude=(sc.pid,))) >= 2
            sc.kill9()
        assert processes_with(marker), "the killed sidecar's commands outlive it until someone stops them"
        async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
            note = await sc.wait_notification("agent:status", lambda p: p["agentId"] == "a1", timeout=10)
            assert note["params"]["status"] == "ERROR" and note["params"]["step"] == "deploy"
            assert "interrupted during the deploy step" in note["params"]["errors"][0]
            runs = await sc.call("provision:runs")
            assert runs[0]["state"] == "interrupted" and runs[0]["agentId"] == "a1"
            # No lease without an owner: the org is still the agent's, and it can provision again.
            assert (await sc.call("org:lease", "a1"))["id"] == pooled["id"]
            assert "interrupted" in sc.stderr_text()
            # The restart stopped them (killed before the report; zombies awaiting their new parent do not count).
            with anyio.fail_after(2):
                while processes_with(marker, exclude=(sc.pid,)):
                    await anyio.sleep(0.05)
    finally:
        kill_leftovers(marker)  # a safety net should the assertions above fail


async def test_eof_mid_run_exits_promptly_and_the_restart_reports_it(
    home: Path, tmp_path: Path, fake_sf: FakeSf
) -> None:
    worktree = make_worktree(tmp_path / "wt", data=False, users=False)
    fake_sf.write(fake_state(orgs=[scratch_org("pool1")], scenarios={"project deploy start": "hang"}))
    marker = str(fake_sf.state_path)
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        await sc.call("org:register", "pool1")
        await sc.send(
            {"jsonrpc": "2.0", "id": sc.new_id(), "method": "agent:provision", "params": [config("a1", worktree)]}
        )
        await sc.wait_notification("terminal:output", lambda p: "Deploy ID" in p["data"], timeout=10)
        started = time.monotonic()
        assert await sc.close() == 0
        assert time.monotonic() - started < 2.5
        assert processes_with(marker) == []  # the hung deploy and its child went with it
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        note = await sc.wait_notification("agent:status", lambda p: p["agentId"] == "a1", timeout=10)
        assert note["params"]["status"] == "ERROR" and "interrupted" in note["params"]["errors"][0]


async def test_org_creations_are_serialized_but_the_rest_runs_in_parallel(
    home: Path, tmp_path: Path, fake_sf: FakeSf
) -> None:
    worktrees = [make_worktree(tmp_path / f"wt{n}", data=False, users=False) for n in range(4)]
    # A deploy lasts longer than a creation plus the start-up of the next fake `sf` on a loaded machine (about a
    # second on 2 busy cores), so parallel deploys must overlap while serialized creations cannot.
    fake_sf.write(fake_state(delays={"org create scratch": 0.4, "project deploy start": 3.0}))
    async with SidecarProcess.start(home, settings=fake_sf.settings(maxOrgs=4), env=fake_sf.env) as sc:
        results: dict[str, dict] = {}
        async with anyio.create_task_group() as tg:
            for n, wt in enumerate(worktrees):

                async def one(agent: str = f"a{n}", wt: Path = wt) -> None:
                    results[agent] = await sc.call("agent:provision", config(agent, wt), timeout=30)

                tg.start_soon(one)
        assert all(r["success"] for r in results.values()), results
        assert len({r["org"]["id"] for r in results.values()}) == 4
    calls = fake_sf.calls()
    creates = sorted((c["start"], c["end"]) for c in calls if c["argv"][:3] == ["org", "create", "scratch"])
    assert len(creates) == 4
    for (_, end), (start, _) in itertools.pairwise(creates):
        assert start >= end, "two org creations overlapped"
    deploys = sorted((c["start"], c["end"]) for c in calls if c["argv"][:3] == ["project", "deploy", "start"])
    assert any(later[0] < earlier[1] for earlier, later in itertools.pairwise(deploys)), "deploys should overlap"


async def test_prewarm_tops_up_within_the_dev_hub_limits(home: Path, tmp_path: Path, fake_sf: FakeSf) -> None:
    project = make_worktree(tmp_path / "project", data=False, users=False)
    fake_sf.write(
        fake_state(
            limits={"ActiveScratchOrgs": {"max": 10, "remaining": 2}, "DailyScratchOrgs": {"max": 10, "remaining": 5}}
        )
    )
    settings = fake_sf.settings(
        maxOrgs=3, preWarm=True, projectDir=str(project), devHub=HUB, refreshIntervalSeconds=0.2
    )
    async with SidecarProcess.start(home, settings=settings, env=fake_sf.env) as sc:
        with anyio.fail_after(15):
            while (await sc.call("org:status"))["available"] < 2:
                await anyio.sleep(0.1)
        await anyio.sleep(1.0)  # the Dev Hub has no active slot left: no third org
        status = await sc.call("org:status")
        assert status["available"] == 2 and status["total"] == 2
        orgs = await sc.call("org:list")
        assert all(o["source"] == "provisioned" and o["alias"].startswith("prewarm-") for o in orgs)
        # An agent's claim finds a ready org at once.
        worktree = make_worktree(tmp_path / "wt", data=False, users=False)
        result = await sc.call("agent:provision", config("a1", worktree), timeout=20)
        assert result["success"] and result["org"]["alias"].startswith("prewarm-")
        assert "Claimed org prewarm-" in terminal_text(sc, "a1")
    argvs = [c["argv"] for c in fake_sf.calls()]
    assert ["org", "list", "limits", "--target-org", HUB, "--json"] in argvs
    assert sum(a[:3] == ["org", "create", "scratch"] for a in argvs) == 2
    creates = [c for c in fake_sf.calls() if c["argv"][:3] == ["org", "create", "scratch"]]
    assert all(c["cwd"] == str(project) for c in creates)
    assert json.loads(fake_sf.state_path.read_text())["limits"]["ActiveScratchOrgs"]["remaining"] == 0
