"""Issue 8 item 12 against the real process: swapping a worktree folder (`data/`, `config/`) for a symlink to an
outside folder while the deploy runs must not make `sf data import tree` / `sf org create user` read the outside
file. Each path is checked right before the command that uses it, resolved, and the resolved path is what the CLI
gets; the step fails, naming the setting."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest

from sidecar.devtools.client import SidecarProcess
from tests.support.fakesf import FakeSf, scratch_org
from tests.support.provisioning import config, fake_state, make_worktree, provision_in_background, terminal_text

pytestmark = pytest.mark.anyio

SECRET = "OUTSIDE-SECRET"


def outside_folder(root: Path) -> Path:
    """What the agent would like the CLI to upload: a plan and a user definition outside the worktree."""
    root.mkdir()
    (root / "Account.json").write_text(
        '{"records": [{"attributes": {"type": "Account", "referenceId": "Out1"}, "Name": "%s"}]}' % SECRET  # noqa: UP031 - JSON braces would need doubling in an f-string
    )
    (root / "sample-data-plan.json").write_text('[{"sobject": "Account", "files": ["Account.json"]}]')
    (root / "user-def.json").write_text('{"LastName": "%s", "Email": "out@example.com"}' % SECRET)  # noqa: UP031 - JSON braces would need doubling in an f-string
    return root


@pytest.mark.parametrize(
    "folder, command, setting, step",
    [
        ("data", ["data", "import", "tree"], "dataPlanPath", "data"),
        ("config", ["org", "create", "user"], "userDefPath", "users"),
    ],
)
async def test_paths_folder_swapped_for_a_symlink_during_the_deploy_is_not_read(
    home: Path, tmp_path: Path, fake_sf: FakeSf, folder: str, command: list[str], setting: str, step: str
) -> None:
    worktree = make_worktree(tmp_path / "wt")
    outside = outside_folder(tmp_path / "outside")
    fake_sf.write(fake_state(orgs=[scratch_org("pool1")], delays={"project deploy start": 3}))
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        await sc.call("org:register", "pool1")
        outcome: dict = {}
        async with anyio.create_task_group() as tg:
            await provision_in_background(tg, sc, config("a1", worktree), outcome, "Deploy ID")
            # The agent swaps the folder while the deploy runs: the request-time check passed long ago.
            os.rename(worktree / folder, worktree / f"{folder}-real")
            (worktree / folder).symlink_to(outside, target_is_directory=True)
        ran = [c["argv"] for c in fake_sf.calls() if c["argv"][: len(command)] == command]
        assert ran == [], ran  # the outside file was never handed to the CLI
        assert outcome["success"] is False
        assert any(setting in e and "outside the worktree" in e for e in outcome["errors"]), outcome["errors"]
        assert {s["name"]: s["status"] for s in outcome["steps"]}[step] == "failed"
        assert SECRET not in terminal_text(sc, "a1")
        assert SECRET not in fake_sf.state_path.read_text()
        # The run ended in ERROR with its org still leased to the agent, as any failed step leaves it.
        assert (await sc.call("org:status"))["leased"] == 1
