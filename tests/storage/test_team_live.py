"""A team pool kept live across machines (issue 11, sections 2, 3 and 5): real sidecar processes with their own homes
on one real PostgreSQL. A commit on one machine reaches the other's client as `org:changed` within a second; the
leases of a sidecar killed with -9 are reaped by its peer after the timeout, never before, and the restarted
machine finds its agent without an org; a sidecar whose database goes away answers DATABASE_UNAVAILABLE, commits
nothing it did not acknowledge, and once back says `resync`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from sidecar.devtools.client import RpcError, SidecarProcess
from sidecar.storage.url import ENV_VAR
from tests.support.fakesf import FakeSf
from tests.support.postgres import PostgresServer, postgres_server, postgres_url  # noqa: F401

pytestmark = pytest.mark.anyio

EXPIRES = "2099-01-01T00:00:00Z"
BEAT_SECONDS = 0.3
LEASE_TIMEOUT_MINUTES = 0.05  # 3 s


def team_env(fake_sf: FakeSf, url: str) -> dict[str, str]:
    return {**fake_sf.env, ENV_VAR: url, "SWEATSHOP_HEARTBEAT_SECONDS": str(BEAT_SECONDS)}


def changes(sc: SidecarProcess, reason: str | None = None) -> list[dict[str, Any]]:
    return [
        n["params"]
        for n in sc.notifications
        if n["method"] == "org:changed" and (reason is None or n["params"]["reason"] == reason)
    ]


async def test_a_commit_on_one_machine_reaches_the_other_machines_client_within_a_second(
    tmp_path: Path, postgres_url: str, fake_sf: FakeSf
) -> None:
    env = team_env(fake_sf, postgres_url)
    settings = fake_sf.settings(machineName="desk-a")
    with anyio.fail_after(90):
        async with (
            SidecarProcess.start(tmp_path / "desk-a", settings=settings, env=env) as a,
            SidecarProcess.start(tmp_path / "desk-b", settings=fake_sf.settings(machineName="desk-b"), env=env) as b,
        ):
            for sc in (a, b):
                await sc.call("sidecar:health")
            seen = len(b.messages)
            org = await a.call("org:register", "qa1", {"expiresAt": EXPIRES})
            committed = anyio.current_time()
            heard = await b.wait_notification("org:changed", lambda p: p["reason"] == "registered", start=seen)
            assert anyio.current_time() - committed < 1.0
            assert heard["params"]["org"]["id"] == org["id"] and heard["params"]["status"]["total"] == 1

            seen = len(b.messages)
            await a.call("org:claim", "agent-1")
            committed = anyio.current_time()
            heard = await b.wait_notification("org:changed", lambda p: p["reason"] == "claimed", start=seen)
            assert anyio.current_time() - committed < 1.0
            params = heard["params"]
            # A's agent is A's: B's client is told who holds it (machineName), never that one of its agents does.
            assert params["org"]["machineName"] == "desk-a" and params["agentId"] is None
            assert params["status"]["leased"] == 1

            seen = len(b.messages)
            await a.call("org:release", org["id"])
            await b.wait_notification("org:changed", lambda p: p["reason"] == "released", start=seen)
            seen = len(a.messages)
            await b.call("org:remove", org["id"])
            removed = await a.wait_notification("org:changed", lambda p: p["reason"] == "removed", start=seen)
            assert removed["params"]["org"]["alias"] == "qa1" and removed["params"]["status"]["total"] == 0
            await anyio.sleep(0.5)  # any second announcement would have arrived by now
    # Each machine told its client of each change once: its own commits are not announced again from NOTIFY.
    for sc in (a, b):
        reasons = [c["reason"] for c in changes(sc)]
        assert reasons == ["registered", "claimed", "released", "removed"], reasons


async def first_reaped(peers: tuple[SidecarProcess, ...]) -> dict[str, Any]:
    """The first `reaped` any of `peers` heard (whichever reaped first announces it first)."""
    while True:
        for peer in peers:
            found = changes(peer, "reaped")
            if found:
                return found[0]
        await anyio.sleep(0.02)


async def test_the_leases_of_a_killed_sidecar_are_reaped_by_its_peer_after_the_timeout_only(
    tmp_path: Path, postgres_url: str, fake_sf: FakeSf
) -> None:
    env = team_env(fake_sf, postgres_url)
    settings = fake_sf.settings(leaseTimeoutMinutes=LEASE_TIMEOUT_MINUTES)
    timeout = LEASE_TIMEOUT_MINUTES * 60
    with anyio.fail_after(120):
        async with (
            SidecarProcess.start(tmp_path / "desk-b", settings=settings, env=env) as b,
            SidecarProcess.start(tmp_path / "desk-c", settings=settings, env=env) as c,
        ):
            async with SidecarProcess.start(tmp_path / "desk-a", settings=settings, env=env) as a:
                org = await a.call("org:register", "qa1", {"expiresAt": EXPIRES})
                assert (await a.call("org:claim", "agent-1"))["id"] == org["id"]
                # A is alive: its lease outlives the timeout, however old it gets.
                await anyio.sleep(timeout + 1.5)
                assert changes(b, "reaped") == [] and changes(c, "reaped") == []
                assert (await a.call("org:lease", "agent-1"))["id"] == org["id"]
                a.kill9()
                killed = anyio.current_time()
                with anyio.fail_after(30):
                    params = await first_reaped((b, c))
                waited = anyio.current_time() - killed
            # Not before A's last heartbeat is `timeout` old (it beat at most one beat before the kill).
            assert waited >= timeout - BEAT_SECONDS - 0.2, waited
            assert params["org"]["id"] == org["id"] and params["org"]["status"] == "available"
            assert params["org"]["assignedAgentId"] is None and params["agentId"] is None
            assert params["status"]["available"] == 1
            # One of B and C ended the lease; both clients hear it (the other through NOTIFY).
            for peer in (b, c):
                await peer.wait_notification("org:changed", lambda p: p["reason"] == "reaped", timeout=5)
            # The machine that comes back finds its agent without an org, and the org serves someone else.
            async with SidecarProcess.start(tmp_path / "desk-a", settings=settings, env=env) as again:
                assert await again.call("org:lease", "agent-1") is None
                with pytest.raises(RpcError) as denied:
                    await again.call("org:checkAccess", "agent-1", "qa1")
                assert denied.value.kind == "ACCESS_DENIED"
                assert (await b.call("org:claim", "agent-7"))["id"] == org["id"]
            await anyio.sleep(0.5)
    # Reaped once: each client heard of it exactly once.
    assert len(changes(b, "reaped")) == 1 and len(changes(c, "reaped")) == 1


async def test_a_lost_database_answers_database_unavailable_then_recovers_and_says_resync(
    tmp_path: Path, postgres_url: str, postgres_server: PostgresServer, fake_sf: FakeSf
) -> None:
    env = team_env(fake_sf, postgres_url)
    with anyio.fail_after(120):
        async with SidecarProcess.start(tmp_path / "desk-a", settings=fake_sf.settings(), env=env) as a:
            await a.call("sidecar:health")
            acknowledged = {(await a.call("org:register", "qa1", {"expiresAt": EXPIRES}))["alias"]}
            postgres_server.cut_off(postgres_url)
            try:
                refused: list[RpcError] = []
                for attempt in range(20):
                    try:
                        acknowledged.add(
                            (await a.call("org:register", f"lost{attempt}", {"expiresAt": EXPIRES}))["alias"]
                        )
                    except RpcError as exc:
                        refused.append(exc)
                        if len(refused) == 3:
                            break
                    await anyio.sleep(0.1)
                assert len(refused) == 3, "requests kept succeeding with the database cut off"
                for exc in refused:
                    assert exc.kind == "DATABASE_UNAVAILABLE" and exc.data["reason"] == "connectionLost"
                    assert "reconnecting" in exc.message
                with pytest.raises(RpcError) as status:
                    await a.call("org:status")
                assert status.value.kind == "DATABASE_UNAVAILABLE"
                assert changes(a, "resync") == []
                seen = len(a.messages)
            finally:
                postgres_server.restore(postgres_url)
            resync = await a.wait_notification("org:changed", lambda p: p["reason"] == "resync", timeout=30, start=seen)
            assert resync["params"]["org"] is None and resync["params"]["status"]["total"] >= 1
            # Serving again: the committed org is there, and only what was acknowledged was committed.
            orgs = await a.call("org:list")
            assert acknowledged == {"qa1"}
            assert {o["alias"] for o in orgs} == acknowledged
            await a.call("org:register", "qa2", {"expiresAt": EXPIRES})
            assert (await a.call("org:status"))["total"] == len(acknowledged) + 1
            # A listens again: another machine's commit reaches it as before.
            async with SidecarProcess.start(tmp_path / "desk-b", settings=fake_sf.settings(), env=env) as b:
                seen = len(a.messages)
                await b.call("org:register", "from-b", {"expiresAt": EXPIRES})
                heard = await a.wait_notification("org:changed", lambda p: p["reason"] == "registered", start=seen)
                assert heard["params"]["org"]["alias"] == "from-b"
            await anyio.sleep(0.5)
    assert len(changes(a, "resync")) == 1
