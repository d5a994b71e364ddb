"""`python -m sidecar.devtools.demo_team` (or `make demo-team`): two desktops of a team sharing one scratch-org pool.

It starts a throwaway PostgreSQL (sidecar/devtools/postgres.py: initdb in a temporary directory, run as an
unprivileged user, loopback and a private socket only, removed at the end) and two sidecars pointed at it with
`SWEATSHOP_DATABASE_URL`, each with its own home (its own instance) and its own bundled fake `sf` (its own CLI
state), as on two machines. It prints both conversations: Alice's sidecar discovers the orgs her CLI knows, Bob's
sees them in the same pool; Bob's agent claims one, Alice's client is told (`org:changed`, through LISTEN/NOTIFY)
and her `org:list` shows it leased, with Bob's machine name; Alice cannot release it; the team's one capacity is
the same number on both.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio

from sidecar.devtools.client import SidecarProcess
from sidecar.devtools.demo import fake_cli_state, paint, show, step
from sidecar.devtools.postgres import INSTALL_HINT, PostgresServer, find_bin_dir
from sidecar.fakesf import executable_path
from sidecar.storage.url import ENV_VAR

# How long Alice's client listens for Bob's change (a notification across machines needs LISTEN/NOTIFY).
CROSS_MACHINE_WAIT_S = 2.0


def printer(machine: str) -> Callable[[str, Any], None]:
    """Show every frame of one machine's conversation, prefixed with the machine."""
    tag = paint(f"[{machine}] ", "35")

    def on_message(direction: str, message: Any) -> None:
        sys.stdout.write(tag)
        show(direction, message)

    return on_message


def machine(root: Path, name: str, url: str) -> tuple[Path, dict[str, Any], dict[str, str]]:
    """One desktop: its home, its settings (its machine name) and its environment (its fake CLI, the team URL)."""
    state = root / f"{name}-sf-state.json"
    state.write_text(json.dumps(fake_cli_state()), encoding="utf-8")
    settings = {"orgPool": {"sfPath": str(executable_path()), "maxOrgs": 3, "machineName": name}}
    return root / name, settings, {"SF_FAKE_STATE": str(state), ENV_VAR: url}


async def conversation(root: Path, url: str) -> None:
    alice_home, alice_settings, alice_env = machine(root, "alice-laptop", url)
    bob_home, bob_settings, bob_env = machine(root, "bob-desktop", url)
    async with (
        SidecarProcess.start(alice_home, alice_settings, alice_env, on_message=printer("alice-laptop")) as alice,
        SidecarProcess.start(bob_home, bob_settings, bob_env, on_message=printer("bob-desktop")) as bob,
    ):
        health_a = await step("Alice's sidecar: the database is the team's PostgreSQL", alice, "sidecar:health")
        health_b = await step("Bob's sidecar: the same database", bob, "sidecar:health")
        engines = {health_a["database"]["engine"], health_b["database"]["engine"]}
        same = health_a["database"]["url"] == health_b["database"]["url"]
        print(paint(f"=> both sidecars on {'/'.join(sorted(engines))}, {'one' if same else 'two'} database URL", "1"))
        await step("Alice discovers the scratch orgs her CLI knows", alice, "org:discover")
        await step("Bob sees the same pool, and the team's one capacity", bob, "org:status")
        mark = len(alice.messages)
        org = await step("Bob's agent claims an org", bob, "org:claim", "agent-1")
        heard = None
        with anyio.move_on_after(CROSS_MACHINE_WAIT_S):
            heard = await alice.wait_notification(
                "org:changed", lambda p: p["reason"] == "claimed" and p["org"]["id"] == org["id"], start=mark
            )
        print(
            paint(
                "(Alice's client was told at once: org:changed)"
                if heard
                else "(no org:changed reached Alice's client: this build does not carry changes across machines;"
                " her next read shows it)",
                "2",
            )
        )
        listed = await step("Alice's org:list: Bob's org is leased, with his machine name", alice, "org:list")
        mine = next(o for o in listed if o["id"] == org["id"])
        print(
            paint(f"=> {mine['alias']} is {mine['status']} on {mine['machineName']} to {mine['assignedAgentId']}", "1")
        )
        await step("Alice cannot release an org leased on Bob's machine", alice, "org:release", org["id"])
        await step(
            "Alice's agent-1 is another agent than Bob's agent-1: it holds nothing", alice, "org:lease", "agent-1"
        )
        await step("Bob's agent finishes: the org goes back to the team's pool", bob, "agent:completed", "agent-1")
        await step("Alice's badge", alice, "org:status")
        codes = (await alice.close(), await bob.close())
    print("\n" + paint(f"both sidecars exited with codes {codes} after stdin closed", "2"))


async def main() -> int:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        print(f"demo-team needs a PostgreSQL server binary: {INSTALL_HINT}", file=sys.stderr)
        return 2
    server = PostgresServer.start(bin_dir)
    try:
        url = server.url(server.create_database())
        print(paint(f"throwaway PostgreSQL: {url}", "2"))
        with tempfile.TemporaryDirectory(prefix="sweatshop-demo-team-") as tmp:
            await conversation(Path(tmp), url)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(anyio.run(main, backend="asyncio"))
