"""Two desks of a shared pool (two sidecar instances, each with its own fake `sf` auth store) on both engines: the
org a desk brings in is recorded with its auth URL sealed (never in clear in the database), the row goes with its
org, and the other desk's CLI is logged in with it before its agent uses the org; without the key, or with another
key, it is refused naming the setting."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sidecar.errors import OrgNotAuthorized
from sidecar.fakesf import executable_path
from sidecar.pool import authurl_store
from sidecar.pool.handover import OrgCredentials
from sidecar.pool.holder import LeaseHolder
from sidecar.pool.service import PoolLimits, PoolService
from sidecar.pool.teamkey import ENV_VAR, SETTING, TeamKey
from sidecar.sf.client import SfClient
from sidecar.storage.database import Database, open_target
from sidecar.storage.url import DatabaseTarget
from tests.support.fakesf import scratch_org
from tests.support.postgres import database_target, postgres_server, postgres_url  # noqa: F401

pytestmark = pytest.mark.anyio

KEY = TeamKey(bytes(range(32)), "test key")
LIMITS = PoolLimits(max_orgs=10, default_duration_days=7, min_remaining_hours=1)


@dataclass
class Desk:
    name: str
    db: Database
    pool: PoolService
    state: Path
    log: Path
    home: Path

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line)["argv"] for line in self.log.read_text().splitlines() if line.strip()]

    def cli_orgs(self) -> list[str]:
        state = json.loads(self.state.read_text()) if self.state.exists() else {}
        return [o.get("alias") for o in state.get("orgs", [])]


def auth_url_of(state: Path, alias: str) -> str:
    """The org's auth URL as the desk's own CLI shows it (the fake keeps it stable per org)."""
    out = subprocess.run(
        [str(executable_path()), "org", "auth", "show-sfdx-auth-url", "--target-org", alias, "--no-prompt", "--json"],
        env={"SF_FAKE_STATE": str(state), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        check=True,
        timeout=60,
    )
    return str(json.loads(out.stdout)["result"]["sfdxAuthUrl"])


@pytest.fixture
async def open_desks(database_target: DatabaseTarget, tmp_path: Path) -> AsyncIterator[list[Desk]]:
    opened: list[Database] = []

    async def open_db() -> Database:
        db = open_target(database_target)
        await db.open()
        opened.append(db)
        return db

    desks: list[Desk] = []
    for name, key in (("desk-a", KEY), ("desk-b", KEY), ("desk-c", None), ("desk-d", TeamKey(bytes(32), "other"))):
        db = await open_db()
        folder = tmp_path / name
        (folder / "home").mkdir(parents=True)
        state, log = folder / "sf-state.json", folder / "sf-log.jsonl"
        state.write_text(json.dumps({"noise": False, "orgs": []}))
        sf = SfClient(lambda: str(executable_path()), env={"SF_FAKE_STATE": str(state), "SF_FAKE_LOG": str(log)})
        holder = LeaseHolder(f"inst_{name}", lambda name=name: name)  # type: ignore[misc]
        credentials = OrgCredentials(db, sf, holder, lambda key=key: key, folder / "home")  # type: ignore[misc]
        pool = PoolService(db, LIMITS, lambda sf=sf: sf.org_list(60), holder=holder, credentials=credentials)  # type: ignore[misc]
        desks.append(Desk(name, db, pool, state, log, folder / "home"))
    try:
        yield desks
    finally:
        for db in opened:
            await db.close()


async def raw_rows(db: Database) -> list[dict[str, object]]:
    return [dict(r) for r in await db.reader.fetch_all("SELECT * FROM org_auth_urls")]


def put_org(desk: Desk, alias: str) -> None:
    state = json.loads(desk.state.read_text())
    state["orgs"].append(scratch_org(alias))
    desk.state.write_text(json.dumps(state))


def parts_of(url: str, width: int = 10) -> set[str]:
    return {url[i : i + width] for i in range(len("force://PlatformCLI::"), len(url) - width + 1)}


async def test_a_registered_org_is_stored_sealed_bound_to_it_and_goes_with_it(open_desks: list[Desk]) -> None:
    a = open_desks[0]
    put_org(a, "qa1")
    url = auth_url_of(a.state, "qa1")
    org = await a.pool.register("qa1", username="test-qa1@example.com")
    rows = await raw_rows(a.db)
    assert len(rows) == 1 and rows[0]["org_id"] == org.id and rows[0]["origin_instance"] == "inst_desk-a"
    raw = repr(rows)
    decoded = repr(rows) + base64.b64decode(str(rows[0]["ciphertext"])).decode("latin-1")
    assert "force://" not in decoded and not {p for p in parts_of(url) if p in decoded}, "a piece of the URL is stored"
    origin = await authurl_store.origin_of(a.db.reader, org.id)
    assert origin is not None and origin.sealed is not None and KEY.open(org.id, origin.sealed) == url
    assert url not in raw
    await a.pool.remove(org.id)
    assert await raw_rows(a.db) == []


async def test_discovery_seals_the_urls_of_the_orgs_it_adds_and_only_those(open_desks: list[Desk]) -> None:
    a = open_desks[0]
    put_org(a, "qa1")
    put_org(a, "qa2")
    await a.pool.register("qa1", username="test-qa1@example.com")
    before = len(a.calls())
    report = await a.pool.discover()
    assert report.registered == ["qa2"]
    shown = [c for c in a.calls()[before:] if c[:3] == ["org", "auth", "show-sfdx-auth-url"]]
    assert [c[c.index("--target-org") + 1] for c in shown] == ["qa2"]  # qa1 was already in the pool
    rows = {r["org_id"]: r for r in await raw_rows(a.db)}
    qa2 = next(o for o in await a.pool.list_orgs() if o.alias == "qa2")
    origin = await authurl_store.origin_of(a.db.reader, qa2.id)
    assert len(rows) == 2 and origin is not None and origin.sealed is not None
    assert KEY.open(qa2.id, origin.sealed) == auth_url_of(a.state, "qa2")


async def test_the_other_desk_logs_its_cli_in_once_with_a_file_that_is_gone_afterwards(open_desks: list[Desk]) -> None:
    a, b = open_desks[0], open_desks[1]
    put_org(a, "qa1")
    org = await a.pool.register("qa1", username="test-qa1@example.com")
    assert await a.pool.credentials.hand_over(org) is None  # type: ignore[union-attr]  # made here: nothing to do
    assert b.cli_orgs() == []
    claimed = await b.pool.claim("agent-1")
    assert claimed is not None and claimed.id == org.id
    origin = await b.pool.credentials.hand_over(claimed)  # type: ignore[union-attr]
    assert origin is not None and origin.machine == "desk-a"
    assert b.cli_orgs() == ["qa1"]  # desk B's own auth store now knows it, under the pool's alias
    logins = [c for c in b.calls() if c[:3] == ["org", "login", "sfdx-url"]]
    assert len(logins) == 1 and "--sfdx-url-stdin" not in logins[0]
    assert logins[0][3:] == ["--sfdx-url-file", logins[0][4], "--alias", "qa1", "--json"]
    used = Path(logins[0][4])
    assert not used.exists() and not used.parent.exists() and list((b.home / "handover").iterdir()) == []
    assert await b.pool.credentials.hand_over(claimed) is None  # type: ignore[union-attr]  # once per process
    assert len([c for c in b.calls() if c[:3] == ["org", "login", "sfdx-url"]]) == 1


async def test_without_a_key_or_with_another_key_the_other_desks_org_is_refused(open_desks: list[Desk]) -> None:
    a, _, c, d = open_desks
    put_org(a, "qa1")
    org = await a.pool.register("qa1", username="test-qa1@example.com")
    with pytest.raises(OrgNotAuthorized) as none:
        await c.pool.credentials.hand_over(org)  # type: ignore[union-attr]
    assert none.value.data["reason"] == "noTeamKey" and none.value.data["machineName"] == "desk-a"
    assert ENV_VAR in none.value.message and SETTING in none.value.message and "qa1" in none.value.message
    with pytest.raises(OrgNotAuthorized) as other:
        await d.pool.credentials.hand_over(org)  # type: ignore[union-attr]
    assert other.value.data["reason"] == "wrongTeamKey"
    assert c.cli_orgs() == [] and d.cli_orgs() == [] and not any(x[:2] == ["org", "login"] for x in c.calls())


async def test_a_desk_without_a_key_records_only_the_origin_and_its_orgs_are_refused_elsewhere(
    open_desks: list[Desk],
) -> None:
    a, b, c, _ = open_desks
    put_org(c, "qa3")
    org = await c.pool.register(
        "qa3", username="test-qa3@example.com", expires_at=datetime.now(UTC) + timedelta(days=2)
    )
    assert not any(x[:3] == ["org", "auth", "show-sfdx-auth-url"] for x in c.calls())  # no key: nothing captured
    rows = await raw_rows(c.db)
    assert len(rows) == 1 and rows[0]["ciphertext"] is None and rows[0]["origin_machine"] == "desk-c"
    assert await c.pool.credentials.hand_over(org) is None  # type: ignore[union-attr]  # its own org works
    with pytest.raises(OrgNotAuthorized) as caught:
        await b.pool.credentials.hand_over(org)  # type: ignore[union-attr]
    assert caught.value.data["reason"] == "noAuthUrl" and ENV_VAR in caught.value.message
    assert a.cli_orgs() == []


async def test_an_org_the_cli_cannot_show_is_still_registered_and_works_on_its_own_desk(
    open_desks: list[Desk],
) -> None:
    a, b = open_desks[0], open_desks[1]
    org = await a.pool.register("ghost")  # not in desk A's CLI: the capture fails (logged), the registration stands
    rows = await raw_rows(a.db)
    assert len(rows) == 1 and rows[0]["ciphertext"] is None
    with pytest.raises(OrgNotAuthorized) as caught:
        await b.pool.credentials.hand_over(org)  # type: ignore[union-attr]
    assert caught.value.data["reason"] == "noAuthUrl"


async def test_a_claim_takes_an_org_this_desk_can_use_before_one_it_cannot(open_desks: list[Desk]) -> None:
    """A desk without the key (or with another key) is handed another desk's sealed org only when nothing it can
    use is free: its own orgs and orgs without a recorded origin come first, whatever their expiry; a desk with the
    key takes the sealed org that expires first, as before."""
    a, b, c, d = open_desks
    soon, later = datetime.now(UTC) + timedelta(days=2), datetime.now(UTC) + timedelta(days=5)
    put_org(a, "sealed")
    sealed = await a.pool.register("sealed", username="test-sealed@example.com", expires_at=soon)
    put_org(c, "own-c")
    own_c = await c.pool.register("own-c", username="test-own-c@example.com", expires_at=later)
    put_org(d, "own-d")
    own_d = await d.pool.register("own-d", username="test-own-d@example.com", expires_at=later)

    got_c = await c.pool.claim("agent-c")
    got_d = await d.pool.claim("agent-d")
    assert got_c is not None and got_c.id == own_c.id  # not the sealed org, which expires first
    assert got_d is not None and got_d.id == own_d.id
    got_b = await b.pool.claim("agent-b")
    assert got_b is not None and got_b.id == sealed.id  # B holds A's key: expiry order
    await b.pool.release(sealed.id, "agent-b")
    # Nothing else is free: the unusable org is still handed out, and its hand-over says why.
    second = await c.pool.claim("agent-c2")
    assert second is not None and second.id == sealed.id
    with pytest.raises(OrgNotAuthorized):
        await c.pool.credentials.hand_over(second)  # type: ignore[union-attr]


async def test_the_claims_key_id_is_read_at_most_every_few_seconds_not_per_claim(open_desks: list[Desk]) -> None:
    """Every claim of a shared pool ranks by the team key's id; reading the key (environment or key file, then an
    HMAC) for each one would put file I/O on the claim's path, so the id is kept for KEY_ID_SECONDS."""
    a = open_desks[0]
    reads: list[int] = []

    def counted_key() -> TeamKey:
        reads.append(1)
        return KEY

    holder = LeaseHolder("inst_counted", lambda: "counted")
    credentials = OrgCredentials(a.db, SfClient(lambda: str(executable_path())), holder, counted_key, a.home)
    ids = {credentials.key_id() for _ in range(50)}
    assert ids == {KEY.key_id} and len(reads) == 1
