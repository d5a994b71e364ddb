"""A pre-warmed org that is hydrating or failed to hydrate is never claimed, enforced by the claim's own SQL, on
both engines (a real SQLite file and a real PostgreSQL database); what an org holds is recorded and read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
import pytest

from sidecar.pool.models import Hydration
from sidecar.pool.service import PoolLimits, PoolService
from sidecar.storage.database import Database
from tests.support.postgres import database, database_target, postgres_server, postgres_url  # noqa: F401

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def service(db: Database) -> PoolService:
    return PoolService(db, PoolLimits(max_orgs=4, min_remaining_hours=4), clock=lambda: NOW)


async def test_hydrating_and_failed_orgs_are_never_claimed_even_by_concurrent_claims(database: Database) -> None:
    pool = service(database)
    expires = NOW + timedelta(days=3)
    hydrating = await pool.register("hyd", expires_at=expires - timedelta(hours=2), hydration=Hydration.HYDRATING)
    failed = await pool.register("bad", expires_at=expires - timedelta(hours=1), hydration=Hydration.HYDRATING)
    await pool.set_hydration(failed.id, Hydration.FAILED)
    got: list[object] = []

    async def claim(agent: str) -> None:
        got.append(await pool.claim(agent))

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for n in range(6):
                tg.start_soon(claim, f"a{n}")
    assert got == [None] * 6
    # Ready, it is claimable; the failed one still is not, though it expires first.
    await pool.set_hydration(hydrating.id, Hydration.READY)
    claimed = await pool.claim("a1")
    assert claimed is not None and claimed.id == hydrating.id and claimed.hydration is Hydration.READY
    assert await pool.claim("a2") is None
    assert (await pool.get(failed.id)).hydration is Hydration.FAILED


async def test_the_recorded_deployment_round_trips_and_can_be_forgotten(database: Database) -> None:
    pool = service(database)
    org = await pool.register("o1", expires_at=NOW + timedelta(days=3))
    assert (await pool.deployment(org.id)).state is None
    state = {"version": 1, "commit": "a" * 40, "uncommitted": False, "tree": "b" * 40}
    updated = await pool.record_deployment(org.id, commit="a" * 40, state=state, inputs={"data": "d"})
    assert updated is not None and updated.deployed_commit == "a" * 40
    held = await pool.deployment(org.id)
    assert held.state == state and held.inputs == {"data": "d"}
    await pool.record_step_inputs(org.id, {"data": "e"})
    await pool.record_deployment(org.id, commit=None, state=None)
    held = await pool.deployment(org.id)
    assert held.state is None and held.inputs == {"data": "e"}
    assert (await pool.get(org.id)).deployed_commit is None
