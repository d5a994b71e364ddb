"""Hostile sign-in claims: unbounded lengths, blank identifiers, and slug conflicts that cost a query per suffix.

Over stdio against the real process: every claim past its bound (or a blank `iss`/`sub`) is INVALID_PARAMS naming
`claims.<claim>`, and nothing is written. In-process on a real SQLite file: with 300 `user-N` organizations, a
sign-in whose slug is `user` runs the same number of statements as one with no conflict.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from sidecar.governance.models import Claims
from tests.support.fakesf import FakeSf
from tests.support.governance import claims, make_service, open_db
from tests.support.harness import RpcError, SidecarProcess

pytestmark = pytest.mark.anyio

ISS = "https://login.example.com"

# (claim, a value just past its bound or blank)
HOSTILE: list[tuple[str, Any]] = [
    ("name", "n" * 257),
    ("name", "n" * 10_000),
    ("name", "n" * (4 * 1024 * 1024)),
    ("preferred_username", "u" * 257),
    ("email", "e" * 310 + "@example.com"),
    ("sub", "s" * 256),
    ("sub", "   "),
    ("sub", ""),
    ("iss", " "),
    ("iss", "i" * 2049),
    ("roles", ["r"] * 65),
    ("roles", ["r" * 129]),
]


@pytest.mark.parametrize("claim, value", HOSTILE, ids=[f"{c}-{len(v)}" for c, v in HOSTILE])
async def test_governance_inputs_hostile_claim_is_invalid_params_naming_it(
    sidecar: SidecarProcess, claim: str, value: Any
) -> None:
    good = {"iss": ISS, "sub": "00u-1", "name": "Ana"}
    with anyio.fail_after(30):
        with pytest.raises(RpcError) as caught:
            await sidecar.call("auth:signIn", {"claims": {**good, claim: value}}, timeout=30)
        session = await sidecar.call("auth:session")
    error = caught.value
    assert error.kind == "INVALID_PARAMS", error.data
    assert error.data["param"].split(".")[:2] == ["claims", claim], error.data
    assert len(error.message) < 1000
    assert session.get("authenticated") is False, session


async def test_governance_inputs_claims_at_their_bounds_sign_in(sidecar: SidecarProcess) -> None:
    at_bounds = {
        "iss": "https://" + "i" * 2040,
        "sub": "s" * 255,
        "name": "n" * 256,
        "preferred_username": "u" * 256,
        "email": "e" * 308 + "@example.com",
        "roles": ["r" * 128] * 64,
    }
    with anyio.fail_after(30):
        signed_in = await sidecar.call("auth:signIn", {"claims": at_bounds})
    assert signed_in["authenticated"] is True


async def test_governance_inputs_identifiers_are_stripped(home: Path, fake_sf: FakeSf) -> None:
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        with anyio.fail_after(30):
            first = await sc.call("auth:signIn", {"claims": {"iss": f" {ISS} ", "sub": " 00u-2 "}})
            await sc.call("auth:signOut")
            again = await sc.call("auth:signIn", {"claims": {"iss": ISS, "sub": "00u-2"}})
    assert first["firstLogin"] is True and again["firstLogin"] is False


def test_governance_inputs_claims_model_strips() -> None:
    parsed = Claims(iss=f"  {ISS}\t", sub="\n00u-3 ")
    assert parsed.iss == ISS and parsed.sub == "00u-3"


async def statements_of_one_sign_in(tmp_path: Path, existing_suffixes: int) -> tuple[int, str]:
    async with open_db(tmp_path / f"g{existing_suffixes}.db") as db:
        service = await make_service(db)
        for n in range(existing_suffixes):
            await service.sign_in(claims(sub=f"seed-{n}", username="user"))
        statements: list[str] = []
        writer = db.file._writer
        assert writer is not None
        await writer._execute(writer._conn.set_trace_callback, statements.append)
        await service.sign_in(claims(sub="the-new-one", username="user"))
        await writer._execute(writer._conn.set_trace_callback, None)
        (row,) = await db.reader.fetch_all(
            "SELECT o.slug FROM organizations o JOIN persons p ON o.created_by_person_id = p.id"
            " JOIN users u ON p.user_id = u.id WHERE u.subject = ?",
            ("the-new-one",),
        )
        slug = str(row["slug"])
        return len(statements), slug


async def test_governance_inputs_slug_suffix_is_found_in_one_statement(tmp_path: Path) -> None:
    with anyio.fail_after(120):
        few, first_slug = await statements_of_one_sign_in(tmp_path, 0)
        many, slug = await statements_of_one_sign_in(tmp_path, 300)
    assert first_slug == "user" and slug == "user-301"
    assert many == few, (few, many)
