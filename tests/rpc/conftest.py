"""tests/rpc drive the real app in memory: `sidecar` here is a MemorySidecar (same API as SidecarProcess)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.fakesf import FakeSf
from tests.support.harness_memory import MemorySidecar


@pytest.fixture
async def sidecar(home: Path, fake_sf: FakeSf) -> AsyncIterator[MemorySidecar]:
    async with MemorySidecar.start(home, settings=fake_sf.settings(), env=fake_sf.env) as process:
        yield process
