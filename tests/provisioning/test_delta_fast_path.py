"""What a re-provision no longer does: no `sf project deploy report` after a small delta (deploy start --json
carries the result), the login URL minted beside the deploy (and minted again when it went stale or failed), no
login URL kept from a run whose build failed. Real git worktrees, the fake `sf`, a real SQLite file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from sidecar.provisioning import pipeline
from tests.provisioning.test_delta_pipeline import CLASSES, Runner, commit, project, source_dirs
from tests.support.fakesf import FakeSf, scratch_org
from tests.support.harness_memory import MemorySidecar
from tests.support.provisioning import config, fake_state

pytestmark = pytest.mark.anyio


def commands(fake: FakeSf, since: int, *words: str) -> list[dict[str, Any]]:
    return [c for c in fake.calls()[since:] if c["argv"][: len(words)] == list(words)]


async def test_a_small_delta_deploys_with_json_and_reads_no_report_while_the_url_is_minted_beside_it(
    home: Path, tmp_path: Path, fake_sf: FakeSf
) -> None:
    _, wt = project(tmp_path)
    fake_sf.write(fake_state(orgs=[scratch_org("pool1")], delays={"project deploy start": 0.8}))
    async with MemorySidecar.start(home, settings=fake_sf.settings(permissionSets=["QA_Admin"])) as sc:
        await sc.call("org:register", "pool1")
        run = Runner(sc, fake_sf, wt)  # type: ignore[arg-type]
        await run.provision()  # full deploy: streamed, then its report
        assert len(commands(fake_sf, 0, "project", "deploy", "report")) == 1
        (wt / CLASSES / "Service1.cls").write_text("public class Service1 { Integer fixed; }\n")
        commit(wt, "one-line fix")
        before, mark = len(fake_sf.calls()), len(sc.notifications)
        result, argvs, pane = await run.provision()
        assert [source_dirs(a) for a in argvs] == [[str((wt / CLASSES / "Service1.cls").resolve())]]
        assert argvs[0][-1] == "--json"
        assert commands(fake_sf, before, "project", "deploy", "report") == []
        assert f"  {CLASSES}/Service1.cls" in pane and "Succeeded, 1/1 components deployed" in pane
        opens = commands(fake_sf, before, "org", "open")
        deploy = commands(fake_sf, before, "project", "deploy", "start")[0]
        assert len(opens) == 1 and opens[0]["start"] < deploy["end"], "the URL was not minted beside the deploy"
        assert "Login URL ready (minted while the org was built)" in pane
        assert "otp=" not in pane and result["loginUrl"].startswith("https://")
        steps = {s["name"]: s["status"] for s in result["steps"]}
        assert steps["data"] == steps["users"] == steps["permsets"] == "skipped"
        # The skipped steps ended before they started: no progress was announced for them, deploy and login were.
        announced = [
            n["params"]["step"]
            for n in sc.notifications[mark:]
            if n["method"] == "agent:status" and n["params"]["status"] == "PROVISIONING"
        ]
        assert announced == ["org", "deploy", "login"]


async def test_a_stale_or_failed_early_url_is_minted_again_and_a_failed_build_keeps_none(
    home: Path, tmp_path: Path, fake_sf: FakeSf, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, wt = project(tmp_path)
    fake_sf.write(fake_state(orgs=[scratch_org("pool1")]))
    async with MemorySidecar.start(home, settings=fake_sf.settings()) as sc:
        await sc.call("org:register", "pool1")
        run = Runner(sc, fake_sf, wt)  # type: ignore[arg-type]
        await run.provision()

        # The early mint fails: the login step mints again and the run succeeds.
        run.scenario(**{"org open": ["error"]})
        before = len(fake_sf.calls())
        _, _, pane = await run.provision()
        assert len(commands(fake_sf, before, "org", "open")) == 2
        assert "Login URL ready: handed to the QA pane only" in pane

        # A URL older than the limit is dropped unused; a fresh one is handed out.
        monkeypatch.setattr(pipeline, "LOGIN_URL_MAX_AGE_SECONDS", 0.0)
        before = len(fake_sf.calls())
        await run.provision()
        assert len(commands(fake_sf, before, "org", "open")) == 2

        # A build that fails hands out no URL, early or not.
        monkeypatch.setattr(pipeline, "LOGIN_URL_MAX_AGE_SECONDS", 30.0)
        (wt / CLASSES / "Service1.cls").write_text("public class Service1 { Integer broken }\n")
        run.scenario(**{"project deploy start": ["fail-object"]})
        with anyio.fail_after(60):
            failed = await sc.call("agent:provision", config("a1", wt), timeout=60)
        assert failed["success"] is False and failed["loginUrl"] is None
        assert {s["name"]: s["status"] for s in failed["steps"]}["login"] == "skipped"
