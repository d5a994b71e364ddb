"""The bundled fake `sf` as a test sees it: its state file, its invocation log, and org entries shaped like the
CLI's."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class FakeSf:
    """The bundled fake CLI with its own state file and invocation log, for one test."""

    state_path: Path
    log_path: Path

    @property
    def path(self) -> str:
        from sidecar.fakesf import executable_path

        return str(executable_path())

    @property
    def env(self) -> dict[str, str]:
        return {"SF_FAKE_STATE": str(self.state_path), "SF_FAKE_LOG": str(self.log_path)}

    def write(self, state: dict[str, Any]) -> None:
        self.state_path.write_text(json.dumps(state), encoding="utf-8")

    def read(self) -> dict[str, Any]:
        return json.loads(self.state_path.read_text(encoding="utf-8"))

    def calls(self) -> list[dict[str, Any]]:
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line.strip()]

    def settings(self, **org_pool: Any) -> dict[str, Any]:
        return {"orgPool": {"sfPath": self.path, **org_pool}}


def scratch_org(alias: str, days: int = 5, status: str = "Active", **extra: Any) -> dict[str, Any]:
    """One entry of the fake's `orgs`, shaped like `sf org list --json` scratch orgs."""
    from datetime import date, timedelta

    n = zlib.crc32(alias.encode()) % 10**12
    return {
        "alias": alias,
        "username": f"test-{alias.lower()}@example.com",
        "orgId": f"00D{n:012d}AAA",
        "instanceUrl": f"https://{alias.lower()}.scratch.my.salesforce.com",
        "loginUrl": "https://test.salesforce.com",
        "expirationDate": (date.today() + timedelta(days=days)).isoformat(),
        "status": status,
        "isExpired": status == "Active" and days < 0,
        "devHubUsername": "hub@example.com",
        **extra,
    }
