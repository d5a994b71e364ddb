"""Fixtures shared by every test: the asyncio backend, a fresh home, and the bundled fake `sf`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.fakesf import FakeSf
from tests.support.harness import SidecarProcess


@pytest.fixture
def anyio_backend() -> str:
    # aiosqlite and jsonrpcserver's async dispatch run on asyncio only.
    return "asyncio"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


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
