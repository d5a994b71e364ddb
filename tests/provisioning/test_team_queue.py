"""The provisioning queue of a team: one first-in-first-out order over every machine's waiters.

Real sidecar processes on one PostgreSQL database, each with its own home (so its own instance) and its own fake
`sf` state file (its own CLI): an org freed on machine A goes to the agent that has waited longest, whichever
machine it is on, and its run continues on that machine with that machine's notifications; a machine that was
killed stops holding the queue up once its heartbeat is stale.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import anyio
import pytest

from sidecar.devtools.client import SidecarProcess
from sidecar.storage.url import ENV_VAR
from tests.support.fakesf import FakeSf, scratch_org
from tests.support.postgres import postgres_server, postgres_url  # noqa: F401
from tests.support.provisioning import config, fake_state, make_worktree, statuses

pytestmark = pytest.mark.anyio

# Short beats: a killed machine's waiters go stale within ~1.5 s. Its turn coming is seen by polling (0.3 s here).
FAST = {"SWEATSHOP_HEARTBEAT_SECONDS": "0.5", "SWEATSHOP_TEAM_POLL_SECONDS": "0.3"}
# No poll within the test's waits: an org freed on another machine must wake the waiter's dispatcher by itself
# (LISTEN/NOTIFY brings the release as a pool change).
NOTIFIED = {"SWEATSHOP_HEARTBEAT_SECONDS": "0.5", "SWEATSHOP_TEAM_POLL_SECONDS": "600"}


def machine(tmp_path: Path, name: str) -> FakeSf:
    """One desktop's CLI: its own fake state file, which knows the pool's org (as if it had logged in to it)."""
    fake = FakeSf(tmp_path / f"{name}-sf.json", tmp_path / f"{name}-sf.jsonl")
    fake.write(fake_state(orgs=[scratch_org("pool1")]))
    return fake


# One team key on every desk: an org registered on one desk is handed over to the other's CLI (its auth URL).
TEAM_KEY = base64.b64encode(bytes(range(32))).decode()


def start(tmp_path: Path, name: str, fake: FakeSf, url: str, timing: dict[str, str] = FAST) -> Any:
    return SidecarProcess.start(
        tmp_path / name,
        settings=fake.settings(maxOrgs=1, machineName=name),
        env={**fake.env, ENV_VAR: url, "SWEATSHOP_TEAM_KEY": TEAM_KEY, **timing},
    )


def ready(params: dict[str, Any], agent: str) -> bool:
    return bool(params["agentId"] == agent and params["status"] == "QA_READY")


async def test_an_org_freed_on_one_machine_goes_to_the_oldest_waiter_on_another(
    tmp_path: Path, postgres_url: str
) -> None:
    worktree_a = make_worktree(tmp_path / "wt-a", data=False, users=False)
    worktree_b = make_worktree(tmp_path / "wt-b", data=False, users=False)
    sf_a, sf_b = machine(tmp_path, "desk-a"), machine(tmp_path, "desk-b")
    with anyio.fail_after(120):
        async with (
            start(tmp_path, "desk-a", sf_a, postgres_url, NOTIFIED) as a,
            start(tmp_path, "desk-b", sf_b, postgres_url, NOTIFIED) as b,
        ):
            pooled = await a.call("org:register", "pool1")
            assert (await a.call("agent:provision", config("a1", worktree_a), timeout=30))["success"]

            # B's agent waits first, then A's: A's own waiter is behind B's.
            first = await b.call("agent:provision", config("b1", worktree_b), timeout=30)
            assert first["queued"] is True and "Position in the queue: 1." in first["warnings"][-1]
            second = await a.call("agent:provision", config("a2", worktree_a), timeout=30)
            assert second["queued"] is True
            assert "1 agent is already waiting" in second["warnings"][0]
            assert "Position in the queue: 2." in second["warnings"][-1]
            assert [(e["position"], e["agentId"]) for e in await b.call("provision:queue")] == [(1, "b1")]
            assert [(e["position"], e["agentId"]) for e in await a.call("provision:queue")] == [(2, "a2")]

            mark_a, mark_b = len(a.messages), len(b.messages)
            await a.call("agent:completed", "a1")  # freed on A: B's older waiter gets it, not A's own
            await b.wait_notification("agent:status", lambda p: ready(p, "b1"), timeout=30, start=mark_b)
            lease = await b.call("org:lease", "b1")
            assert lease["id"] == pooled["id"] and lease["machineName"] == "desk-b"
            assert await a.call("org:lease", "a2") is None
            assert [(e["position"], e["agentId"]) for e in await a.call("provision:queue")] == [(1, "a2")]
            assert await b.call("provision:queue") == []
            # The run continued on B: its notifications went to B's client only.
            assert not [m for m in a.notifications[mark_a:] if m["params"].get("agentId") == "b1"]
            assert [s["status"] for s in statuses(b, "b1")][-1] == "QA_READY"
            seen_on_a = next(o for o in await a.call("org:list") if o["id"] == pooled["id"])
            assert seen_on_a["status"] == "leased" and seen_on_a["machineName"] == "desk-b"
            runs_b = {r["agentId"]: r["state"] for r in await b.call("provision:runs")}
            assert runs_b == {"b1": "succeeded"}

            # And back: freed on B, A's waiter (now the oldest) gets it.
            mark_a = len(a.messages)
            await b.call("agent:completed", "b1")
            await a.wait_notification("agent:status", lambda p: ready(p, "a2"), timeout=30, start=mark_a)
            lease = await a.call("org:lease", "a2")
            assert lease["id"] == pooled["id"] and lease["machineName"] == "desk-a"
            assert await a.call("provision:queue") == []


async def test_a_killed_machines_waiter_stops_holding_the_team_queue_up(tmp_path: Path, postgres_url: str) -> None:
    worktree_a = make_worktree(tmp_path / "wt-a", data=False, users=False)
    worktree_b = make_worktree(tmp_path / "wt-b", data=False, users=False)
    sf_a, sf_b = machine(tmp_path, "desk-a"), machine(tmp_path, "desk-b")
    with anyio.fail_after(120):
        async with start(tmp_path, "desk-a", sf_a, postgres_url) as a:
            await a.call("org:register", "pool1")
            assert (await a.call("agent:provision", config("a1", worktree_a), timeout=30))["success"]
            async with start(tmp_path, "desk-b", sf_b, postgres_url) as b:
                assert (await b.call("agent:provision", config("b1", worktree_b), timeout=30))["queued"]
                queued = await a.call("agent:provision", config("a2", worktree_a), timeout=30)
                assert "Position in the queue: 2." in queued["warnings"][-1]
                b.kill9()  # B's waiter stays in the table, but nobody serves it any more
            mark = len(a.messages)
            await a.call("agent:completed", "a1")
            await a.wait_notification("agent:status", lambda p: ready(p, "a2"), timeout=30, start=mark)
            assert (await a.call("org:lease", "a2"))["machineName"] == "desk-a"
