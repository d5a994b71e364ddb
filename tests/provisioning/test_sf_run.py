"""`sf:run`: an agent reaches only its own org through the sidecar; everything else is ACCESS_DENIED, and nothing
runs."""

from __future__ import annotations

import re
import time
from pathlib import Path

import anyio
import pytest

from sidecar.devtools.client import RpcError, SidecarProcess
from sidecar.pool.models import OrgSource, OrgStatus, ScratchOrg
from sidecar.provisioning.sfrun import plan_argv
from tests.support.fakesf import FakeSf, scratch_org
from tests.support.provisioning import processes_with, terminal_text

ORG = ScratchOrg(id="org_1", alias="mine", username="me@example.com", status=OrgStatus.LEASED, source=OrgSource.MANUAL)


@pytest.mark.parametrize(
    "args",
    [
        ["org", "create", "scratch", "--definition-file", "x.json"],
        ["org", "delete", "scratch", "--no-prompt"],
        ["org", "login", "web"],
        ["org", "logout", "--all"],
        ["org", "resume", "scratch", "--job-id", "2SR"],
        ["login"],
        ["logout"],
        ["alias", "set", "prod=me@example.com"],
        ["alias", "unset", "mine"],
        ["config", "set", "target-org=prod"],
        ["force:org:create", "-f", "x.json"],
        ["force:org:delete"],
        ["auth:web:login"],
        ["org:delete:scratch"],
        ["ORG", "Create", "Scratch"],
        ["env", "create", "scratch"],
        ["plugins", "install", "evil"],
        ["data", "query", "--query", "SELECT Id FROM User", "--target-dev-hub", "hub"],
        ["data", "query", "--target-dev-hub=hub"],
        ["data", "query", "-v", "hub"],
        ["data", "query", "-vhub"],
        ["data", "query", "--targetdevhubusername", "hub"],
    ],
)
def test_refused_commands(args: list[str]) -> None:
    from sidecar.errors import AccessDenied

    with pytest.raises(AccessDenied):
        plan_argv(args, ORG)


@pytest.mark.parametrize(
    "args, targets",
    [
        (["data", "query", "--query", "SELECT Id FROM Account"], []),
        (["data", "query", "--target-org", "other"], ["other"]),
        (["data", "query", "--target-org=other"], ["other"]),
        (["data", "query", "-o", "other"], ["other"]),
        (["data", "query", "-oother"], ["other"]),
        (["data", "query", "-o=other"], ["other"]),
        (["data", "query", "-u", "other"], ["other"]),
        (["data", "query", "--targetusername", "other"], ["other"]),
        (["apex", "run", "test", "-o", "a", "--target-org", "b"], ["a", "b"]),
        (["org", "create", "user", "--definition-file", "u.json"], []),  # a user in its own org is fine
    ],
)
def test_every_spelling_of_a_target_is_found(args: list[str], targets: list[str]) -> None:
    argv, found = plan_argv(args, ORG)
    assert found == targets
    if not targets:
        assert argv[-2:] == ["--target-org", "mine"]
    else:
        assert argv == args


