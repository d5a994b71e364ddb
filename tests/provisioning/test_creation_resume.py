"""Issue 12, section 2: a scratch org creation that outlives its wait is not lost. Real sidecar processes over
stdio, the fake `sf` (which parses with the real CLI's grammar and keeps its signups in its state file) and a real
SQLite file: the signup's job is recorded before anyone waits, resumed after a timeout or a kill -9, and the org is
either registered in the pool or deleted; no Dev Hub slot leaks (the fake's orgs are the pool's)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from sidecar.devtools.client import SidecarProcess
from sidecar.provisioning.creation import delete_args, resume_args
from sidecar.sf import grammar
from sidecar.sf.client import writes_cli_state
from tests.support.fakesf import FakeSf
from tests.support.provisioning import (
    HUB,
    config,
    fake_state,
    kill_leftovers,
    make_worktree,
    provision_in_background,
    statuses,
    terminal_text,
)

pytestmark = pytest.mark.anyio

FAST = {"SWEATSHOP_RESUME_PAUSE_SECONDS": "0.05", "SWEATSHOP_RESUME_RETRY_SECONDS": "0.2"}


def job_rows(home: Path) -> list[dict[str, Any]]:
    """The creation_jobs rows of the sidecar's database file, read as another process would."""
    with sqlite3.connect(f"file:{home / 'sidecar.db'}?mode=ro", uri=True) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM creation_jobs")]


def calls_of(fake_sf: FakeSf, *words: str) -> list[dict[str, Any]]:
    return [c for c in fake_sf.calls() if c["argv"][: len(words)] == list(words)]


def flag(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


async def no_slot_leaked(sc: SidecarProcess, fake_sf: FakeSf) -> None:
    """Every org the fake's Dev Hub made is in the pool, and no signup is left under way in the fake."""
    state = fake_sf.read()
    pool = {o["username"] for o in await sc.call("org:list")}
    assert {o["username"] for o in state.get("orgs") or []} == pool
    assert not state.get("signups")


async def test_a_timed_out_creation_is_resumed_and_registered(home: Path, tmp_path: Path, fake_sf: FakeSf) -> None:
    worktree = make_worktree(tmp_path / "wt", data=False, users=False)
    # The Dev Hub takes a while: the first two resumes come back "timed out" (their --wait ran out).
    fake_sf.write(fake_state(scenarios={"org resume scratch": ["timeout", "timeout", None]}))
    env = {**fake_sf.env, **FAST}
    async with SidecarProcess.start(home, settings=fake_sf.settings(devHub=HUB), env=env) as sc:
        result = await sc.call("agent:provision", config("a1", worktree), timeout=30)
        assert result["success"] is True, result
        assert result["org"]["alias"] == "qa-a1" and result["org"]["assignedAgentId"] == "a1"
        await no_slot_leaked(sc, fake_sf)
        assert job_rows(home) == []  # cleared once the org was in the pool
        text = terminal_text(sc, "a1")
        assert "Signup 2SR" in text and "accepted by the Dev Hub" in text
    create = calls_of(fake_sf, "org", "create", "scratch")
    assert len(create) == 1 and "--async" in create[0]["argv"] and "--wait" not in create[0]["argv"]
    resumes = calls_of(fake_sf, "org", "resume", "scratch")
    assert [c["exitCode"] for c in resumes] == [1, 1, 0]
    job_ids = {flag(c["argv"], "--job-id") for c in resumes}
    assert len(job_ids) == 1 and next(iter(job_ids)).startswith("2SR")
    # The first resume waits the configured createWaitMinutes (15); the next ones what is left of the step.
    assert flag(resumes[0]["argv"], "--wait") == "15"
    assert all(int(flag(c["argv"], "--wait")) <= 30 for c in resumes)


async def test_a_creation_outliving_its_step_is_queued_then_continues_from_the_background(
    home: Path, tmp_path: Path, fake_sf: FakeSf
) -> None:
    worktree = make_worktree(tmp_path / "wt", data=False, users=False)
    # The signup takes 8 s in the Dev Hub; the org step may last 4 s (orgPool.stepTimeoutMinutes 4/60).
    fake_sf.write(fake_state(delays={"org create scratch": 8.0}))
    env = {**fake_sf.env, **FAST}
    settings = fake_sf.settings(stepTimeoutMinutes=4 / 60, maxOrgs=1)
    async with SidecarProcess.start(home, settings=settings, env=env) as sc:
        result = await sc.call("agent:provision", config("a1", worktree), timeout=30)
        assert result["success"] is False and result["queued"] is True, result
        said = " ".join(result["warnings"])
        assert "still being created in the Dev Hub (signup 2SR" in said and "waits in the queue" in said
        rows = job_rows(home)
        assert len(rows) == 1 and rows[0]["alias"] == "qa-a1" and rows[0]["agent_id"] == "a1"
        # The signup still counts against maxOrgs (1): nobody else may create meanwhile.
        other = await sc.call("agent:provision", config("a2", make_worktree(tmp_path / "wt2")), timeout=30)
        assert other["queued"] is True
        assert len(calls_of(fake_sf, "org", "create", "scratch")) == 1
        # The background resumes it, the org joins the pool, and the queue's head gets it: its run continues.
        ready = await sc.wait_notification(
            "agent:status", lambda p: p["agentId"] == "a1" and p["status"] == "QA_READY", timeout=30
        )
        assert ready["params"]["errors"] == []
        lease = await sc.call("org:lease", "a1")
        assert lease["alias"] == "qa-a1" and lease["source"] == "provisioned"
        await no_slot_leaked(sc, fake_sf)
        assert job_rows(home) == []
        assert [s["status"] for s in statuses(sc, "a1")].count("QUEUED") == 1
        await sc.call("agent:stopped", "a2")
    assert len(calls_of(fake_sf, "org", "create", "scratch")) == 1


def recorded_children(home: Path) -> int:
    with sqlite3.connect(f"file:{home / 'sidecar.db'}?mode=ro", uri=True) as db:
        return int(db.execute("SELECT COUNT(*) FROM provision_run_children").fetchone()[0])


async def kill_mid_creation(home: Path, worktree: Path, fake_sf: FakeSf, env: dict[str, str]) -> dict[str, Any]:
    """Start a provisioning, kill -9 the sidecar while `org resume scratch` waits on the Dev Hub; the job row."""
    async with (
        SidecarProcess.start(home, settings=fake_sf.settings(), env=env) as sc,
        anyio.create_task_group() as tg,
    ):
        outcome: dict[str, Any] = {}
        await provision_in_background(tg, sc, config("a1", worktree), outcome, "accepted by the Dev Hub")
        # The job is on disk before the wait.
        (row,) = job_rows(home)
        assert row["job_id"].startswith("2SR") and row["username"] and row["agent_id"] == "a1"
        with anyio.fail_after(10):  # the resume is running, and recorded as the run's (the restart stops it)
            while not recorded_children(home):
                await anyio.sleep(0.05)
        sc.kill9()
        tg.cancel_scope.cancel()
    return row


async def restarted_and_settled(
    home: Path, worktree: Path, fake_sf: FakeSf, env: dict[str, str], row: dict[str, Any]
) -> None:
    """Restart: the run is reported interrupted, the job is seen through (org in the pool, nothing leaked), and
    the agent provisioning again gets that org without a second signup."""
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=env) as sc:
        note = await sc.wait_notification("agent:status", lambda p: p["agentId"] == "a1", timeout=10)
        assert note["params"]["status"] == "ERROR"
        assert "interrupted during the org step" in note["params"]["errors"][0]
        with anyio.fail_after(30):
            while not await sc.call("org:list"):
                await anyio.sleep(0.1)
        (org,) = await sc.call("org:list")
        assert org["alias"] == "qa-a1" and org["status"] == "available" and org["source"] == "provisioned"
        assert org["username"] == row["username"]
        await no_slot_leaked(sc, fake_sf)
        assert job_rows(home) == []
        again = await sc.call("agent:provision", config("a1", worktree), timeout=30)
        assert again["success"] is True and again["org"]["id"] == org["id"]
    assert len(calls_of(fake_sf, "org", "create", "scratch")) == 1


