"""Pre-warm per shape and the replacement of expiring orgs, with the fake `sf` (real subprocesses, real SQLite or
PostgreSQL) and a controllable clock: the shape with the fewest available orgs is created first, the total never
passes capacity, and an org within minRemainingHours of expiry is replaced: the new one first, then the old one
removed (deleted in the Dev Hub when orgPool.deleteOnRemove)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

from sidecar.devtools.gitrepo import git
from sidecar.pool.models import OrgSource
from sidecar.pool.service import PoolService, SettingsLimits
from sidecar.pool.shapes import Shape, shape_of_file
from sidecar.provisioning.creation import CapacityGate, CreationJobs
from sidecar.provisioning.devhub import DevHubLimits
from sidecar.provisioning.prewarm import PreWarmer
from sidecar.settings import SettingsStore, load_settings
from sidecar.sf.client import SfClient
from sidecar.sf.remote_orgs import CliRemoteOrgs
from sidecar.storage.database import Database, open_target
from sidecar.storage.url import DatabaseTarget, Engine
from sidecar.timeutil import utcnow
from tests.pool.test_pool_rules import Clock
from tests.support.fakesf import FakeSf, scratch_org
from tests.support.harness import SidecarProcess
from tests.support.postgres import database, database_target, postgres_server, postgres_url  # noqa: F401
from tests.support.provisioning import fake_state, make_worktree

pytestmark = pytest.mark.anyio

A_DEF = {"orgName": "QA", "edition": "Developer"}
B_DEF = {"orgName": "QA", "edition": "Enterprise", "features": ["PersonAccounts"]}
LEASE_TIMEOUT = timedelta(minutes=15)  # orgPool.leaseTimeoutMinutes' default


def repo_with_two_definitions(root: Path) -> Path:
    """A committed project (pre-warm hydrates from its HEAD) holding definitions of two shapes."""
    repo = make_worktree(root, classes=1, data=False, users=False)
    (repo / "config" / "a-def.json").write_text(json.dumps(A_DEF))
    (repo / "config" / "b-def.json").write_text(json.dumps(B_DEF))
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", "base")
    return repo


@dataclass
class Warm:
    pool: PoolService
    prewarmer: PreWarmer
    clock: Clock
    fake: FakeSf
    store: SettingsStore
    path: Path
    repo: Path

    def configure(self, **org_pool: Any) -> None:
        self.path.write_text(json.dumps(self.fake.settings(**org_pool)))
        self.store.current = load_settings(self.path)
        assert self.store.current.errors == (), self.store.current.errors

    def entries(self, a: int | None, b: int | None) -> list[dict[str, Any]]:
        wanted = [("config/a-def.json", a), ("config/b-def.json", b)]
        return [{"projectDir": str(self.repo), "scratchDefPath": d, "count": n} for d, n in wanted if n]

    def shape(self, name: str) -> Shape:
        return shape_of_file(self.repo / "config" / name, None)

    async def round(self) -> bool:
        with anyio.fail_after(60):
            return await self.prewarmer.top_up_once(self.store.current.org_pool)

    def commands(self) -> list[tuple[str, str]]:
        """(command, its org or definition file) of every create and delete the fake ran, in order."""
        seen = []
        for call in self.fake.calls():
            argv = call["argv"]
            if argv[:3] == ["org", "create", "scratch"]:
                seen.append(("create", Path(argv[argv.index("--definition-file") + 1]).name))
            elif argv[:3] == ["org", "delete", "scratch"]:
                seen.append(("delete", argv[argv.index("--target-org") + 1]))
        return seen

    async def by_alias(self) -> dict[str, Any]:
        return {o.alias: o for o in await self.pool.list_orgs()}


async def make_warm(db: Database, tmp_path: Path, fake: FakeSf) -> Warm:
    fake.write(fake_state())
    repo = repo_with_two_definitions(tmp_path / "repo")
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(fake.settings()))
    store = SettingsStore(path)
    clock = Clock()
    clock.now = utcnow()  # the fake sf's expiry dates are real dates: the pool's clock starts at now
    sf = SfClient(lambda: store.current.org_pool.sfPath, env=fake.env)
    pool = PoolService(db, SettingsLimits(store), clock=clock, remote=CliRemoteOrgs(sf))
    gate = CapacityGate(pool, lambda: None, CreationJobs(db, pool.holder.instance_id, lambda: LEASE_TIMEOUT, clock))

    async def no_queue() -> int:
        return 0

    prewarmer = PreWarmer(pool, sf, gate, store, no_queue, DevHubLimits(sf, store))
    return Warm(pool, prewarmer, clock, fake, store, path, repo)


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    db = open_target(DatabaseTarget(Engine.SQLITE, path=tmp_path / "sidecar.db"))
    await db.open()
    try:
        yield db
    finally:
        await db.close()


async def test_the_shape_with_fewest_available_first_within_capacity(
    database: Database, tmp_path: Path, fake_sf: FakeSf
) -> None:
    warm = await make_warm(database, tmp_path, fake_sf)
    warm.configure(maxOrgs=2, prewarm=warm.entries(a=2, b=1))
    assert await warm.round() and await warm.round()
    assert not await warm.round()  # full: two of the three wanted, one of each shape (B had fewer after A's first)
    assert warm.commands() == [("create", "a-def.json"), ("create", "b-def.json")]
    warm.configure(maxOrgs=3, prewarm=warm.entries(a=2, b=1))
    assert await warm.round()
    assert not await warm.round()  # every shape has its count
    assert warm.commands()[2:] == [("create", "a-def.json")]
    status = await warm.pool.status()
    available = {c.shape: c.available for c in status.by_shape}
    assert available == {warm.shape("a-def.json").hash: 2, warm.shape("b-def.json").hash: 1}
    assert {o.hydration.value for o in await warm.pool.list_orgs() if o.hydration} == {"ready"}
    assert {c.shape: c.definition_name for c in status.by_shape}[warm.shape("b-def.json").hash] == "b-def.json"


@pytest.mark.parametrize("delete_on_remove", [True, False])
async def test_an_expiring_org_is_replaced_new_one_first(
    sqlite_db: Database, tmp_path: Path, fake_sf: FakeSf, delete_on_remove: bool
) -> None:
    warm = await make_warm(sqlite_db, tmp_path, fake_sf)
    settings: dict[str, Any] = {"maxOrgs": 2, "minRemainingHours": 4, "deleteOnRemove": delete_on_remove}
    warm.configure(defaultDurationDays=1, prewarm=warm.entries(a=1, b=None), **settings)
    assert await warm.round() and not await warm.round()
    (old,) = await warm.pool.list_orgs()
    assert old.expires_at is not None
    # Time passes: the org is 3 hours from its expiry, inside minRemainingHours, and no claim takes it any more.
    warm.clock.now = old.expires_at - timedelta(hours=3)
    assert await warm.pool.claim("agent-1") is None
    warm.configure(defaultDurationDays=7, prewarm=warm.entries(a=1, b=None), **settings)
    assert await warm.round()  # the replacement, created while the old one is still in the pool
    orgs = await warm.by_alias()
    assert old.alias in orgs and len(orgs) == 2
    assert await warm.round()  # then the old one goes
    assert not await warm.round()
    orgs = await warm.by_alias()
    assert old.alias not in orgs and len(orgs) == 1
    (new,) = orgs.values()
    assert new.shape == old.shape and new.hydration is not None and new.hydration.value == "ready"
    assert (await warm.pool.claim("agent-1")).id == new.id  # type: ignore[union-attr]
    in_hub = {o["alias"] for o in fake_sf.read()["orgs"]}
    if delete_on_remove:  # deleted in the Dev Hub, after the replacement was created
        assert warm.commands() == [("create", "a-def.json"), ("create", "a-def.json"), ("delete", old.alias)]
        assert old.alias not in in_hub
    else:  # only forgotten, as org:remove without deleteRemote: the Dev Hub keeps it until it expires
        assert warm.commands() == [("create", "a-def.json"), ("create", "a-def.json")]
        assert old.alias in in_hub
    assert warm.prewarmer.retired == 1


async def test_a_full_pool_retires_the_expiring_org_to_make_room(
    sqlite_db: Database, tmp_path: Path, fake_sf: FakeSf
) -> None:
    warm = await make_warm(sqlite_db, tmp_path, fake_sf)
    warm.configure(maxOrgs=1, defaultDurationDays=1, deleteOnRemove=True, prewarm=warm.entries(a=1, b=None))
    assert await warm.round() and not await warm.round()
    (old,) = await warm.pool.list_orgs()
    assert old.expires_at is not None
    warm.clock.now = old.expires_at - timedelta(hours=1)
    warm.configure(maxOrgs=1, defaultDurationDays=7, deleteOnRemove=True, prewarm=warm.entries(a=1, b=None))
    assert await warm.round()  # no room for a replacement: the expiring org (claimed by nobody) goes first
    assert await warm.pool.list_orgs() == []
    assert await warm.round() and not await warm.round()
    (new,) = await warm.pool.list_orgs()
    assert new.id != old.id and new.expires_at is not None and new.expires_at > old.expires_at
    assert warm.commands() == [("create", "a-def.json"), ("delete", old.alias), ("create", "a-def.json")]


async def test_leased_and_unconfigured_expiring_orgs_are_left_alone(
    database: Database, tmp_path: Path, fake_sf: FakeSf
) -> None:
    warm = await make_warm(database, tmp_path, fake_sf)
    a, b = warm.shape("a-def.json"), warm.shape("b-def.json")
    now = warm.clock.now
    held = await warm.pool.register("held-a", expires_at=now + timedelta(hours=50), shape=a)
    assert (await warm.pool.claim("agent-1", a.hash)).id == held.id  # type: ignore[union-attr]
    await warm.pool.register("fresh-a", expires_at=now + timedelta(days=5), shape=a)
    await warm.pool.register("other-b", expires_at=now + timedelta(hours=50), shape=b)
    await warm.pool.register("unknown", expires_at=now + timedelta(hours=50), source=OrgSource.MANUAL)
    warm.configure(maxOrgs=4, deleteOnRemove=True, prewarm=warm.entries(a=1, b=None))
    warm.clock.now = now + timedelta(hours=48)  # every org but fresh-a is inside minRemainingHours
    assert not await warm.round()  # A has its one; nothing else is pre-warm's to replace
    assert set(await warm.by_alias()) == {"held-a", "fresh-a", "other-b", "unknown"}
    assert warm.commands() == [] and warm.prewarmer.retired == 0


async def test_an_expiring_org_whose_deletion_fails_stays_until_the_hub_confirms(
    sqlite_db: Database, tmp_path: Path, fake_sf: FakeSf
) -> None:
    warm = await make_warm(sqlite_db, tmp_path, fake_sf)
    a = warm.shape("a-def.json")
    now = warm.clock.now
    stale = scratch_org("stale-a", days=1)
    fake_sf.write(fake_state(orgs=[stale], scenarios={"org delete scratch": ["error"]}))  # refused once
    await warm.pool.register("stale-a", expires_at=now + timedelta(hours=2), shape=a, username=stale["username"])
    await warm.pool.register("fresh-a", expires_at=now + timedelta(days=5), shape=a)
    warm.configure(maxOrgs=3, deleteOnRemove=True, prewarm=warm.entries(a=1, b=None))
    assert not await warm.round()  # the Dev Hub refused: the org stays, and the round reports no change
    assert "stale-a" in await warm.by_alias()
    assert warm.prewarmer.last_problem is not None and "stale-a" in warm.prewarmer.last_problem
    assert await warm.round()  # the next round asks again, and the Dev Hub confirms
    assert "stale-a" not in await warm.by_alias()
    assert [o["alias"] for o in fake_sf.read()["orgs"]] == []


async def test_prewarm_list_over_the_wire_keeps_each_shape_topped_up(
    home: Path, tmp_path: Path, fake_sf: FakeSf
) -> None:
    repo = repo_with_two_definitions(tmp_path / "repo")
    fake_sf.write(fake_state())
    entries = [
        {"projectDir": str(repo), "scratchDefPath": "config/a-def.json", "count": 1},
        {"projectDir": str(repo), "scratchDefPath": "config/b-def.json", "count": 2},
    ]
    settings = fake_sf.settings(maxOrgs=4, prewarm=entries, refreshIntervalSeconds=0.2)
    async with SidecarProcess.start(home, settings=settings, env=fake_sf.env) as sc:
        with anyio.fail_after(60):
            while (await sc.call("org:status"))["available"] < 3:
                await anyio.sleep(0.2)
        await anyio.sleep(1.0)  # targets met: no fourth org although maxOrgs has room for one
        status = await sc.call("org:status")
        assert status["total"] == 3 and status["available"] == 3
        counts = {c["definitionName"]: c["available"] for c in status["byShape"]}
        assert counts == {"a-def.json": 1, "b-def.json": 2}
        health = await sc.call("sidecar:health")
        assert health["settings"]["errors"] == []
    creates = [c["argv"] for c in fake_sf.calls() if c["argv"][:3] == ["org", "create", "scratch"]]
    names = [Path(a[a.index("--definition-file") + 1]).name for a in creates]
    assert names == ["a-def.json", "b-def.json", "b-def.json"]  # fewest available first; ties in list order
