"""The Electron side's TypeScript types are generated from the pydantic wire models; this keeps them current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_types_d_ts_matches_the_wire_models() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_types.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
