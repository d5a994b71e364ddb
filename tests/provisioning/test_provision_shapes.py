"""Shapes through agent:provision, over real pipes with the fake sf: an org created from definition A goes to the
next agent of A and never to an agent of B (which gets an org created from B); an agent whose branch changed its
definition gets a new org while its old one goes back to the pool; unknown shapes with reuseUnknownShapes on/off."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.fakesf import FakeSf, scratch_org
from tests.support.harness import SidecarProcess
from tests.support.provisioning import config, fake_state, make_worktree

pytestmark = pytest.mark.anyio

DEF_A = {"orgName": "QA", "edition": "Developer"}
DEF_B = {"orgName": "QA", "edition": "Enterprise", "features": ["PersonAccounts"]}


def worktree(root: Path, definition: dict) -> Path:
    path = make_worktree(root, data=False, users=False)
    (path / "config" / "project-scratch-def.json").write_text(json.dumps(definition, indent=3))
    return path


def created_definitions(fake_sf: FakeSf) -> dict[str, dict]:
    state = fake_sf.read()
    return {o["alias"]: o.get("definition") for o in state["orgs"] if o.get("alias")}


async def test_shape_a_goes_to_the_next_shape_a_agent_never_to_shape_b(
    home: Path, tmp_path: Path, fake_sf: FakeSf
) -> None:
    wt_a1, wt_a2, wt_b = (
        worktree(tmp_path / n, d) for n, d in (("a1", DEF_A), ("a2", dict(reversed(DEF_A.items()))), ("b", DEF_B))
    )
    fake_sf.write(fake_state())
    async with SidecarProcess.start(home, settings=fake_sf.settings(maxOrgs=3), env=fake_sf.env) as sc:
        first = await sc.call("agent:provision", config("a1", wt_a1), timeout=30)
        assert first["success"], first
        org_a = first["org"]
        assert org_a["shape"] and org_a["definitionName"] == "project-scratch-def.json"
        await sc.call("agent:completed", "a1")  # the shape-A org is available again

        b = await sc.call("agent:provision", config("b1", wt_b), timeout=30)
        assert b["success"], b
        assert b["org"]["id"] != org_a["id"] and b["org"]["shape"] != org_a["shape"]
        assert created_definitions(fake_sf)[b["org"]["alias"]] == DEF_B

        # Same definition, keys in another order and other whitespace: the same shape, so the same org.
        a2 = await sc.call("agent:provision", config("a2", wt_a2), timeout=30)
        assert a2["success"] and a2["org"]["id"] == org_a["id"]
        status = await sc.call("org:status")
        assert {s["shape"]: s["leased"] for s in status["byShape"]} == {org_a["shape"]: 1, b["org"]["shape"]: 1}


async def test_a_changed_definition_gets_a_new_org_and_the_old_goes_back(
    home: Path, tmp_path: Path, fake_sf: FakeSf
) -> None:
    wt = worktree(tmp_path / "wt", DEF_A)
    fake_sf.write(fake_state())
    async with SidecarProcess.start(home, settings=fake_sf.settings(maxOrgs=3), env=fake_sf.env) as sc:
        old = (await sc.call("agent:provision", config("a1", wt), timeout=30))["org"]
        (wt / "config" / "project-scratch-def.json").write_text(json.dumps(DEF_B))  # the branch changed it
        again = await sc.call("agent:provision", config("a1", wt, alias="qa-a1-new"), timeout=30)
        assert again["success"], again
        assert again["org"]["id"] != old["id"] and again["org"]["shape"] != old["shape"]
        orgs = {o["id"]: o for o in await sc.call("org:list")}
        assert orgs[old["id"]]["status"] == "available" and orgs[old["id"]]["assignedAgentId"] is None
        # The old org serves the next agent of the old shape.
        other = await sc.call("org:claim", "a2", {"shape": old["shape"]})
        assert other["id"] == old["id"]


@pytest.mark.parametrize("reuse", [True, False])
async def test_unknown_shapes_follow_reuse_unknown_shapes(
    home: Path, tmp_path: Path, fake_sf: FakeSf, reuse: bool
) -> None:
    wt = worktree(tmp_path / "wt", DEF_A)
    fake_sf.write(fake_state(orgs=[scratch_org("handmade")]))
    settings = fake_sf.settings(maxOrgs=3, reuseUnknownShapes=reuse)
    async with SidecarProcess.start(home, settings=settings, env=fake_sf.env) as sc:
        handmade = await sc.call("org:register", "handmade")
        assert handmade["shape"] is None
        result = await sc.call("agent:provision", config("a1", wt), timeout=30)
        assert result["success"], result
        assert (result["org"]["id"] == handmade["id"]) is reuse


async def test_register_with_a_definition_file_gives_the_provisioned_shape(
    home: Path, tmp_path: Path, fake_sf: FakeSf
) -> None:
    wt = worktree(tmp_path / "wt", DEF_A)
    fake_sf.write(fake_state(orgs=[scratch_org("byhand")]))
    async with SidecarProcess.start(
        home, settings=fake_sf.settings(maxOrgs=3, reuseUnknownShapes=False), env=fake_sf.env
    ) as sc:
        registered = await sc.call(
            "org:register", "byhand", {"definitionFile": str(wt / "config" / "project-scratch-def.json")}
        )
        assert registered["definitionName"] == "project-scratch-def.json"
        result = await sc.call("agent:provision", config("a1", wt), timeout=30)
        assert result["success"] and result["org"]["id"] == registered["id"]
        bad = await sc.request("org:register", ["other", {"definitionFile": "relative.json"}])
        assert bad["error"]["data"]["code"] == "INVALID_PARAMS" and bad["error"]["data"]["param"] == "definitionFile"