@pytest.fixture
def signup_seconds() -> float:
    return 6.0


@pytest.fixture
def killed(home: Path, tmp_path: Path, fake_sf: FakeSf, signup_seconds: float) -> Iterator[KilledRun]:
    """A worktree and the environment of a run to be killed mid-creation (the Dev Hub takes `signup_seconds`);
    whatever `sf` it leaves is stopped at the end, should an assertion fail first."""
    fake_sf.write(fake_state(delays={"org create scratch": signup_seconds}))
    yield KilledRun(make_worktree(tmp_path / "wt", data=False, users=False), {**fake_sf.env, **FAST})
    kill_leftovers(str(fake_sf.state_path))


@dataclass(frozen=True)
class KilledRun:
    worktree: Path
    env: dict[str, str]


async def test_a_sidecar_killed_mid_creation_resumes_it_at_restart(
    home: Path, fake_sf: FakeSf, killed: KilledRun
) -> None:
    row = await kill_mid_creation(home, killed.worktree, fake_sf, killed.env)
    state = fake_sf.read()
    assert state["signups"] and state["orgs"] == [], "the signup is still under way in the Dev Hub"
    await restarted_and_settled(home, killed.worktree, fake_sf, killed.env, row)
    # The killed sidecar's resume was stopped at the restart; the restarted one's finished the job.
    finished = [c for c in calls_of(fake_sf, "org", "resume", "scratch") if c["exitCode"] == 0]
    assert [flag(c["argv"], "--job-id") for c in finished] == [row["job_id"]]


