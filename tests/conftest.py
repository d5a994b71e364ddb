"""Fixtures shared by every test: the asyncio backend, a fresh home, and the bundled fake `sf`."""

from __future__ import annotations

import json
import zlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.harness import SidecarProcess


@pytest.fixture
def anyio_backend() -> str:
    # aiosqlite and jsonrpcserver's async dispatch run on asyncio only.
    return "asyncio"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


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


@pytest.fixture
def fake_sf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeSf:
    fake = FakeSf(tmp_path / "sf-state.json", tmp_path / "sf-log.jsonl")
    fake.write({"orgs": []})
    # In-process code (services under test) sees the same fake as spawned sidecars.
    for key, value in fake.env.items():
        monkeypatch.setenv(key, value)
    return fake


@pytest.fixture
async def sidecar(home: Path, fake_sf: FakeSf) -> AsyncIterator[SidecarProcess]:
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env) as process:
        yield process


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
