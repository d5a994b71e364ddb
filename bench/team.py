"""Issue 11's figures: a team pool on PostgreSQL against the same load on one SQLite sidecar, measured in one run.

- claim+release cycles per second, 32 agents over 8 orgs: 4 sidecar processes (own homes) on one PostgreSQL
  against one SQLite sidecar, and the double-lease count (must be 0);
- `org:status` round trip on PostgreSQL against SQLite (100 orgs);
- `org:changed` latency from the committing sidecar to another sidecar's client, p50 and p99: sidecar A claims and
  releases, and each change is timed from the moment A's client sends the request (the commit happens inside it,
  so this bounds the latency from above) to the moment B's client hears of it (PostgreSQL LISTEN/NOTIFY carries it).
  The baseline is the same change reaching A's own client. When B's client hears nothing within NOTIFY_WAIT_S the
  row says "not delivered" and how many.
The PostgreSQL server is a throwaway one (sidecar/devtools/postgres.py: initdb in a temp dir, loopback only);
without an installed server the suite says so and is skipped.
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
CHANGES = 200  # org:changed samples (claims and releases, alternating)
NOTIFY_WAIT_S = 2.0


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


class Arrivals:
    """When each `org:changed` reached one client (perf_counter), by (reason, org id), oldest first."""

    def __init__(self) -> None:
        self.times: dict[tuple[str, str], list[float]] = {}
        self.arrived = anyio.Event()

    def __call__(self, direction: str, message: Any) -> None:
        if direction == "received" and isinstance(message, dict) and message.get("method") == "org:changed":
            params = message.get("params") or {}
            key = (str(params.get("reason")), str((params.get("org") or {}).get("id")))
            self.times.setdefault(key, []).append(time.perf_counter())
            self.arrived.set()
            self.arrived = anyio.Event()

    async def next_after(self, key: tuple[str, str], index: int, timeout: float) -> float | None:  # noqa: ASYNC109
        """The arrival time of the `index`th notification for `key`, or None if it does not come in `timeout`."""
        with anyio.move_on_after(timeout):
            while len(self.times.get(key, [])) <= index:
                await self.arrived.wait()
            return self.times[key][index]
        return None


async def _changed_latency(root: Path, env: dict[str, str]) -> dict[str, Any]:
    """org:changed from A's commit to B's client: (remote latencies, local latencies, samples not delivered)."""
    seen_a, seen_b = Arrivals(), Arrivals()
    quiet = ["--log-level", "WARNING"]
    settings = {"orgPool": {"maxOrgs": 200}}
    remote: list[float] = []
    local: list[float] = []
    missing = 0
    async with (
        SidecarProcess.start(root / "a", settings=settings, env=env, extra_args=quiet, on_message=seen_a) as a,
        SidecarProcess.start(root / "b", settings=settings, env=env, extra_args=quiet, on_message=seen_b) as b,
    ):
        await b.call("sidecar:health")
        org = await a.call("org:register", "latency-1")
        counts: dict[tuple[str, str], int] = {}
        for n in range(CHANGES):
            reason = "claimed" if n % 2 == 0 else "released"
            key = (reason, org["id"])
            index = counts.get(key, 0)
            counts[key] = index + 1
            sent = time.perf_counter()
            if reason == "claimed":
                await a.call("org:claim", "agent-latency")
            else:
                await a.call("org:release", org["id"], "agent-latency")
            at_a = await seen_a.next_after(key, index, NOTIFY_WAIT_S)
            at_b = await seen_b.next_after(key, index, NOTIFY_WAIT_S)
            if at_a is not None:
                local.append(at_a - sent)
            if at_a is None or at_b is None:
                missing += 1
                if not remote and missing >= 3:  # nothing carries changes across sidecars: stop waiting
                    missing = CHANGES - n - 1 + missing
                    break
                continue
            remote.append(at_b - sent)
    return {"remote": remote, "local": local, "missing": missing}


def _report_latency(report: Report, latency: dict[str, Any]) -> None:
    remote, local, missing = latency["remote"], latency["local"], latency["missing"]
    for q in (50, 99):
        name = f"org:changed latency p{q}, request to the committing sidecar -> another sidecar's client (PostgreSQL)"
        target = "p50 < 50 ms" if q == 50 else "reported"
        baseline = f"{percentile(local, q) * 1e3:.1f} ms (to its own client)" if local else "-"
        if not remote:
            report.add(name, f"not delivered ({missing}/{CHANGES} never arrived)", baseline, None, target)
            continue
        measured = f"{percentile(remote, q) * 1e3:.1f} ms"
        if missing:
            measured += f" ({missing}/{CHANGES} not delivered)"
        ratio = percentile(remote, q) / percentile(local, q) if local and percentile(local, q) else None
        report.add(name, measured, baseline, ratio, target)


def run(report: Report, seconds: float = 8.0) -> None:
    from sidecar.devtools.postgres import PostgresServer, find_bin_dir

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
            latency_url = server.url(server.create_database())
            latency = anyio.run(_changed_latency, Path(tmp) / "latency", {ENV_VAR: latency_url}, backend="asyncio")
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
    _report_latency(report, latency)
    if pg["doubles"] or lite["doubles"]:
        raise SystemExit("double lease observed")


if __name__ == "__main__":
    r = Report()
    run(r)
    print(r.render())
