"""Issue 11's figures: a team pool on PostgreSQL against the same load on one SQLite sidecar, measured in one run.

- claim+release cycles per second, 32 agents over 8 orgs: 4 sidecar processes (own homes) on one PostgreSQL
  against one SQLite sidecar, and the double-lease count (must be 0);
- `org:status` round trip on PostgreSQL against SQLite (100 orgs).
The PostgreSQL server is a throwaway one (tests/support/postgres.py: initdb in a temp dir, loopback only); without
an installed server the suite says so and is skipped. `org:changed` latency across sidecars needs LISTEN/NOTIFY,
which is not built yet (issue 11 step 4): not measured here.
"""

from __future__ import annotations

import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio

from bench.common import Report, percentile
from sidecar.devtools.client import SidecarProcess
from sidecar.storage.url import ENV_VAR

ORGS = 8
AGENTS = 32


async def _claim_release(sidecars: list[SidecarProcess], seconds: float) -> tuple[int, int]:
    """(cycles, double leases seen) with AGENTS agents spread over the sidecars."""
    holders: dict[str, str] = {}
    cycles = doubles = 0

    async def agent(sc: SidecarProcess, name: str) -> None:
        nonlocal cycles, doubles
        while True:
            org = await sc.call("org:claim", name)
            if org is None:
                await anyio.sleep(0.005)
                continue
            if org["id"] in holders:
                doubles += 1
            holders[org["id"]] = name
            await anyio.sleep(0.0005)
            del holders[org["id"]]
            await sc.call("org:release", org["id"], name)
            cycles += 1

    with anyio.move_on_after(seconds):
        async with anyio.create_task_group() as tg:
            for n in range(AGENTS):
                tg.start_soon(agent, sidecars[n % len(sidecars)], f"agent-{n}")
    return cycles, doubles


async def _status_samples(sc: SidecarProcess, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        await sc.call("org:status")
        samples.append(time.perf_counter() - started)
    return samples


async def _measure(root: Path, env: dict[str, str], processes: int, seconds: float) -> dict[str, Any]:
    settings = {"orgPool": {"maxOrgs": 200}}
    async with AsyncExitStack() as stack:
        sidecars = [
            await stack.enter_async_context(
                SidecarProcess.start(
                    root / f"home-{n}", settings=settings, env=env, extra_args=["--log-level", "WARNING"]
                )
            )
            for n in range(processes)
        ]
        for n in range(ORGS):
            await sidecars[0].call("org:register", f"bench-{n}")
        cycles, doubles = await _claim_release(sidecars, seconds)
        leased = [o for o in await sidecars[0].call("org:list") if o["status"] == "leased"]
        agents = [o["assignedAgentId"] for o in leased]
        doubles += len(agents) - len(set(agents))
        for n in range(ORGS, 100):
            await sidecars[0].call("org:register", f"bench-{n}")
        status = await _status_samples(sidecars[-1], 1000)
    return {"cycles": cycles / seconds, "doubles": doubles, "status": status}


def run(report: Report, seconds: float = 8.0) -> None:
    try:
        from tests.support.postgres import PostgresServer, find_bin_dir
    except ImportError:
        print("(skipping bench.team: tests/support is not importable)", file=sys.stderr)
        return
    bin_dir = find_bin_dir()
    if bin_dir is None:
        print("(skipping bench.team: no PostgreSQL server installed: apt-get install -y postgresql)", file=sys.stderr)
        return
    server = PostgresServer.start(bin_dir)
    try:
        url = server.url(server.create_database())
        with tempfile.TemporaryDirectory() as tmp:
            pg = anyio.run(_measure, Path(tmp) / "pg", {ENV_VAR: url}, 4, seconds, backend="asyncio")
            lite = anyio.run(_measure, Path(tmp) / "lite", {}, 1, seconds, backend="asyncio")
    finally:
        server.stop()
    report.add(
        f"claim+release cycles/s, {AGENTS} agents, {ORGS} orgs, 4 sidecars on PostgreSQL",
        f"{pg['cycles']:.0f}/s",
        f"{lite['cycles']:.0f}/s (1 SQLite sidecar)",
        pg["cycles"] / lite["cycles"] if lite["cycles"] else None,
        "reported; double leases must be 0",
    )
    report.add("double leases observed (team pool)", str(pg["doubles"] + lite["doubles"]), "0", None, "== 0")
    for q in (50, 99):
        report.add(
            f"org:status round trip p{q}, 100 orgs, PostgreSQL",
            f"{percentile(pg['status'], q) * 1e6:.0f} us",
            f"{percentile(lite['status'], q) * 1e6:.0f} us (SQLite)",
            percentile(pg["status"], q) / percentile(lite["status"], q),
            "reported",
        )
    if pg["doubles"] or lite["doubles"]:
        raise SystemExit("double lease observed")
