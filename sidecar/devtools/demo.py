"""`python -m sidecar.devtools.demo` (or `make demo`): the protocol at work in a few seconds, no Salesforce needed.

It spawns the sidecar over stdio exactly as the Electron main process does, points it at the bundled fake `sf`
(four authorized scratch orgs, one already expired, and room for three), and prints every request (-->), response
(<--) and notification (<~~) of a conversation: a first sign-in, discovery, claim, access checks, release, then an
agent's branch provisioned into a pooled org with every `sf` line streamed, ending in a frontdoor login URL.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import zlib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import anyio

from sidecar.devtools.client import RpcError, SidecarProcess
from sidecar.fakesf import executable_path

COLOR = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
WIDTH = 160


def paint(text: str, code: str) -> str:
    return f"\033[{code}m{text}\033[0m" if COLOR else text


def show(direction: str, message: Any) -> None:
    text = json.dumps(message, separators=(",", ":"))
    if len(text) > WIDTH:
        text = text[: WIDTH - 3] + "..."
    if direction == "sent":
        print(paint("--> ", "36") + text)
    elif isinstance(message, dict) and "method" in message:
        print(paint("<~~ ", "33") + text)
    else:
        print(paint("<-- ", "32") + text)


def fake_cli_state() -> dict[str, Any]:
    def org(alias: str, days: int, status: str = "Active") -> dict[str, Any]:
        return {
            "alias": alias,
            "username": f"test-{alias}@example.com",
            "orgId": "00D" + format(zlib.crc32(alias.encode()) % 10**12, "012d") + "AAA",
            "instanceUrl": f"https://{alias}.scratch.my.salesforce.com",
            "loginUrl": "https://test.salesforce.com",
            "expirationDate": (date.today() + timedelta(days=days)).isoformat(),
            "status": status,
            "devHubUsername": "hub@example.com",
        }

    expired = {**org("qa-old", -1), "isExpired": True}
    return {"devHub": "hub@example.com", "orgs": [org("qa-alpha", 6), org("qa-beta", 3), org("qa-gamma", 9), expired]}


def demo_worktree(root: Path) -> Path:
    """The smallest Salesforce DX project the pipeline provisions: one class, a scratch definition, a data plan."""
    classes = root / "force-app" / "main" / "default" / "classes"
    classes.mkdir(parents=True)
    (root / "sfdx-project.json").write_text('{"packageDirectories": [{"path": "force-app", "default": true}]}')
    (classes / "InvoiceTotals.cls").write_text("public with sharing class InvoiceTotals {}\n")
    (classes / "InvoiceTotals.cls-meta.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<ApexClass xmlns="http://soap.sforce.com/2006/04/metadata">'
        "<apiVersion>62.0</apiVersion><status>Active</status></ApexClass>\n"
    )
    (root / "config").mkdir()
    (root / "config" / "project-scratch-def.json").write_text('{"orgName": "QA", "edition": "Developer"}')
    (root / "data").mkdir()
    (root / "data" / "Account.json").write_text(
        '{"records": [{"attributes": {"type": "Account", "referenceId": "AccRef1"}, "Name": "Acme"}]}'
    )
    (root / "data" / "sample-data-plan.json").write_text('[{"sobject": "Account", "files": ["Account.json"]}]')
    return root


async def step(title: str, sc: SidecarProcess, method: str, *params: Any) -> Any:
    print("\n" + paint(f"# {title}", "1"))
    try:
        result = await sc.call(method, *params)
    except RpcError as exc:
        result = exc
    await anyio.sleep(0.05)  # let the notifications that follow a change print under their step
    return result


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="sweatshop-demo-") as tmp:
        home = Path(tmp) / "home"
        state = Path(tmp) / "sf-state.json"
        state.write_text(json.dumps(fake_cli_state()))
        settings = {"orgPool": {"sfPath": str(executable_path()), "maxOrgs": 3}}
        env = {"SF_FAKE_STATE": str(state)}
        print(paint(f"sidecar home: {home}  (fake sf: {executable_path()})", "2"))
        async with SidecarProcess.start(home, settings=settings, env=env, on_message=show) as sc:
            await step("Is the sidecar healthy?", sc, "sidecar:health")
            claims = {
                "iss": "https://login.example.com",
                "sub": "00u-demo",
                "email": "dana@example.com",
                "name": "Dana",
            }
            await step(
                "First sign-in: person, organization, workspace, pool and plan in one transaction",
                sc,
                "auth:signIn",
                {"claims": claims},
            )
            await step("An empty pool", sc, "org:status")
            await step("Register an org by hand", sc, "org:register", "qa-manual")
            await step(
                "Discover the CLI's scratch orgs (sf org list --json): capacity and expiry leave some out",
                sc,
                "org:discover",
            )
            org = await step("Agent 1 claims an org: the one that expires first", sc, "org:claim", "agent-1")
            await step("Agent 1 may use its own org", sc, "org:checkAccess", "agent-1", org["alias"])
            await step("Agent 2 may not use agent 1's org", sc, "org:checkAccess", "agent-2", org["alias"])
            await step("Agent 2 cannot release agent 1's org", sc, "org:release", org["id"], "agent-2")
            await step("A hostile alias is refused", sc, "org:register", "-o prod;rm -rf ~")
            await step("Agent 1 finishes: its org goes back to the pool", sc, "agent:completed", "agent-1")
            worktree = demo_worktree(Path(tmp) / "worktrees" / "agent-2")
            await step(
                "Agent 2 hands its branch to QA: reuse a pooled org, deploy, load data, log in",
                sc,
                "agent:provision",
                {
                    "agentId": "agent-2",
                    "orgAlias": "qa-agent-2",
                    "branchName": "feature/invoice-totals",
                    "worktreePath": str(worktree),
                },
            )
            await step("The pool badge", sc, "org:status")
            code = await sc.close()
        print("\n" + paint(f"sidecar exited with code {code} after stdin closed", "2"))


if __name__ == "__main__":
    anyio.run(main, backend="asyncio")
