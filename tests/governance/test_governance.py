"""First sign-in (issue 4, sections 2 and 3) on a real SQLite file: every row it writes, with and without a default
ladder; atomicity under a late failure; returning sign-in; slug conflicts; the session; concurrent first sign-ins."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from sidecar.governance.models import SignedIn, SignedOut
from sidecar.governance.service import GovernanceService
from sidecar.governance.signin import slug_base
from sidecar.storage.url import DatabaseTarget, Engine
from tests.support.governance import (
    ISSUER,
    NO_DEFAULT_LADDER,
    PLAN_TABLES,
    STRUCTURE_TABLES,
    catalog_ids,
    claims,
    count,
    make_service,
    open_db,
    rows,
    snapshot,
)

pytestmark = pytest.mark.anyio

STAMP = "2026-11-22T12:00:00.000000Z"


async def test_first_sign_in_with_the_default_ladder_creates_every_row(database_target: DatabaseTarget) -> None:
    async with open_db(database_target) as db:
        service = await make_service(db)
        session = await service.sign_in(claims(roles=["developer"]))
        ids = await catalog_ids(db)

        (user,) = await rows(db, "users")
        assert {k: user[k] for k in ("issuer", "subject", "email", "username", "created_at")} == {
            "issuer": ISSUER,
            "subject": "00u-carlos",
            "email": "carlos.galo@example.com",
            "username": "cgalo",
            "created_at": STAMP,
        }
        (person,) = await rows(db, "persons")
        assert (person["user_id"], person["display_name"], person["email"]) == (
            user["id"],
            "Carlos",
            "carlos.galo@example.com",
        )
        (org,) = await rows(db, "organizations")
        assert (org["name"], org["slug"], org["org_type"], org["created_by_person_id"]) == (
            "Carlos's Organization",
            "cgalo",
            "personal",
            person["id"],
        )
        (member,) = await rows(db, "org_members")
        assert (member["organization_id"], member["person_id"], member["role"]) == (org["id"], person["id"], "owner")
        (workspace,) = await rows(db, "workspaces")
        assert (workspace["organization_id"], workspace["name"]) == (org["id"], "default")
        (pool,) = await rows(db, "resource_pools")
        assert (pool["organization_id"], pool["pool_type"], pool["is_auto_managed"]) == (org["id"], "default", 1)
        (assignment,) = await rows(db, "pool_assignments")
        assert (assignment["pool_id"], assignment["workspace_id"], assignment["is_primary"]) == (
            pool["id"],
            workspace["id"],
            1,
        )
        (account,) = await rows(db, "billing_accounts")
        assert (account["organization_id"], account["name"], account["status"]) == (org["id"], "Default", "active")

        # The default plan: rank 0 of `core` is public-tier.
        (grant,) = await rows(db, "grants")
        assert {k: grant[k] for k in grant if k not in ("id", "created_at")} == {
            "organization_id": org["id"],
            "billing_account_id": account["id"],
            "product_id": ids["public-tier"],
            "entitlement_set_id": ids["set:public-tier"],
            "granted_by_person_id": None,
            "grant_reason": "default",
            "status": "active",
            "quantity": 1,
            "ended_at": None,
        }
        (provision,) = await rows(db, "pool_provisions")
        assert (provision["pool_id"], provision["grant_id"], provision["status"], provision["ended_at"]) == (
            pool["id"],
            grant["id"],
            "active",
            None,
        )
        entitlements = await rows(db, "pool_entitlements")
        assert sorted((e["pool_id"], e["key"], e["value"], e["provision_id"]) for e in entitlements) == [
            (pool["id"], "scratchOrgs.maxActive", "4", provision["id"]),
            (pool["id"], "scratchOrgs.maxDurationDays", "7", provision["id"]),
        ]
        (position,) = await rows(db, "pool_provision_ladders")
        assert (position["pool_id"], position["ladder_id"], position["rank"]) == (pool["id"], ids["ladder:core"], 0)
        (transition,) = await rows(db, "pool_provision_transitions")
        assert {k: transition[k] for k in transition if k != "id"} == {
            "pool_id": pool["id"],
            "ladder_id": ids["ladder:core"],
            "transition_type": "initiate",
            "from_rank": None,
            "to_rank": 0,
            "actor_type": "system",
            "actor_person_id": None,
            "reason": "auto-provisioning on org creation",
            "occurred_at": STAMP,
        }

        assert session == SignedIn(
            oidc_subject="00u-carlos",
            issuer=ISSUER,
            email="carlos.galo@example.com",
            name="Carlos",
            username="cgalo",
            roles=["developer"],
            person_id=person["id"],
            organization_id=org["id"],
            workspace_id=workspace["id"],
            first_login=True,
        )


async def test_first_sign_in_without_a_default_ladder_creates_the_structures_and_no_plan(
    database_target: DatabaseTarget,
) -> None:
    async with open_db(database_target) as db:
        service = await make_service(db, NO_DEFAULT_LADDER)
        await service.sign_in(claims())
        for table in STRUCTURE_TABLES:
            assert await count(db, table) == 1, table
        (org,) = await rows(db, "organizations")
        assert (org["slug"], org["org_type"]) == ("cgalo", "personal")
        (account,) = await rows(db, "billing_accounts")
        assert (account["name"], account["status"]) == ("Default", "active")
        for table in PLAN_TABLES:
            assert await count(db, table) == 0, f"{table} has rows without a default ladder"


LATE_STEPS = [
    "user",
    "person",
    "organization",
    "membership",
    "workspace",
    "pool",
    "pool_assignment",
    "billing_account",
    "grant",
    "provision",
    "entitlements",
    "ladder",
    "transition",
]


class Injected(Exception):
    pass


@pytest.mark.parametrize("failing_step", LATE_STEPS)
async def test_a_failure_at_any_step_of_first_sign_in_leaves_every_table_unchanged(
    database_target: DatabaseTarget, failing_step: str
) -> None:
    seen: list[str] = []

    def step(name: str) -> None:
        seen.append(name)
        if name == failing_step:
            raise Injected(name)

    async with open_db(database_target) as db:
        service = await make_service(db, step=step)
        before = await snapshot(db)
        with pytest.raises(Injected):
            await service.sign_in(claims())
        assert seen[-1] == failing_step
        assert await snapshot(db) == before
        assert service.session() == SignedOut()
        # Nothing half-made blocks the next attempt.
        assert (await (await make_service(db)).sign_in(claims())).first_login is True


async def test_a_database_failure_at_the_entitlements_rolls_back_first_sign_in(database_target: DatabaseTarget) -> None:
    async with open_db(database_target) as db:
        service = await make_service(db)
        async with db.transaction() as conn:
            if db.engine is Engine.SQLITE:
                await conn.execute(
                    "CREATE TRIGGER refuse_entitlements BEFORE INSERT ON pool_entitlements"
                    " BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
                )
            else:
                await conn.execute(
                    "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql"
                    " AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$"
                )
                await conn.execute(
                    "CREATE TRIGGER refuse_entitlements BEFORE INSERT ON pool_entitlements"
                    " FOR EACH ROW EXECUTE FUNCTION refuse()"
                )
        before = await snapshot(db)
        with pytest.raises(Exception, match="injected failure"):
            await service.sign_in(claims())
        assert await snapshot(db) == before
        for table in STRUCTURE_TABLES + PLAN_TABLES:
            assert await count(db, table) == 0, table


async def test_returning_sign_in_creates_nothing_and_loads_the_session(database_target: DatabaseTarget) -> None:
    async with open_db(database_target) as db:
        service = await make_service(db)
        first = await service.sign_in(claims())
        await service.sign_out()
        before = await snapshot(db)
        # Changed display claims do not make a new subject: issuer plus sub does.
        again = await service.sign_in(claims(email="carlos@new-domain.example", name="Carlos G."))
        assert await snapshot(db) == before
        assert again.first_login is False
        assert (again.person_id, again.organization_id, again.workspace_id) == (
            first.person_id,
            first.organization_id,
            first.workspace_id,
        )
        assert (again.email, again.name) == ("carlos@new-domain.example", "Carlos G.")


async def test_same_email_under_another_subject_is_another_person(database_target: DatabaseTarget) -> None:
    async with open_db(database_target) as db:
        service = await make_service(db)
        a = await service.sign_in(claims(sub="sub-a"))
        b = await service.sign_in(claims(sub="sub-b"))
        c = await service.sign_in(claims(sub="sub-a", issuer="https://other-idp.example.com"))
        assert len({a.person_id, b.person_id, c.person_id}) == 3
        assert await count(db, "users") == 3


async def test_slug_conflict_takes_the_next_free_suffix(database_target: DatabaseTarget) -> None:
    async with open_db(database_target) as db:
        service = await make_service(db)
        await service.sign_in(claims(sub="first", username="cgalo"))
        await service.sign_in(claims(sub="second", username="CGalo"))
        await service.sign_in(claims(sub="third", username="cgalo@example.com"))
        slugs = [r["slug"] for r in await rows(db, "organizations")]
        assert sorted(slugs) == ["cgalo", "cgalo-2", "cgalo-3"]
        second = (await rows(db, "users", "subject = ?", ("second",)))[0]
        org = await rows(
            db,
            "organizations",
            "created_by_person_id = (SELECT id FROM persons WHERE user_id = ?)",
            (second["id"],),
        )
        assert org[0]["slug"] == "cgalo-2"


@pytest.mark.parametrize(
    "username, email, sub, expected",
    [
        ("cgalo", None, "s", "cgalo"),
        ("CGalo", None, "s", "cgalo"),
        ("Carlos Galo", None, "s", "carlos-galo"),
        ("carlos.galo@example.com", None, "s", "carlos-galo"),
        ("  José_Núñez!! ", None, "s", "jose-nunez"),
        ("../etc/passwd", None, "s", "etc-passwd"),
        ("控制", None, "s", "user"),
        (None, "Ana.Lima@example.com", "s", "ana-lima"),
        (None, None, "00uABC", "00uabc"),
        ("x" * 80, None, "s", "x" * 40),
    ],
)
def test_slug_is_the_username_lower_cased_and_cleaned(
    username: str | None, email: str | None, sub: str, expected: str
) -> None:
    assert slug_base(claims(sub=sub, username=username, email=email)) == expected


async def test_session_after_first_and_returning_sign_in(database_target: DatabaseTarget) -> None:
    async with open_db(database_target) as db:
        service = await make_service(db)
        assert service.session() == SignedOut()
        first = await service.sign_in(claims(roles=["operator"]), id_token="header.payload.signature")
        assert service.session() == first
        assert first.first_login is True and first.roles == ["operator"]
        await service.sign_out()
        assert service.session() == SignedOut()
        assert service.session().dump() == {"authenticated": False}
        returning = await service.sign_in(claims())
        assert service.session() == returning
        assert returning.first_login is False
        assert returning.model_dump(exclude={"first_login", "roles"}) == first.model_dump(
            exclude={"first_login", "roles"}
        )


async def test_the_id_token_stays_in_memory_only(database_target: DatabaseTarget, tmp_path: Path) -> None:
    token = "eyJhbGciOi.TOKEN-MUST-NOT-PERSIST.sig"
    async with open_db(database_target) as db:
        service = await make_service(db)
        await service.sign_in(claims(), id_token=token)
        assert token not in repr(service._session)
        assert token not in service.session().model_dump_json()
    for file in tmp_path.iterdir():
        assert token.encode() not in file.read_bytes(), f"the ID token reached {file.name}"


async def test_concurrent_first_sign_ins_in_one_process_create_one_user(database_target: DatabaseTarget) -> None:
    async with open_db(database_target) as db:
        service = await make_service(db)
        sessions: list[SignedIn] = []

        async def slow_listener(reason: object) -> None:
            await anyio.sleep(0.01)  # as the notifier does: other sign-ins finish meanwhile

        service.subscribe(slow_listener)

        async def sign_in() -> None:
            sessions.append(await service.sign_in(claims()))

        async with anyio.create_task_group() as tg:
            for _ in range(8):
                tg.start_soon(sign_in)
        assert [s.first_login for s in sessions].count(True) == 1
        assert len({(s.person_id, s.organization_id, s.workspace_id) for s in sessions}) == 1
        for table in (*STRUCTURE_TABLES, "grants", "pool_provisions", "pool_provision_transitions"):
            assert await count(db, table) == 1, table


async def test_concurrent_first_sign_ins_through_two_connections_create_one_user(
    database_target: DatabaseTarget,
) -> None:
    """Two `Database` objects on one file: two writers, as two sidecar processes would be."""
    path = database_target
    sessions: list[SignedIn] = []
    async with open_db(path) as db_a, open_db(path) as db_b:
        services: list[GovernanceService] = [await make_service(db_a), await make_service(db_b)]

        async def sign_in(service: GovernanceService) -> None:
            sessions.append(await service.sign_in(claims()))

        async with anyio.create_task_group() as tg:
            for i in range(6):
                tg.start_soon(sign_in, services[i % 2])
        assert [s.first_login for s in sessions].count(True) == 1
        assert len({s.organization_id for s in sessions}) == 1
        for table in (*STRUCTURE_TABLES, "grants", "pool_provisions", "pool_provision_transitions"):
            assert await count(db_a, table) == 1, table