@pytest.mark.parametrize("signup_seconds", [2.0])
async def test_a_resume_that_finished_while_its_sidecar_was_dead_is_found_at_restart(
    home: Path, fake_sf: FakeSf, killed: KilledRun
) -> None:
    """The dead sidecar's resume outlived it and authorized the org; the CLI's cache no longer has the job
    (CacheMissError): the restart finds the org among the CLI's orgs and registers it instead of losing it."""
    row = await kill_mid_creation(home, killed.worktree, fake_sf, killed.env)
    with anyio.fail_after(10):  # nobody stops it: the orphaned resume finishes the signup
        while not fake_sf.read().get("orgs"):
            await anyio.sleep(0.05)
    assert not fake_sf.read().get("signups")
    await restarted_and_settled(home, killed.worktree, fake_sf, killed.env, row)
    codes = [c["exitCode"] for c in calls_of(fake_sf, "org", "resume", "scratch")]
    assert codes[-1] == 1  # the restarted sidecar's resume: the job is no longer in the CLI's cache
    assert ["org", "list", "--json"] in [c["argv"] for c in fake_sf.calls()]


async def test_an_agent_stopped_mid_creation_leaves_the_org_to_the_pool(
    home: Path, tmp_path: Path, fake_sf: FakeSf
) -> None:
    """agent:stopped kills the waiting resume; the signup still holds a Dev Hub slot, so the background sees it
    through and the org joins the pool as available."""
    worktree = make_worktree(tmp_path / "wt", data=False, users=False)
    fake_sf.write(fake_state(delays={"org create scratch": 3.0}))
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env={**fake_sf.env, **FAST}) as sc:
        async with anyio.create_task_group() as tg:
            outcome: dict[str, Any] = {}
            await provision_in_background(tg, sc, config("a1", worktree), outcome, "accepted by the Dev Hub")
            await sc.call("agent:stopped", "a1")
        assert outcome["success"] is False and "cancelled" in outcome["errors"][0]
        with anyio.fail_after(30):
            while not await sc.call("org:list"):
                await anyio.sleep(0.1)
        (org,) = await sc.call("org:list")
        assert org["alias"] == "qa-a1" and org["status"] == "available" and org["assignedAgentId"] is None
        await no_slot_leaked(sc, fake_sf)
        assert job_rows(home) == []
    assert len(calls_of(fake_sf, "org", "create", "scratch")) == 1


async def test_a_resumed_org_that_fails_is_deleted(home: Path, tmp_path: Path, fake_sf: FakeSf) -> None:
    worktree = make_worktree(tmp_path / "wt", data=False, users=False)
    # The signup completes, but the definition's settings do not deploy: exit 68, an org that is not as asked.
    fake_sf.write(fake_state(scenarios={"org create scratch": "settings-failed"}))
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env={**fake_sf.env, **FAST}) as sc:
        result = await sc.call("agent:provision", config("a1", worktree), timeout=30)
        assert result["success"] is False and result["queued"] is False
        assert "ProblemDeployingSettings" in result["errors"][0] and "it was deleted" in result["errors"][0]
        assert {s["name"]: s["status"] for s in result["steps"]}["org"] == "failed"
        assert await sc.call("org:list") == []
        await no_slot_leaked(sc, fake_sf)
        assert job_rows(home) == []
    (resume,) = calls_of(fake_sf, "org", "resume", "scratch")
    assert resume["exitCode"] == 68
    (delete,) = calls_of(fake_sf, "org", "delete", "scratch")
    assert delete["exitCode"] == 0 and "--no-prompt" in delete["argv"]
    username = flag(delete["argv"], "--target-org")
    assert username.endswith("@example.com")  # by username: a failed resume may not have set the alias


async def test_a_failed_signup_leaves_no_job(home: Path, tmp_path: Path, fake_sf: FakeSf) -> None:
    worktree = make_worktree(tmp_path / "wt", data=False, users=False)
    fake_sf.write(fake_state(scenarios={"org create scratch": "signup-failed"}))
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env={**fake_sf.env, **FAST}) as sc:
        result = await sc.call("agent:provision", config("a1", worktree), timeout=30)
        assert result["success"] is False and "RemoteOrgSignupFailed" in result["errors"][0]
        assert job_rows(home) == [] and await sc.call("org:list") == []
        await no_slot_leaked(sc, fake_sf)
    assert calls_of(fake_sf, "org", "delete", "scratch") == []  # no org was made: nothing to delete


@pytest.mark.parametrize("wait", [0, 1, 15, 120])
def test_the_resume_and_delete_lines_are_the_real_clis(wait: int) -> None:
    """Checked with the real CLI's grammar; a resume writes CLI state (auth, alias), so it runs one at a time with
    creations and deletes."""
    resume = grammar.parse([*resume_args("2SR000000000001AAA", wait), "--json"])
    assert resume.ok and resume.command_id == "org:resume:scratch", [e.message for e in resume.errors]
    assert resume.flags == {"job-id": "2SR000000000001AAA", "wait": str(wait), "json": True}
    delete = grammar.parse([*delete_args("test-x@example.com"), "--json"])
    assert delete.ok and delete.flags == {"target-org": "test-x@example.com", "no-prompt": True, "json": True}
    assert writes_cli_state(resume_args("2SR000000000001AAA", wait)) and writes_cli_state(delete_args("x"))
