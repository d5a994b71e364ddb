"""Helpers the provisioning and sf:run tests share (worktrees, settings, what the pane showed, leftover processes).

Kept in a test_ module so the provisioning tests own every file they need; it holds no tests itself.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from anyio.abc import TaskGroup

from sidecar.devtools.client import SidecarProcess

HUB = "hub@example.com"
CLASS = "public with sharing class {name} {{\n    public static Integer answer() {{ return 42; }}\n}}\n"
META = '<?xml version="1.0" encoding="UTF-8"?>\n<ApexClass xmlns="http://soap.sforce.com/2006/04/metadata"><apiVersion>62.0</apiVersion></ApexClass>\n'


def fake_state(*, noise: bool = False, **extra: object) -> dict[str, Any]:
    """The fake sf's state for a test: a Dev Hub, no org yet; `noise` adds the update notices the real CLI prints."""
    return {"devHub": HUB, "orgs": [], "noise": noise, **extra}


def make_worktree(root: Path, *, classes: int = 2, data: bool = True, users: bool = True) -> Path:
    """A minimal Salesforce DX project: classes under force-app, a scratch definition, optionally data and users."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "sfdx-project.json").write_text('{"packageDirectories": [{"path": "force-app", "default": true}]}')
    classes_dir = root / "force-app" / "main" / "default" / "classes"
    classes_dir.mkdir(parents=True, exist_ok=True)
    for n in range(1, classes + 1):
        (classes_dir / f"Service{n}.cls").write_text(CLASS.format(name=f"Service{n}"))
        (classes_dir / f"Service{n}.cls-meta.xml").write_text(META)
    (root / "config").mkdir(exist_ok=True)
    (root / "config" / "project-scratch-def.json").write_text('{"orgName": "QA", "edition": "Developer"}')
    if users:
        (root / "config" / "user-def.json").write_text('{"LastName": "Tester", "Email": "qa@example.com"}')
    if data:
        (root / "data").mkdir(exist_ok=True)
        (root / "data" / "Account.json").write_text(
            '{"records": [{"attributes": {"type": "Account", "referenceId": "AccRef1"}, "Name": "Acme"}]}'
        )
        (root / "data" / "sample-data-plan.json").write_text('[{"sobject": "Account", "files": ["Account.json"]}]')
    return root


def config(agent: str, worktree: Path, alias: str | None = None, branch: str = "feature/qa") -> dict[str, str]:
    return {"agentId": agent, "orgAlias": alias or f"qa-{agent}", "branchName": branch, "worktreePath": str(worktree)}


async def provision_in_background(
    tg: TaskGroup, sc: SidecarProcess, agent_config: dict[str, str], outcome: dict[str, Any], until: str
) -> None:
    """Send agent:provision without waiting for its answer (it lands in `outcome`) and return once the agent's pane
    shows `until`: the tests that stop, kill or watch a run mid-step start it this way."""

    async def provision() -> None:
        outcome.update(await sc.call("agent:provision", agent_config, timeout=30))

    tg.start_soon(provision)
    await sc.wait_notification("terminal:output", lambda p: until in p["data"], timeout=10)


def terminal_text(sc: SidecarProcess, agent: str, stream: str | None = None) -> str:
    return "".join(
        n["params"]["data"]
        for n in sc.notifications
        if n["method"] == "terminal:output"
        and n["params"]["agentId"] == agent
        and (stream is None or n["params"]["stream"] == stream)
    )


def statuses(sc: SidecarProcess, agent: str) -> list[dict[str, Any]]:
    return [n["params"] for n in sc.notifications if n["method"] == "agent:status" and n["params"]["agentId"] == agent]


def processes_with(marker: str, exclude: tuple[int, ...] = ()) -> list[int]:
    """Pids of live processes whose environment holds `marker` (a test's SF_FAKE_STATE), except `exclude`."""
    found = []
    needle = marker.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in exclude or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                environ = handle.read()
            with open(f"/proc/{entry}/stat", "rb") as handle:
                state = handle.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in environ and state != b"Z":
            found.append(int(entry))
    return found


def kill_leftovers(marker: str, exclude: tuple[int, ...] = ()) -> None:
    import signal

    for pid in processes_with(marker, exclude):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def home_bytes(home: Path) -> bytes:
    """Every byte the sidecar wrote under its home (database, WAL, logs)."""
    return b"".join(p.read_bytes() for p in sorted(home.rglob("*")) if p.is_file())
