"""Issue 3's figures: a provisioning run against its critical path, the sidecar's overhead per run, and 4 agents at
once against one alone, all with the fake `sf` given fixed delays per step.

- critical path: the steps that must run one after another, each command spawned directly (no sidecar) and timed
  spawn to exit: create + deploy + deploy report + the longest of (data, users, permsets) + login URL. The pipeline
  runs data, users and permsets side by side, so its wall time should come close to this (target <= 1.15x); the
  difference is the sidecar's own overhead per run.
- 4 agents at once whose orgs are already in the pool, against one alone: close to 1x (nothing is serialized).
- 4 agents at once that each need a new org, against one alone plus the three other creations, which are the only
  thing serialized (the CLI's state is written by one creation at a time): close to 1x of that bound.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from bench.common import Report, median
from sidecar.devtools.client import SidecarProcess
from sidecar.fakesf import executable_path

HUB = "hub@example.com"
DELAYS = {
    "org create scratch": 0.8,
    "project deploy start": 1.5,
    "data import tree": 0.5,
    "org create user": 0.6,
    "org assign permset": 0.4,
    "org open": 0.1,
}
CLASS = "public class Service{n} {{ public static Integer answer() {{ return {n}; }} }}\n"
META = '<?xml version="1.0" encoding="UTF-8"?><ApexClass xmlns="http://soap.sforce.com/2006/04/metadata"><apiVersion>62.0</apiVersion></ApexClass>\n'


def make_worktree(root: Path) -> Path:
    classes = root / "force-app" / "main" / "default" / "classes"
    classes.mkdir(parents=True)
    for n in range(1, 4):
        (classes / f"Service{n}.cls").write_text(CLASS.format(n=n))
        (classes / f"Service{n}.cls-meta.xml").write_text(META)
    (root / "sfdx-project.json").write_text('{"packageDirectories": [{"path": "force-app", "default": true}]}')
    (root / "config").mkdir()
    (root / "config" / "project-scratch-def.json").write_text('{"edition": "Developer"}')
    (root / "config" / "user-def.json").write_text('{"LastName": "Tester"}')
    (root / "data").mkdir()
    (root / "data" / "sample-data-plan.json").write_text("[]")
    return root


class Bench:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.state = base / "sf-state.json"
        self.env = {"SF_FAKE_STATE": str(self.state)}
        self.worktrees = [make_worktree(base / f"wt{n}") for n in range(4)]
        self.homes = 0

    def reset(self, pooled: int) -> None:
        orgs = [{"alias": f"pool{n}"} for n in range(pooled)]
        self.state.write_text(json.dumps({"devHub": HUB, "orgs": orgs, "delays": DELAYS, "noise": False}))

    def settings(self) -> dict[str, Any]:
        return {"orgPool": {"sfPath": str(executable_path()), "maxOrgs": 4, "permissionSets": ["QA_Admin", "QA_User"]}}

    async def provision(self, agents: int, pooled: int) -> float:
        """Wall time of `agents` concurrent agent:provision calls on a fresh sidecar with `pooled` orgs ready."""
        self.reset(pooled)
        self.homes += 1
        async with SidecarProcess.start(self.base / f"home{self.homes}", settings=self.settings(), env=self.env) as sc:
            for n in range(pooled):
                await sc.call("org:register", f"pool{n}")
            await sc.call("org:status")
            results: list[dict[str, Any]] = []

            async def one(n: int) -> None:
                config = {
                    "agentId": f"a{n}",
                    "orgAlias": f"qa-a{n}",
                    "branchName": "main",
                    "worktreePath": str(self.worktrees[n]),
                }
                results.append(await sc.call("agent:provision", config, timeout=120))

            started = time.perf_counter()
            async with anyio.create_task_group() as tg:
                for n in range(agents):
                    tg.start_soon(one, n)
            elapsed = time.perf_counter() - started
        if not all(r["success"] for r in results):
            raise RuntimeError(f"a benchmark run failed: {results}")
        return elapsed

    def direct(self, argv: list[str], cwd: Path) -> float:
        env = {**os.environ, **self.env, "SF_USE_PROGRESS_BAR": "false"}
        started = time.perf_counter()
        subprocess.run(
            [str(executable_path()), *argv],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        return time.perf_counter() - started

    def critical_path(self) -> dict[str, float]:
        """Each command spawned directly and timed spawn to exit: the critical path, all steps in a row, a creation."""
        self.reset(0)
        wt = self.worktrees[0]
        create = self.direct(
            [
                "org",
                "create",
                "scratch",
                "--definition-file",
                str(wt / "config/project-scratch-def.json"),
                "--alias",
                "direct",
                "--duration-days",
                "7",
                "--wait",
                "15",
                "--json",
            ],
            wt,
        )
        deploy = self.direct(
            ["project", "deploy", "start", "--target-org", "direct", "--source-dir", str(wt / "force-app")], wt
        )
        deploys = json.loads(self.state.read_text()).get("deploys") or {}
        report = self.direct(["project", "deploy", "report", "--job-id", next(iter(deploys)), "--json"], wt)
        middle = [
            self.direct(
                [
                    "data",
                    "import",
                    "tree",
                    "--target-org",
                    "direct",
                    "--plan",
                    str(wt / "data/sample-data-plan.json"),
                    "--json",
                ],
                wt,
            ),
            self.direct(
                [
                    "org",
                    "create",
                    "user",
                    "--target-org",
                    "direct",
                    "--definition-file",
                    str(wt / "config/user-def.json"),
                    "--json",
                ],
                wt,
            ),
            self.direct(
                [
                    "org",
                    "assign",
                    "permset",
                    "--target-org",
                    "direct",
                    "--name",
                    "QA_Admin",
                    "--name",
                    "QA_User",
                    "--json",
                ],
                wt,
            ),
        ]
        login = self.direct(["org", "open", "--target-org", "direct", "--url-only", "--json"], wt)
        return {
            "critical": create + deploy + report + max(middle) + login,
            "serial": create + deploy + report + sum(middle) + login,
            "create": create,
        }

    def direct_agent(self, n: int) -> None:
        """One pooled agent's commands spawned directly, in the pipeline's order and parallelism (no sidecar)."""
        import concurrent.futures

        wt, alias = self.worktrees[n], f"pool{n}"
        env = {**os.environ, **self.env, "SF_USE_PROGRESS_BAR": "false"}
        out = subprocess.run(
            [
                str(executable_path()),
                "project",
                "deploy",
                "start",
                "--target-org",
                alias,
                "--source-dir",
                str(wt / "force-app"),
            ],
            cwd=wt,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        job = next(line.split()[-1] for line in out.splitlines() if line.startswith("Deploy ID:"))
        self.direct(["project", "deploy", "report", "--job-id", job, "--json"], wt)
        middle = [
            [
                "data",
                "import",
                "tree",
                "--target-org",
                alias,
                "--plan",
                str(wt / "data/sample-data-plan.json"),
                "--json",
            ],
            [
                "org",
                "create",
                "user",
                "--target-org",
                alias,
                "--definition-file",
                str(wt / "config/user-def.json"),
                "--json",
            ],
            ["org", "assign", "permset", "--target-org", alias, "--name", "QA_Admin", "--name", "QA_User", "--json"],
        ]
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda argv: self.direct(argv, wt), middle))
        self.direct(["org", "open", "--target-org", alias, "--url-only", "--json"], wt)

    def direct_agents(self, agents: int) -> float:
        import concurrent.futures

        self.reset(4)
        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(agents) as pool:
            list(pool.map(self.direct_agent, range(agents)))
        return time.perf_counter() - started


def run(report: Report) -> None:
    base = Path(tempfile.mkdtemp(prefix="bench-provisioning-"))
    try:
        bench = Bench(base)

        def measure(agents: int, pooled: int) -> float:
            return anyio.run(bench.provision, agents, pooled, backend="asyncio")

        paths = [bench.critical_path() for _ in range(2)]
        critical = median([p["critical"] for p in paths])
        serial = median([p["serial"] for p in paths])
        create = median([p["create"] for p in paths])
        alone_new = median([measure(1, 0) for _ in range(2)])
        report.add(
            "provision wall vs critical path (new org)",
            f"{alone_new * 1000:.0f} ms",
            f"{critical * 1000:.0f} ms (every step in a row: {serial * 1000:.0f} ms)",
            alone_new / critical,
            "<= 1.15x",
        )
        report.add(
            "sidecar overhead per run",
            f"{(alone_new - critical) * 1000:.0f} ms",
            f"{critical * 1000:.0f} ms",
            None,
            "small against the CLI",
        )
        alone_pooled = median([measure(1, 1) for _ in range(2)])
        four_pooled = measure(4, 4)
        report.add(
            "4 agents at once vs 1 alone (orgs in pool)",
            f"{four_pooled * 1000:.0f} ms",
            f"{alone_pooled * 1000:.0f} ms",
            four_pooled / alone_pooled,
            "close to 1x",
        )
        # The same 4 command sequences without the sidecar: what 4x the fake CLI's process start-ups cost this machine.
        direct_one, direct_four = bench.direct_agents(1), bench.direct_agents(4)
        report.add(
            "  same, commands spawned directly (no sidecar)",
            f"{direct_four * 1000:.0f} ms",
            f"{direct_one * 1000:.0f} ms",
            direct_four / direct_one,
            "reference: the machine's floor",
        )
        four_new = measure(4, 0)
        bound = alone_new + 3 * create
        report.add(
            "4 agents at once vs 1 alone + 3 serialized creations (new orgs)",
            f"{four_new * 1000:.0f} ms",
            f"{alone_new * 1000:.0f} + 3 x {create * 1000:.0f} = {bound * 1000:.0f} ms",
            four_new / bound,
            "close to 1x",
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    r = Report()
    run(r)
    print(r.render())
