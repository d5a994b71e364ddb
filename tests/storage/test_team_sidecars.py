"""Whole sidecar processes on one PostgreSQL database (each with its own home, as two desktops of a team would be):
the URL's password stays masked everywhere, and the first sign-in of one subject on two sidecars creates one user."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from sidecar.devtools.client import RpcError, SidecarProcess
from sidecar.storage.database import PostgresDatabase
from sidecar.storage.url import ENV_VAR, parse_database_url
from tests.support.fakesf import FakeSf
from tests.support.postgres import postgres_server, postgres_url  # noqa: F401

pytestmark = pytest.mark.anyio

PASSWORD = "s3cret-Team-pw"
CLAIMS = {"iss": "https://login.example.com", "sub": "00u-carlos", "preferred_username": "cgalo", "name": "Carlos"}


def with_password(url: str) -> str:
    """The test server trusts loopback, so any password is accepted: enough to prove it is never shown."""
    scheme, _, rest = url.partition("://")
    user, _, tail = rest.partition("@")
    return f"{scheme}://{user}:{PASSWORD}@{tail}"


async def count(url: str, table: str) -> int:
    db = PostgresDatabase(parse_database_url(url), max_size=1)
    await db.open()
    try:
        return int(await db.reader.fetch_val(f"SELECT COUNT(*) FROM {table}"))
    finally:
        await db.close()


async def test_health_shows_the_engine_and_the_masked_url_and_the_password_goes_nowhere(
    tmp_path: Path, postgres_url: str, fake_sf: FakeSf
) -> None:
    url = with_password(postgres_url)
    home = tmp_path / "desk-a"
    with anyio.fail_after(60):
        async with SidecarProcess.start(home, settings=fake_sf.settings(), env={**fake_sf.env, ENV_VAR: url}) as sc:
            database = (await sc.call("sidecar:health"))["database"]
            await sc.call("org:status")
        assert database["engine"] == "postgresql" and database["path"] is None
        assert database["url"] == url.replace(PASSWORD, "****") and database["schemaVersion"] >= 4
        wire = repr(sc.messages)
    assert PASSWORD not in wire and PASSWORD not in sc.stderr_text()
    for file in home.rglob("*"):
        if file.is_file():
            assert PASSWORD.encode() not in file.read_bytes(), file


async def test_a_bad_team_url_stops_the_sidecar_with_a_masked_sentence(tmp_path: Path, postgres_url: str) -> None:
    head, _, _ = with_password(postgres_url).partition("?")
    unreachable = f"{head.rsplit('/', 1)[0].replace('@', '@127.0.0.1:1')}/nowhere"  # nothing listens on port 1
    with anyio.fail_after(60):
        process = await anyio.run_process(
            [sys.executable, "-m", "sidecar", "--home", str(tmp_path / "h"), "--database-url", unreachable],
            check=False,
            input=b"",
        )
    assert process.returncode != 0
    said = process.stderr.decode()
    assert "cannot connect to PostgreSQL" in said and "****" in said and PASSWORD not in said


async def test_first_sign_in_of_one_subject_on_two_sidecars_at_once_creates_one_user(
    tmp_path: Path, postgres_url: str, fake_sf: FakeSf
) -> None:
    env = {**fake_sf.env, ENV_VAR: postgres_url}
    sessions: list[dict[str, Any]] = []
    with anyio.fail_after(90):
        async with (
            SidecarProcess.start(tmp_path / "desk-a", settings=fake_sf.settings(), env=env) as a,
            SidecarProcess.start(tmp_path / "desk-b", settings=fake_sf.settings(), env=env) as b,
        ):
            for sc in (a, b):  # both fully started (governance bound) before the race
                await sc.call("sidecar:health")

            async def sign_in(sc: SidecarProcess) -> None:
                sessions.append(await sc.call("auth:signIn", {"claims": CLAIMS}))

            async with anyio.create_task_group() as tg:
                for i in range(6):
                    tg.start_soon(sign_in, (a, b)[i % 2])
    assert [s["firstLogin"] for s in sessions].count(True) == 1
    assert len({(s["personId"], s["organizationId"], s["workspaceId"]) for s in sessions}) == 1
    for table in ("users", "persons", "organizations", "resource_pools", "billing_accounts", "grants"):
        assert await count(postgres_url, table) == 1, table


async def test_the_team_capacity_is_one_number_in_the_database_whatever_each_machine_says(
    tmp_path: Path, postgres_url: str, fake_sf: FakeSf
) -> None:
    env = {**fake_sf.env, ENV_VAR: postgres_url}
    expires = "2099-01-01T00:00:00Z"
    with anyio.fail_after(90):
        async with SidecarProcess.start(tmp_path / "desk-a", settings=fake_sf.settings(maxOrgs=2), env=env) as a:
            assert (await a.call("org:status"))["maxOrgs"] == 2  # the first sidecar initialises it
            async with SidecarProcess.start(tmp_path / "desk-b", settings=fake_sf.settings(maxOrgs=10), env=env) as b:
                assert (await b.call("org:status"))["maxOrgs"] == 2  # B's own maxOrgs does not count
                await b.call("org:register", "qa1", {"expiresAt": expires})
                await a.call("org:register", "qa2", {"expiresAt": expires})
                with pytest.raises(RpcError) as full:
                    await b.call("org:register", "qa3", {"expiresAt": expires})
                assert full.value.kind == "CAPACITY_REACHED"
                # Only an operator changes it, through governance:setTeamCapacity.
                await b.call("auth:signIn", {"claims": CLAIMS})
                with pytest.raises(RpcError) as refused:
                    await b.call("governance:setTeamCapacity", 3)
                assert refused.value.kind == "ACCESS_DENIED"
                await b.call("auth:signIn", {"claims": {**CLAIMS, "roles": ["operator"]}})
                assert (await b.call("governance:setTeamCapacity", 3))["maxOrgs"] == 3
                await a.call("org:register", "qa3", {"expiresAt": expires})  # A enforces the new number too
                assert (await a.call("org:status"))["maxOrgs"] == 3
                with pytest.raises(RpcError) as again:
                    await a.call("org:register", "qa4", {"expiresAt": expires})
                assert again.value.kind == "CAPACITY_REACHED"
