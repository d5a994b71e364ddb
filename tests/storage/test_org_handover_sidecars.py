"""An org made on one machine works on another: whole sidecar processes on one PostgreSQL, each with its own home and
its own fake `sf` auth store (state file). The org desk A registers is provisioned by desk B's agent through the
login hand-over, the URL file is gone afterwards, and the auth URL never reaches B's wire or stderr; a desk without
the team key gets a clear error naming it and the org goes back to the pool."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import anyio
import pytest

from sidecar.devtools.client import RpcError, SidecarProcess
from sidecar.fakesf import executable_path
from sidecar.pool.teamkey import ENV_VAR
from sidecar.storage.url import ENV_VAR as DATABASE_ENV
from tests.support.fakesf import scratch_org
from tests.support.postgres import postgres_server, postgres_url  # noqa: F401
from tests.support.provisioning import HUB, config, make_worktree, terminal_text

pytestmark = pytest.mark.anyio

TEAM_KEY = base64.b64encode(bytes(range(100, 132))).decode()


def desk(root: Path, name: str, url: str, orgs: list[dict[str, Any]], **env: str) -> dict[str, Any]:
    """A desk: its home, its fake sf state file (its CLI's auth store) and log, its settings and environment."""
    folder = root / name
    home = folder / "home"
    home.mkdir(parents=True)
    state, log = folder / "sf-state.json", folder / "sf-log.jsonl"
    state.write_text(json.dumps({"devHub": HUB, "noise": False, "orgs": orgs}))
    settings = {"orgPool": {"sfPath": str(executable_path()), "machineName": name}}
    environment = {"SF_FAKE_STATE": str(state), "SF_FAKE_LOG": str(log), DATABASE_ENV: url, ENV_VAR: "", **env}
    return {"home": home, "state": state, "log": log, "settings": settings, "env": environment}


def calls(log: Path) -> list[list[str]]:
    return [json.loads(line)["argv"] for line in log.read_text().splitlines() if line.strip()] if log.exists() else []


def auth_url_of(state: Path, alias: str) -> str:
    out = subprocess.run(
        [str(executable_path()), "org", "auth", "show-sfdx-auth-url", "--target-org", alias, "--no-prompt", "--json"],
        env={"SF_FAKE_STATE": str(state), "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        capture_output=True,
        check=True,
        timeout=60,
    )
    return str(json.loads(out.stdout)["result"]["sfdxAuthUrl"])


def pieces(url: str, width: int = 12) -> set[str]:
    """Every 12-character piece of the URL's refresh token (the credential; the instance host after `@` is the
    org's public instanceUrl, on the wire by design): none may appear anywhere."""
    token = url.split("::", 1)[1].rsplit("@", 1)[0]
    return {token[i : i + width] for i in range(len(token) - width + 1)}


def leaked(url: str, text: str) -> set[str]:
    return {p for p in pieces(url) if p in text}


async def test_an_org_registered_on_a_is_provisioned_by_bs_agent_through_the_login_hand_over(
    tmp_path: Path, postgres_url: str
) -> None:
    key_file = tmp_path / "team.key"
    key_file.write_text(TEAM_KEY + "\n")
    os.chmod(key_file, 0o600)
    a = desk(tmp_path, "desk-a", postgres_url, [scratch_org("qa1", days=5)], **{ENV_VAR: TEAM_KEY})
    b = desk(tmp_path, "desk-b", postgres_url, [])
    b["settings"]["orgPool"]["teamKeyFile"] = str(key_file)  # B reads the same key from its file
    worktree = make_worktree(tmp_path / "wt-b")
    with anyio.fail_after(150):
        async with SidecarProcess.start(a["home"], settings=a["settings"], env=a["env"]) as sa:
            registered = await sa.call("org:register", "qa1")
            async with SidecarProcess.start(b["home"], settings=b["settings"], env=b["env"]) as sb:
                result = await sb.call("agent:provision", config("agent-b", worktree, alias="qa-b"), timeout=90)
                org = (await sb.call("org:lease", "agent-b"))["id"]
                pane = terminal_text(sb, "agent-b")
            b_wire = b"".join(sb.frames).decode("utf-8", "replace") + repr(sb.messages)
            b_stderr = sb.stderr_text()
        a_wire = b"".join(sa.frames).decode("utf-8", "replace")
        a_stderr = sa.stderr_text()
    assert result["success"] is True, result
    assert org == registered["id"] and result["org"]["alias"] == "qa1" and result["org"]["machineName"] == "desk-b"
    assert "Logged this machine's Salesforce CLI in to org qa1, made on desk-a." in pane
    logins = [c for c in calls(b["log"]) if c[:3] == ["org", "login", "sfdx-url"]]
    assert len(logins) == 1 and "--sfdx-url-stdin" not in logins[0] and logins[0][5:7] == ["--alias", "qa1"]
    used = Path(logins[0][logins[0].index("--sfdx-url-file") + 1])
    assert used.is_relative_to(b["home"] / "handover")
    assert not used.exists() and not used.parent.exists() and list((b["home"] / "handover").iterdir()) == []
    assert not any(c[:3] == ["org", "auth", "show-sfdx-auth-url"] for c in calls(b["log"]))  # B captured nothing
    deploys = [c for c in calls(b["log"]) if c[:3] == ["project", "deploy", "start"]]
    assert deploys and all(c[c.index("--target-org") + 1] == "qa1" for c in deploys)  # B's own CLI did the work
    url = auth_url_of(a["state"], "qa1")  # the same URL A's sidecar captured (the fake keeps it per org)
    for name, text in (("B's wire", b_wire), ("B's stderr", b_stderr), ("A's wire", a_wire), ("A's stderr", a_stderr)):
        assert not leaked(url, text), f"a piece of the auth URL reached {name}"
        assert "force://PlatformCLI" not in text, name


async def test_a_desk_without_the_team_key_is_refused_naming_the_settings_and_the_org_goes_back(
    tmp_path: Path, postgres_url: str
) -> None:
    a = desk(tmp_path, "desk-a", postgres_url, [scratch_org("qa1", days=5)], **{ENV_VAR: TEAM_KEY})
    c = desk(tmp_path, "desk-c", postgres_url, [])
    worktree = make_worktree(tmp_path / "wt-c")
    with anyio.fail_after(150):
        async with SidecarProcess.start(a["home"], settings=a["settings"], env=a["env"]) as sa:
            await sa.call("org:register", "qa1")
            async with SidecarProcess.start(c["home"], settings=c["settings"], env=c["env"]) as sc:
                result = await sc.call("agent:provision", config("agent-c", worktree, alias="qa-c"), timeout=90)
                lease = await sc.call("org:lease", "agent-c")
                orgs = await sc.call("org:list")
                pane = terminal_text(sc, "agent-c")
                claimed = await sc.call("org:claim", "agent-c2")  # claimed directly, then used with sf:run
                with pytest.raises(RpcError) as refused:
                    await sc.call("sf:run", {"agentId": "agent-c2", "args": ["org", "list", "limits", "--json"]})
            c_text = b"".join(sc.frames).decode("utf-8", "replace") + sc.stderr_text()
    assert result["success"] is False and result["queued"] is False, result
    said = " ".join(result["errors"])
    assert "qa1" in said and "desk-a" in said and "SWEATSHOP_TEAM_KEY" in said and "orgPool.teamKeyFile" in said
    assert "went back to the pool" in said and "Refused:" in pane
    assert lease is None and [o["status"] for o in orgs] == ["available"]  # its own desk can still use it
    assert claimed["alias"] == "qa1" and refused.value.kind == "ORG_NOT_AUTHORIZED"
    assert refused.value.data["reason"] == "noTeamKey" and "SWEATSHOP_TEAM_KEY" in refused.value.message
    assert not any(x[:2] == ["org", "login"] for x in calls(c["log"]))
    assert not any(x[:3] == ["org", "list", "limits"] for x in calls(c["log"]))  # nothing ran against it
    assert not leaked(auth_url_of(a["state"], "qa1"), c_text)


async def test_an_org_claimed_on_b_is_logged_in_before_its_first_sf_run(tmp_path: Path, postgres_url: str) -> None:
    a = desk(tmp_path, "desk-a", postgres_url, [scratch_org("qa1", days=5)], **{ENV_VAR: TEAM_KEY})
    b = desk(tmp_path, "desk-b", postgres_url, [], **{ENV_VAR: TEAM_KEY})
    run = {"agentId": "agent-b", "args": ["org", "list", "limits", "--json"]}
    with anyio.fail_after(120):
        async with SidecarProcess.start(a["home"], settings=a["settings"], env=a["env"]) as sa:
            await sa.call("org:register", "qa1")
            async with SidecarProcess.start(b["home"], settings=b["settings"], env=b["env"]) as sb:
                assert (await sb.call("org:claim", "agent-b"))["alias"] == "qa1"
                first = await sb.call("sf:run", run, timeout=60)
                second = await sb.call("sf:run", run, timeout=60)
                text = b"".join(sb.frames).decode("utf-8", "replace") + sb.stderr_text()
    assert first["exitCode"] == 0 and second["exitCode"] == 0, (first, second)
    argvs = calls(b["log"])
    logins = [i for i, c in enumerate(argvs) if c[:3] == ["org", "login", "sfdx-url"]]
    limits = [i for i, c in enumerate(argvs) if c[:3] == ["org", "list", "limits"]]
    assert len(logins) == 1 and len(limits) == 2 and logins[0] < limits[0]  # logged in once, before the first
    assert list((b["home"] / "handover").iterdir()) == []
    assert not leaked(auth_url_of(a["state"], "qa1"), text)


async def test_an_org_a_created_for_its_own_agent_serves_bs_agent_once_released(
    tmp_path: Path, postgres_url: str
) -> None:
    a = desk(tmp_path, "desk-a", postgres_url, [], **{ENV_VAR: TEAM_KEY})
    b = desk(tmp_path, "desk-b", postgres_url, [], **{ENV_VAR: TEAM_KEY})
    with anyio.fail_after(180):
        async with SidecarProcess.start(a["home"], settings=a["settings"], env=a["env"]) as sa:
            made = await sa.call("agent:provision", config("agent-a", make_worktree(tmp_path / "wt-a")), timeout=90)
            assert made["success"] is True, made
            assert (await sa.call("agent:completed", "agent-a"))["releasedOrgId"] == made["org"]["id"]
            async with SidecarProcess.start(b["home"], settings=b["settings"], env=b["env"]) as sb:
                got = await sb.call("agent:provision", config("agent-b", make_worktree(tmp_path / "wt-b")), timeout=90)
                text = b"".join(sb.frames).decode("utf-8", "replace") + sb.stderr_text()
    assert got["success"] is True and got["org"]["id"] == made["org"]["id"], got
    alias = made["org"]["alias"]
    shown = [c for c in calls(a["log"]) if c[:3] == ["org", "auth", "show-sfdx-auth-url"]]
    assert [c[c.index("--target-org") + 1] for c in shown] == [alias]  # captured once, when A created it
    logins = [c for c in calls(b["log"]) if c[:3] == ["org", "login", "sfdx-url"]]
    assert len(logins) == 1 and logins[0][5:7] == ["--alias", alias]
    assert not any(c[:3] == ["org", "create", "scratch"] for c in calls(b["log"]))  # B created nothing
    assert not leaked(auth_url_of(a["state"], alias), text)
