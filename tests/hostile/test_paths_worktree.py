"""Issue 8 item 13 against the real process: a worktreePath that is no Salesforce project (`/`, `/etc`, `/proc`, a
symlink to `/etc`, an empty directory) is refused with INVALID_PARAMS naming worktreePath before any org is taken,
so no lease is left behind for a run that cannot succeed."""

from __future__ import annotations

from pathlib import Path

import pytest

from sidecar.devtools.client import RpcError, SidecarProcess
from tests.support.fakesf import FakeSf, scratch_org
from tests.support.provisioning import config, fake_state

pytestmark = pytest.mark.anyio


async def test_paths_worktree_of_root_etc_proc_or_a_link_to_etc_takes_no_org(
    home: Path, tmp_path: Path, fake_sf: FakeSf
) -> None:
    link = tmp_path / "looks-like-a-worktree"
    link.symlink_to("/etc")
    empty = tmp_path / "empty"
    empty.mkdir()
    fake_sf.write(fake_state(orgs=[scratch_org("pool1")]))
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        await sc.call("org:register", "pool1")
        for n, worktree in enumerate(("/", "/etc", "/proc", str(link), str(empty), "/etc/../etc/")):
            with pytest.raises(RpcError) as caught:
                await sc.call("agent:provision", config(f"a{n}", Path(worktree)))
            assert caught.value.kind == "INVALID_PARAMS", (worktree, caught.value.message)
            assert caught.value.data.get("param") == "worktreePath", caught.value.data
            assert "worktreePath" in caught.value.message
        status = await sc.call("org:status")
        assert (status["available"], status["leased"]) == (1, 0)
        assert await sc.call("provision:runs") == [] and await sc.call("provision:queue") == []
        assert await sc.call("sidecar:health")  # still serving
    assert fake_sf.calls() == []  # no command ran for any of them
