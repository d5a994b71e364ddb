"""Governance over real pipes: the real sidecar process, its SQLite file, two processes on one file, the settings
file changed under a running sidecar."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.support.harness import RpcError, SidecarProcess

pytestmark = pytest.mark.anyio

CLAIMS = {
    "iss": "https://login.example.com",
    "sub": "00u-carlos",
    "email": "carlos.galo@example.com",
    "name": "Carlos",
    "preferred_username": "cgalo",
    "roles": [],
    # A real ID token carries more claims; they are ignored.
    "aud": "sweatshop-desktop",
    "exp": 1893456000,
}
TOKEN = "eyJhbGciOiJSUzI1NiJ9.SECRET-ID-TOKEN-PAYLOAD.signature"


def sign_in_params(**claims: Any) -> dict[str, Any]:
    return {"claims": {**CLAIMS, **claims}, "idToken": TOKEN}


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql).fetchall()


async def test_sign_in_governs_capacity_and_sign_out_restores_the_settings(home: Path) -> None:
    async with SidecarProcess.start(home, settings={"orgPool": {"maxOrgs": 10}}) as sc:
        assert await sc.call("auth:session") == {"authenticated": False}
        assert (await sc.call("org:status"))["maxOrgs"] == 10

        session = await sc.call("auth:signIn", sign_in_params())
        assert session["authenticated"] is True and session["firstLogin"] is True
        assert (session["oidcSubject"], session["username"]) == ("00u-carlos", "cgalo")
        note = await sc.wait_notification("governance:changed", lambda p: p["reason"] == "signedIn")
        assert note["params"]["status"]["maxOrgs"] == 4 and note["params"]["session"] == session
        assert await sc.call("auth:session") == session
        assert (await sc.call("org:status"))["maxOrgs"] == 4

        home_view = await sc.call("governance:home")
        assert home_view["view"] == "solo" and home_view["pool"]["entitlements"]["scratchOrgs.maxActive"] == 4

        assert await sc.call("auth:signOut") is None
        assert await sc.call("auth:session") == {"authenticated": False}
        assert (await sc.call("org:status"))["maxOrgs"] == 10

        again = await sc.call("auth:signIn", sign_in_params())
        assert again["firstLogin"] is False and again["personId"] == session["personId"]

    # Memory only: the token is in no file the sidecar wrote, logs included.
    for file in home.iterdir():
        assert TOKEN.encode() not in file.read_bytes(), f"the ID token reached {file.name}"


async def test_two_sidecar_processes_signing_in_one_new_subject_create_one_user(home: Path) -> None:
    async with SidecarProcess.start(home) as first:
        # The first process creates and migrates the file; the sign-ins below are what race.
        await first.call("auth:session")
        async with SidecarProcess.start(home) as second:
            await second.call("auth:session")  # both serving: the sign-ins race across processes
            await race_first_sign_ins(first, second)
    db = home / "sidecar.db"
    for table in ("users", "persons", "organizations", "workspaces", "resource_pools", "billing_accounts", "grants"):
        assert query(db, f"SELECT COUNT(*) FROM {table}") == [(1,)], table


async def race_first_sign_ins(first: SidecarProcess, second: SidecarProcess) -> None:
    sessions: list[dict[str, Any]] = []

    async def sign_in(sc: SidecarProcess) -> None:
        sessions.append(await sc.call("auth:signIn", sign_in_params()))

    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(sign_in, first)
            tg.start_soon(sign_in, second)
    assert [s["firstLogin"] for s in sessions].count(True) == 1
    assert len({s["organizationId"] for s in sessions}) == 1


async def test_operator_only_methods_over_stdio(home: Path) -> None:
    async with SidecarProcess.start(home) as sc:
        with pytest.raises(RpcError) as signed_out:
            await sc.call("governance:overview")
        assert (signed_out.value.code, signed_out.value.kind) == (-32008, "NOT_AUTHENTICATED")

        await sc.call("auth:signIn", sign_in_params(roles=["developer"]))
        (pool_id,) = query(home / "sidecar.db", "SELECT id FROM resource_pools")[0]
        for method, params in (("governance:overview", []), ("governance:reapplyDefaults", [pool_id])):
            with pytest.raises(RpcError) as denied:
                await sc.call(method, *params)
            assert (denied.value.code, denied.value.kind) == (-32005, "ACCESS_DENIED"), method

        await sc.call("auth:signIn", sign_in_params(roles=["operator"]))
        overview = await sc.call("governance:overview")
        assert [o["slug"] for o in overview["organizations"]] == ["cgalo"]
        assert overview["organizations"][0]["members"][0]["role"] == "owner"
        outcome = await sc.call("governance:reapplyDefaults", pool_id)
        assert (outcome["changed"], outcome["rank"], outcome["ladder"]) == (False, 0, "core")
        with pytest.raises(RpcError) as missing:
            await sc.call("governance:reapplyDefaults", "rpl_nope")
        assert missing.value.kind == "NOT_FOUND"


async def test_bad_claims_are_invalid_params_naming_the_claim(home: Path) -> None:
    async with SidecarProcess.start(home) as sc:
        cases = [
            ({"claims": {**CLAIMS, "sub": ""}}, "claims.sub"),
            ({"claims": {k: v for k, v in CLAIMS.items() if k != "iss"}}, "claims.iss"),
            ({"claims": {**CLAIMS, "roles": [1]}}, "claims.roles.0"),
            ({"claims": CLAIMS, "idToken": 5}, "idToken"),
        ]
        for params, param in cases:
            with pytest.raises(RpcError) as bad:
                await sc.call("auth:signIn", params)
            assert (bad.value.code, bad.value.data["param"]) == (-32602, param)
        with pytest.raises(RpcError) as not_an_object:
            await sc.call("auth:signIn", "carlos")
        assert not_an_object.value.kind == "INVALID_PARAMS"
        assert await sc.call("auth:session") == {"authenticated": False}
    assert query(home / "sidecar.db", "SELECT COUNT(*) FROM users") == [(0,)]


async def test_a_failed_first_sign_in_over_stdio_leaves_nothing_behind(home: Path) -> None:
    db = home / "sidecar.db"
    async with SidecarProcess.start(home) as sc:
        await sc.call("sidecar:health")  # migrated
        with closing(sqlite3.connect(db)) as conn:
            conn.execute(
                "CREATE TRIGGER refuse_billing BEFORE INSERT ON billing_accounts"
                " BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
            )
            conn.commit()
        with pytest.raises(RpcError) as failed:
            await sc.call("auth:signIn", sign_in_params())
        assert failed.value.kind == "INTERNAL"
        for table in ("users", "persons", "organizations", "org_members", "workspaces", "resource_pools"):
            assert query(db, f"SELECT COUNT(*) FROM {table}") == [(0,)], table
        assert await sc.call("auth:session") == {"authenticated": False}
        with closing(sqlite3.connect(db)) as conn:
            conn.execute("DROP TRIGGER refuse_billing")
            conn.commit()
        assert (await sc.call("auth:signIn", sign_in_params()))["firstLogin"] is True


async def test_a_catalog_change_in_the_settings_file_reaches_a_running_sidecar(home: Path) -> None:
    async with SidecarProcess.start(home, settings={"orgPool": {"maxOrgs": 10}}) as sc:
        await sc.call("auth:signIn", sign_in_params())
        assert (await sc.call("org:status"))["maxOrgs"] == 4
        start = len(sc.messages)
        catalog = {
            "orgTypes": {"personal": {"defaultPlanLadder": "core"}},
            "ladders": {"core": ["public-tier"]},
            "products": {"public-tier": {"name": "Public Tier", "entitlements": {"scratchOrgs.maxActive": 2}}},
        }
        (home / "settings.json").write_text(
            json.dumps({"orgPool": {"maxOrgs": 10}, "governance": catalog}), encoding="utf-8"
        )
        note = await sc.wait_notification("governance:changed", lambda p: p["reason"] == "catalogSynced", start=start)
        assert note["params"]["status"]["maxOrgs"] == 2
        assert (await sc.call("org:status"))["maxOrgs"] == 2