@pytest.mark.anyio
async def test_sf_run_over_stdio(home: Path, fake_sf: FakeSf) -> None:
    fake_sf.write({"orgs": [scratch_org("mine"), scratch_org("theirs")], "noise": False})
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        discovered = {o["alias"]: o for o in await sc.call("org:discover")}  # with usernames and org ids
        mine, theirs = discovered["mine"], discovered["theirs"]

        # No org yet: no access at all.
        with pytest.raises(RpcError) as caught:
            await sc.call("sf:run", {"agentId": "a1", "args": ["org", "open", "--url-only"]})
        assert caught.value.kind == "ACCESS_DENIED"

        assert (await sc.call("org:claim", "a1"))["id"] in (mine["id"], theirs["id"])
        own = await sc.call("org:lease", "a1")
        other = theirs if own["id"] == mine["id"] else mine
        await sc.call("org:claim", "a2")

        refused = [
            ["org", "open", "--target-org", other["alias"]],
            ["org", "open", "-o", other["username"]],
            ["org", "open", f"--target-org={other['sfOrgId']}"],
            ["org", "open", f"-o{other['id']}"],
            ["org", "open", "-o", own["alias"], "-o", other["alias"]],
            ["org", "create", "scratch", "--definition-file", "x"],
            ["org", "delete", "scratch", "--target-org", own["alias"], "--no-prompt"],
            ["alias", "set", f"x={own['alias']}"],
            ["config", "set", "target-org=x"],
            ["org", "list", "limits", "--target-dev-hub", "hub@example.com"],
        ]
        for args in refused:
            with pytest.raises(RpcError) as caught:
                await sc.call("sf:run", {"agentId": "a1", "args": args})
            assert caught.value.kind == "ACCESS_DENIED", args
        with pytest.raises(RpcError) as caught:
            await sc.call("sf:run", {"agentId": "a1", "args": ["--target-org", own["alias"], "org", "open"]})
        assert caught.value.kind == "INVALID_PARAMS"
        with pytest.raises(RpcError) as caught:
            await sc.call("sf:run", "a1", ["org", "open"])  # one object, like agent:provision
        assert caught.value.kind == "INVALID_PARAMS"
        assert [c["argv"] for c in fake_sf.calls()] == [["org", "list", "--json"]]  # none of the refused ran

        # Its own org: the target is added; --json output comes back parsed, secrets masked everywhere.
        result = await sc.call("sf:run", {"agentId": "a1", "args": ["org", "open", "--url-only", "--json"]})
        assert result["exitCode"] == 0
        assert result["result"]["status"] == 0
        assert re.search(r"frontdoor\.jsp\?\*\*\*\*$", result["result"]["result"]["url"])
        human = await sc.call(
            "sf:run", {"agentId": "a1", "args": ["org", "open", "--target-org", own["username"], "--url-only"]}
        )
        assert human == {"exitCode": 0, "result": None}
        text = terminal_text(sc, "a1")
        assert f"$ sf org open --url-only --json --target-org {own['alias']}" in text
        assert "frontdoor.jsp?****" in text and "otp=" not in text
        failing = await sc.call(
            "sf:run", {"agentId": "a1", "args": ["data", "import", "tree", "--plan", "/nope.json", "--json"]}
        )
        assert failing["exitCode"] == 2 and failing["result"]["name"] == "Error"

    argvs = [c["argv"] for c in fake_sf.calls()][1:]
    assert argvs[0] == ["org", "open", "--url-only", "--json", "--target-org", own["alias"]]
    assert argvs[1] == ["org", "open", "--target-org", own["username"], "--url-only"]
    assert "otp=" not in sc.stderr_text()


@pytest.mark.anyio
async def test_agent_stopped_cancels_its_sf_run(home: Path, fake_sf: FakeSf) -> None:
    fake_sf.write({"orgs": [scratch_org("mine")], "noise": False, "scenarios": {"org open": "hang"}})
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        await sc.call("org:register", "mine")
        await sc.call("org:claim", "a1")
        outcome: dict = {}
        async with anyio.create_task_group() as tg:

            async def run() -> None:
                try:
                    await sc.call("sf:run", {"agentId": "a1", "args": ["org", "open", "--url-only"]}, timeout=20)
                except RpcError as exc:
                    outcome["error"] = exc

            tg.start_soon(run)
            with anyio.fail_after(10):
                while not processes_with(str(fake_sf.state_path), exclude=(sc.pid,)):  # noqa: ASYNC110 - polls other processes
                    await anyio.sleep(0.05)
            await anyio.sleep(0.3)
            started = time.monotonic()
            await sc.call("agent:stopped", "a1")
            assert time.monotonic() - started < 2.0
        assert outcome["error"].kind == "CANCELLED"
        assert processes_with(str(fake_sf.state_path), exclude=(sc.pid,)) == []
