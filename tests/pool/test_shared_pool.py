"""A pool two machines share (two sidecar instances on one database, on both engines): an agent is its instance
plus its id, so one machine's agent never reaches another machine's agent's org, and every lease says which machine
holds it."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sidecar.errors import AccessDenied
from sidecar.pool.holder import LeaseHolder, instance_id
from sidecar.pool.service import PoolLimits, PoolService
from sidecar.storage.database import Database, open_target
from sidecar.storage.url import DatabaseTarget
from tests.support.postgres import database, database_target, postgres_server, postgres_url  # noqa: F401

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
LIMITS = PoolLimits(max_orgs=10, default_duration_days=7, min_remaining_hours=4)


def desk(db: Database, name: str) -> PoolService:
    return PoolService(db, LIMITS, clock=lambda: NOW, holder=LeaseHolder(f"inst_{name}", lambda: name))


@pytest.fixture
async def desks(database_target: DatabaseTarget) -> AsyncIterator[tuple[PoolService, PoolService]]:
    """Desk A and desk B, each with its own connection(s) to the one database, as two sidecars would be."""
    a_db, b_db = open_target(database_target), open_target(database_target)
    await a_db.open()
    await b_db.open()
    try:
        yield desk(a_db, "desk-a"), desk(b_db, "desk-b")
    finally:
        await a_db.close()
        await b_db.close()


async def test_the_same_agent_id_on_two_machines_is_two_agents(desks: tuple[PoolService, PoolService]) -> None:
    a, b = desks
    first = await a.register("qa1", expires_at=NOW + timedelta(days=1))
    second = await a.register("qa2", expires_at=NOW + timedelta(days=2))
    on_a = await a.claim("agent-1")
    on_b = await b.claim("agent-1")
    assert on_a is not None and on_b is not None
    assert (on_a.id, on_a.machine_name) == (first.id, "desk-a")
    assert (on_b.id, on_b.machine_name) == (second.id, "desk-b")
    # Claiming again returns each machine's own lease, never the other's.
    assert (await a.claim("agent-1")).id == first.id  # type: ignore[union-attr]
    assert (await b.lease_of("agent-1")).id == second.id  # type: ignore[union-attr]
    # Both machines see the whole team pool, with who holds what.
    assert {o.alias: o.machine_name for o in await b.list_orgs()} == {"qa1": "desk-a", "qa2": "desk-b"}


async def test_a_machine_cannot_reach_another_machines_agents_org(desks: tuple[PoolService, PoolService]) -> None:
    a, b = desks
    org = await a.register("qa1", expires_at=NOW + timedelta(days=1))
    assert (await a.claim("agent-1")).id == org.id  # type: ignore[union-attr]
    assert await b.lease_of("agent-1") is None
    with pytest.raises(AccessDenied, match="holds no org"):
        await b.check_access("agent-1", "qa1")  # what sf:run asks before running anything
    with pytest.raises(AccessDenied, match="another machine"):
        await b.release(org.id, "agent-1")
    with pytest.raises(AccessDenied, match="another machine"):
        await b.release(org.id)
    assert await b.release_agent("agent-1") is None
    assert (await a.check_access("agent-1", "qa1")).id == org.id
    released = await a.release(org.id, "agent-1")
    assert released is not None and released.machine_name is None and released.assigned_agent_id is None


def test_the_machine_name_defaults_to_the_host_name_and_the_instance_is_one_per_home(tmp_path: Path) -> None:
    assert LeaseHolder("inst_x").machine_name == socket.gethostname()
    assert LeaseHolder("inst_x", lambda: "  Ana's laptop ").machine_name == "Ana's laptop"
    assert LeaseHolder.for_database(False, tmp_path).instance_id == "local"
    first = LeaseHolder.for_database(True, tmp_path).instance_id
    assert first.startswith("inst_") and instance_id(tmp_path) == first
    other = tmp_path / "other-home"
    other.mkdir()
    assert instance_id(other) != first
