"""Every command line the sidecar builds is one the real CLI accepts (checked with sidecar/sf/grammar.py, the real
CLI's grammar): the builders directly, every branch with and without optional settings, and every line the
sidecar actually ran in full runs against the fake `sf`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sidecar.provisioning.creation import create_args, delete_quietly
from sidecar.provisioning.devhub import DevHubLimits
from sidecar.settings import OrgPoolSettings, Settings
from sidecar.sf import grammar
from sidecar.sf.client import ORG_LIST_ARGS
from sidecar.sf.envelope import Envelope
from sidecar.sf.remote_orgs import CliRemoteOrgs
from tests.support.fakesf import FakeSf
from tests.support.harness import SidecarProcess
from tests.support.provisioning import HUB, config, fake_state, make_worktree


def _accepted(argv: list[str], command_id: str) -> grammar.Parsed:
    parsed = grammar.parse(argv)
    assert parsed.ok, (argv, [e.message for e in parsed.errors])
    assert parsed.command_id == command_id, argv
    return parsed


@pytest.mark.parametrize("dev_hub", [None, HUB, "hub-alias"])
@pytest.mark.parametrize("wait", [1, 15, 120])
@pytest.mark.parametrize("days", [1, 7, 30])
def test_org_create_scratch_lines(dev_hub: str | None, wait: int, days: int) -> None:
    settings = OrgPoolSettings(devHub=dev_hub, createWaitMinutes=wait)
    for json_flag in ([], ["--json"]):
        argv = create_args(settings, alias="qa-a1", definition_file=Path("/w/config/def.json"), duration_days=days)
        parsed = _accepted([*argv, *json_flag], "org:create:scratch")
        assert parsed.flags["alias"] == "qa-a1" and parsed.flags["duration-days"] == str(days)
        assert "set-default" not in parsed.flags  # -d would make it the CLI's default org
        assert parsed.flags.get("target-dev-hub") == dev_hub
        assert int(parsed.flags["wait"]) >= 2  # the CLI refuses less


def test_org_list_line() -> None:
    parsed = _accepted([*ORG_LIST_ARGS, "--json"], "org:list")
    assert "all" not in parsed.flags


@pytest.mark.anyio
async def test_delete_line() -> None:
    ran: list[list[str]] = []

    class Recorder:
        async def run_json(self, args: list[str], **_: Any) -> None:
            ran.append([*args, "--json"])

    await delete_quietly(Recorder(), "qa-a1", None, None)  # type: ignore[arg-type]
    parsed = _accepted(ran[0], "org:delete:scratch")
    assert parsed.flags == {"target-org": "qa-a1", "no-prompt": True, "json": True}


class _Recorder:
    """Stands in for SfClient.run_json: records each argv as the client would run it (with --json)."""

    def __init__(self) -> None:
        self.ran: list[list[str]] = []

    async def run_json(self, args: list[str], **_: Any) -> Envelope:
        self.ran.append([*args, "--json"])
        return Envelope(exit_code=0, status=0, result=[])


class _Settings:
    def __init__(self, **org_pool: Any) -> None:
        self.current = Settings(org_pool=OrgPoolSettings(**org_pool))


@pytest.mark.anyio
async def test_remote_org_lines_delete_and_logout() -> None:
    sf = _Recorder()
    remote = CliRemoteOrgs(sf)  # type: ignore[arg-type]
    await remote.delete_scratch("qa-a1")
    await remote.logout("qa-a1")
    deleted = _accepted(sf.ran[0], "org:delete:scratch")
    assert deleted.flags == {"target-org": "qa-a1", "no-prompt": True, "json": True}
    logged_out = _accepted(sf.ran[1], "org:logout")
    assert logged_out.flags == {"target-org": "qa-a1", "no-prompt": True, "json": True}


@pytest.mark.anyio
@pytest.mark.parametrize("hub", [HUB, "hub-alias"])
async def test_dev_hub_lines_limits_and_active_orgs(hub: str) -> None:
    sf = _Recorder()
    limits = DevHubLimits(sf, _Settings(devHub=hub))  # type: ignore[arg-type]
    await limits.current()
    await limits.active_orgs()
    listed = _accepted(sf.ran[0], "org:list:limits")
    assert listed.flags == {"target-org": hub, "json": True}
    queried = _accepted(sf.ran[1], "data:query")
    assert queried.flags["target-org"] == hub and "FROM ActiveScratchOrg" in queried.flags["query"]


async def _every_line_the_sidecar_ran(home: Path, worktree: Path, fake_sf: FakeSf, **settings: Any) -> set[str]:
    async with SidecarProcess.start(home, settings=fake_sf.settings(**settings), env=fake_sf.env) as sc:
        await sc.call("org:discover")
        result = await sc.call("agent:provision", config("a1", worktree), timeout=60)
        assert result["success"] is True, result
        await sc.call("agent:loginUrl", "a1")
    seen = set()
    for call in fake_sf.calls():
        parsed = grammar.parse(call["argv"])
        assert parsed.ok and call["exitCode"] == 0, (call["argv"], [e.message for e in parsed.errors])
        seen.add(parsed.command_id or "")
    return seen


@pytest.mark.anyio
async def test_every_line_of_a_full_run_with_every_optional_setting(
    home: Path, tmp_path: Path, fake_sf: FakeSf
) -> None:
    worktree = make_worktree(tmp_path / "wt")
    fake_sf.write(fake_state())
    seen = await _every_line_the_sidecar_ran(
        home, worktree, fake_sf, permissionSets=["QA_Admin", "QA_User"], devHub=HUB, defaultDurationDays=3
    )
    assert seen >= {
        "org:list", "org:create:scratch", "project:deploy:start", "project:deploy:report", "data:import:tree",
        "org:create:user", "org:assign:permset", "org:open",
    }  # fmt: skip


@pytest.mark.anyio
async def test_every_line_of_a_run_without_optional_settings(home: Path, tmp_path: Path, fake_sf: FakeSf) -> None:
    worktree = make_worktree(tmp_path / "wt", data=False, users=False)
    fake_sf.write(fake_state())
    seen = await _every_line_the_sidecar_ran(home, worktree, fake_sf)
    assert {"org:create:scratch", "project:deploy:start", "org:open"} <= seen
    assert not {"data:import:tree", "org:create:user", "org:assign:permset"} & seen
