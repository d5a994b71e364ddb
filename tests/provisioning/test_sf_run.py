"""`sf:run`: an agent reaches only its own org through the sidecar; everything else is ACCESS_DENIED, and nothing
runs."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest

from sidecar.devtools.client import RpcError, SidecarProcess
from sidecar.errors import AccessDenied, InvalidParams
from sidecar.pool.models import OrgSource, OrgStatus, ScratchOrg
from sidecar.provisioning.sfrun import ALLOWED, REFUSED_FLAGS, plan_argv
from sidecar.sf import grammar
from sidecar.sf.client import QUIET_ENV, agent_env
from tests.support.fakesf import FakeSf, scratch_org
from tests.support.provisioning import processes_with, terminal_text

QUIET_ENV_SF = [k for k in QUIET_ENV if k.startswith("SF_")]
ORG = ScratchOrg(id="org_1", alias="mine", username="me@example.com", status=OrgStatus.LEASED, source=OrgSource.MANUAL)


def _refused(args: list[str]) -> AccessDenied:
    with pytest.raises(AccessDenied) as caught:
        plan_argv(args, ORG)
    return caught.value


def _spellings(command_id: str, spec: dict) -> list[str]:
    """Every id the real CLI runs this command by: the id, its aliases, the permutations of its words."""
    return sorted({command_id, *spec["aliases"], *spec["hiddenAliases"], *(spec.get("permutations") or [])})


def test_every_spelling_of_every_refused_command_is_access_denied_naming_the_resolved_id() -> None:
    cli = grammar.load()
    checked = 0
    for command_id, spec in cli.commands.items():
        if command_id in ALLOWED:
            continue
        for spelling in _spellings(command_id, spec):
            for args in ([spelling, "--json"], [*spelling.replace(" ", ":").split(":"), "--json"]):
                resolved = cli.parse(args).command_id
                if resolved is None:
                    continue  # spaced, a word of it reads as an argument of a shorter command: the CLI runs nothing
                assert resolved not in ALLOWED or resolved != command_id, args
                if resolved in ALLOWED:
                    continue  # a permutation that is another, allowed command's id: the CLI runs that one
                error = _refused(args)
                assert error.data["command"] == resolved.replace(":", " "), args
                assert resolved.replace(":", " ") in error.message
                checked += 1
    assert checked > 1000  # ~290 commands, their aliases and permutations


@pytest.mark.parametrize(
    "args, command",
    [
        (["delete", "org", "scratch", "--no-prompt"], "org delete scratch"),
        (["org", "scratch", "delete"], "org delete scratch"),
        (["create", "org", "scratch", "-f", "x.json"], "org create scratch"),
        (["env", "create", "scratch"], "org create scratch"),
        (["force:org:create", "-f", "x.json"], None),  # no longer an alias in CLI 2.146: not a command
        (["force:auth:web:login"], "org login web"),
        (["force:alias:set", "x=y"], "alias set"),
        (["web", "login", "org"], "org login web"),
        (["auth:web:login"], "org login web"),
        (["login"], "login"),
        (["set", "alias", "prod=me@example.com"], "alias set"),
        (["config", "set", "target-org=prod"], "config set"),
        (["install", "plugins", "evil"], "plugins install"),
        (["org", "display", "--verbose"], "org display"),
        (["open", "org", "--url-only"], "org open"),
        (["org", "auth", "show-sfdx-auth-url"], "org auth show-sfdx-auth-url"),
        (["org", "generate", "password"], "org generate password"),
        (["org", "create", "user"], "org create user"),
        (["org", "list"], "org list"),
        (["project", "deploy", "resume"], "project deploy resume"),  # no target-org: any job in the CLI's cache
        (["ORG", "Create", "Scratch"], None),
    ],
)
def test_refused_commands_name_what_the_cli_would_run(args: list[str], command: str | None) -> None:
    if command is None:  # the CLI's ids are case-sensitive: not a command at all
        with pytest.raises(InvalidParams):
            plan_argv(args, ORG)
        return
    assert _refused(args).data["command"] == command


@pytest.mark.parametrize(
    "args",
    [
        ["data", "query", "-q", "SELECT Id FROM User", "--flags-dir", "flags"],
        ["data", "query", "-q", "SELECT Id FROM User", "--flags-dir=flags"],
        ["data", "query", "-q", "SELECT Id FROM User", "--", "--target-org", "theirs"],
        ["data", "query", "-q", "SELECT Id FROM User", "--"],
        ["data", "query", "--query", "SELECT Id FROM User", "--target-dev-hub", "hub"],
        ["org", "list", "limits", "--target-dev-hub=hub"],
        ["org", "list", "limits", "--targetdevhubusername", "hub"],
        ["project", "generate", "manifest", "--from-org", "theirs"],
        ["project", "generate", "manifest", "--fromorg", "theirs"],
    ],
)
def test_flags_dir_dashdash_and_other_org_flags_are_refused(args: list[str]) -> None:
    _refused(args)


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["data", "query", "-vhub"], "Nonexistent flag: -vhub"),
        (["data", "query", "--bogus", "x"], "Nonexistent flag: --bogus"),
        (["data", "query", "--targ", "x"], "Nonexistent flag: --targ"),  # long flags are never abbreviated
        (["data", "query", "-q", "a", "-q", "b"], "Flag --query can only be specified once"),
        (["project", "deploy", "start", "--async", "--wait", "3"], "cannot also be provided when using --async"),
    ],
)
def test_lines_the_cli_would_refuse_are_refused_with_its_message(args: list[str], fragment: str) -> None:
    with pytest.raises(InvalidParams) as caught:
        plan_argv(args, ORG)
    assert fragment in caught.value.message


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
        (["query", "data", "--targetusername=other"], ["other"]),
        (["apex", "run", "test", "-o", "a"], ["a"]),
    ],
)
def test_every_spelling_of_a_target_is_found(args: list[str], targets: list[str]) -> None:
    plan = plan_argv(args, ORG)
    assert plan.targets == targets
    if not targets:
        assert plan.argv[-2:] == ["--target-org", "mine"]
    else:
        assert plan.argv == args
    assert grammar.parse(plan.argv).ok


@pytest.mark.parametrize(
    "args",
    [
        ["project", "generate", "manifest", "--source-dir", "force-app"],
        ["project", "convert", "source", "--root-dir", "force-app", "--output-dir", "mdapi"],
        ["template", "generate", "apex", "class", "--name", "Greeter"],
        ["generate", "project", "manifest", "--source-dir", "force-app"],
    ],
)
def test_commands_without_target_org_run_without_one_added(args: list[str]) -> None:
    plan = plan_argv(args, ORG)
    assert plan.argv == args and "--target-org" not in plan.argv
    assert grammar.parse(plan.argv).ok


def test_the_allowlist_names_real_commands_and_refuses_every_org_flag_they_have() -> None:
    cli = grammar.load()
    assert set(cli.commands) >= ALLOWED
    for command_id in ALLOWED:
        assert cli.commands[command_id]["pluginType"] == "core", command_id
        for name in cli.commands[command_id]["flags"]:
            if ("org" in name or "hub" in name) and name != "target-org":
                assert name in REFUSED_FLAGS, (command_id, name)


def test_the_agents_environment_drops_cli_config_but_keeps_the_quiet_settings_and_the_fakes() -> None:
    env = agent_env(
        {"PATH": "/bin", "SF_TARGET_ORG": "theirs", "SF_TARGET_DEV_HUB": "hub", "SFDX_DEFAULTUSERNAME": "x",
         "sf_access_token": "t", "SF_FAKE_STATE": "/tmp/state.json", "SF_DISABLE_TELEMETRY": "false", "HOME": "/h"}
    )  # fmt: skip
    assert env["PATH"] == "/bin" and env["HOME"] == "/h" and env["SF_FAKE_STATE"] == "/tmp/state.json"
    assert not {"SF_TARGET_ORG", "SF_TARGET_DEV_HUB", "SFDX_DEFAULTUSERNAME", "sf_access_token"} & set(env)
    assert env["SF_DISABLE_TELEMETRY"] == "true"


@pytest.mark.anyio
async def test_sf_run_over_stdio(home: Path, fake_sf: FakeSf) -> None:
    fake_sf.write({"orgs": [scratch_org("mine"), scratch_org("theirs")], "noise": False})
    env = {**fake_sf.env, "SF_TARGET_ORG": "theirs", "SFDX_DEFAULTUSERNAME": "theirs", "SF_TARGET_DEV_HUB": "hub"}
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=env) as sc:
        discovered = {o["alias"]: o for o in await sc.call("org:discover")}  # with usernames and org ids
        mine, theirs = discovered["mine"], discovered["theirs"]

        # No org yet: no access at all.
        with pytest.raises(RpcError) as caught:
            await sc.call("sf:run", {"agentId": "a1", "args": ["org", "list", "limits"]})
        assert caught.value.kind == "ACCESS_DENIED"

        assert (await sc.call("org:claim", "a1"))["id"] in (mine["id"], theirs["id"])
        own = await sc.call("org:lease", "a1")
        other = theirs if own["id"] == mine["id"] else mine
        await sc.call("org:claim", "a2")

        refused = [
            ["org", "list", "limits", "--target-org", other["alias"]],
            ["org", "list", "limits", "-o", other["username"]],
            ["org", "list", "limits", f"--target-org={other['sfOrgId']}"],
            ["org", "list", "limits", f"-o{other['id']}"],
            ["limits", "list", "org", "-u", other["alias"]],
            ["org", "open", "--url-only"],
            ["org", "create", "scratch", "--definition-file", "x"],
            ["delete", "org", "scratch", "--target-org", own["alias"], "--no-prompt"],
            ["alias", "set", f"x={own['alias']}"],
            ["config", "set", "target-org=x"],
            ["org", "list", "limits", "--target-dev-hub", "hub@example.com"],
            ["org", "list", "limits", "--flags-dir", str(home)],
            ["org", "list", "limits", "--", "-o", other["alias"]],
        ]
        for args in refused:
            with pytest.raises(RpcError) as caught:
                await sc.call("sf:run", {"agentId": "a1", "args": args})
            assert caught.value.kind == "ACCESS_DENIED", args
        for args in (
            ["--target-org", own["alias"], "org", "open"],
            ["org", "list", "limits", "--bogus"],
            ["frobnicate"],
        ):
            with pytest.raises(RpcError) as caught:
                await sc.call("sf:run", {"agentId": "a1", "args": args})
            assert caught.value.kind == "INVALID_PARAMS", args
        with pytest.raises(RpcError) as caught:
            await sc.call("sf:run", "a1", ["org", "list", "limits"])  # one object, like agent:provision
        assert caught.value.kind == "INVALID_PARAMS"
        assert [c["argv"] for c in fake_sf.calls()] == [["org", "list", "--json"]]  # none of the refused ran

        # Its own org: the target is added; --json output comes back parsed.
        result = await sc.call("sf:run", {"agentId": "a1", "args": ["org", "list", "limits", "--json"]})
        assert result["exitCode"] == 0
        assert result["result"]["status"] == 0
        assert any(r["name"] == "ActiveScratchOrgs" for r in result["result"]["result"])
        human = await sc.call(
            "sf:run", {"agentId": "a1", "args": ["limits", "list", "org", "--target-org", own["username"]]}
        )
        assert human == {"exitCode": 0, "signal": None, "result": None}
        text = terminal_text(sc, "a1")
        assert f"$ sf org list limits --json --target-org {own['alias']}" in text
        failing = await sc.call(
            "sf:run", {"agentId": "a1", "args": ["data", "import", "tree", "--plan", "/nope.json", "--json"]}
        )
        assert failing["exitCode"] == 2 and failing["result"]["name"] == "Error"

    calls = fake_sf.calls()
    argvs = [c["argv"] for c in calls][1:]
    assert argvs[0] == ["org", "list", "limits", "--json", "--target-org", own["alias"]]
    assert argvs[1] == ["limits", "list", "org", "--target-org", own["username"]]
    assert calls[0]["configEnv"]  # the sidecar's own commands see the user's CLI settings...
    assert all(c["configEnv"] == sorted(QUIET_ENV_SF) for c in calls[1:])  # ...an agent's see only the quiet ones


def _sf_commands(fake_sf: FakeSf, sc: SidecarProcess, *, having: bytes = b"") -> list[int]:
    """The fake `sf` processes of this test (not the `sleep` a hanging one starts a moment later).

    `having` narrows them to command lines holding it: the sidecar's own background commands (discovery's
    `org list` at start) may run beside the one a test started. Only the sidecar's own children count: a hanging
    fake forks its `sleep`, and between fork and exec that child still shows the fake's command line (CI caught
    it once as two "sf" processes).
    """
    found = []
    for pid in processes_with(str(fake_sf.state_path), exclude=(sc.pid,)):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rpartition(")")[2].split()[1])  # the field after the state, past a ")" in the name
        if parent == sc.pid and b"bin/sf" in cmdline and having in cmdline:
            found.append(pid)
    return found


async def _start_hanging_run(sc: SidecarProcess, fake_sf: FakeSf, outcome: dict, tg: anyio.abc.TaskGroup) -> None:
    async def run() -> None:
        try:
            await sc.call("sf:run", {"agentId": "a1", "args": ["org", "list", "limits"]}, timeout=20)
        except RpcError as exc:
            outcome["error"] = exc

    tg.start_soon(run)
    with anyio.fail_after(10):
        while not processes_with(str(fake_sf.state_path), exclude=(sc.pid,)):
            await anyio.sleep(0.05)
    await anyio.sleep(0.3)


@pytest.mark.anyio
@pytest.mark.parametrize("ending", ["agent:stopped", "agent:completed", "org:release", "org:remove"])
async def test_an_sf_run_still_running_when_its_lease_ends_is_stopped_within_2_s(
    home: Path, fake_sf: FakeSf, ending: str
) -> None:
    """Issue 8 item 10: otherwise it keeps running against the org the next agent holds."""
    fake_sf.write({"orgs": [scratch_org("mine")], "noise": False, "scenarios": {"org list limits": "hang"}})
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        org = await sc.call("org:register", "mine")
        await sc.call("org:claim", "a1")
        outcome: dict = {}
        async with anyio.create_task_group() as tg:
            await _start_hanging_run(sc, fake_sf, outcome, tg)
            started = time.monotonic()
            if ending in ("agent:stopped", "agent:completed"):
                await sc.call(ending, "a1")
            elif ending == "org:release":
                await sc.call("org:release", org["id"], "a1")
            else:
                await sc.call("org:remove", org["id"], {"force": True})
            with anyio.fail_after(5):
                while processes_with(str(fake_sf.state_path), exclude=(sc.pid,)):
                    await anyio.sleep(0.05)
            assert time.monotonic() - started < 2.0
        assert outcome["error"].kind == "CANCELLED"
        if ending != "agent:stopped":
            assert "lease on mine ended" in outcome["error"].message


@pytest.mark.anyio
async def test_concurrent_sf_runs_per_agent_are_bounded(home: Path, fake_sf: FakeSf) -> None:
    """Issue 8 item 11: one agent started 60 `sf` processes at once; beyond orgPool.sfRunConcurrency it is refused."""
    fake_sf.write({"orgs": [scratch_org("mine")], "noise": False, "scenarios": {"org list limits": "hang"}})
    async with SidecarProcess.start(home, settings=fake_sf.settings(sfRunConcurrency=1), env=fake_sf.env) as sc:
        await sc.call("org:register", "mine")
        await sc.call("org:claim", "a1")
        outcome: dict = {}
        async with anyio.create_task_group() as tg:
            await _start_hanging_run(sc, fake_sf, outcome, tg)
            before = _sf_commands(fake_sf, sc)
            refused_at = time.monotonic()
            with pytest.raises(RpcError) as caught:
                await sc.call("sf:run", {"agentId": "a1", "args": ["org", "list", "limits"]})
            assert caught.value.kind == "CAPACITY_REACHED" and "sfRunConcurrency is 1" in caught.value.message
            assert time.monotonic() - refused_at < 1.0  # refused at once, not queued behind the hanging one
            assert _sf_commands(fake_sf, sc) == before  # the refused one never started
            await sc.call("agent:stopped", "a1")
        with anyio.fail_after(5):
            while processes_with(str(fake_sf.state_path), exclude=(sc.pid,)):
                await anyio.sleep(0.05)
        assert outcome["error"].kind == "CANCELLED"


@pytest.mark.anyio
async def test_sf_run_killed_by_a_signal_names_it(home: Path, fake_sf: FakeSf) -> None:
    """Issue 8 item 18: a signal-killed `sf` is reported naming the signal, not only as exit code -9."""
    import os
    import signal

    fake_sf.write({"orgs": [scratch_org("mine")], "noise": False, "scenarios": {"org list limits": "hang"}})
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        await sc.call("org:register", "mine")
        await sc.call("org:claim", "a1")
        outcome: dict = {}

        async def run() -> None:
            outcome["result"] = await sc.call(
                "sf:run", {"agentId": "a1", "args": ["org", "list", "limits"]}, timeout=20
            )

        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            with anyio.fail_after(10):
                while not _sf_commands(fake_sf, sc, having=b"limits"):
                    await anyio.sleep(0.05)
            (pid,) = _sf_commands(fake_sf, sc, having=b"limits")
            os.kill(pid, signal.SIGKILL)
        assert outcome["result"]["exitCode"] == -signal.SIGKILL
        assert outcome["result"]["signal"] == "SIGKILL"
