"""`make demo` is the first thing a newcomer runs: it must finish, exit 0 and show the whole conversation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_the_conversation_end_to_end() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sidecar.devtools.demo"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert '"method":"governance:changed","params":{"reason":"signedIn"' in out
    assert out.count('"error":{"code":-32005') == 2  # ACCESS_DENIED: agent 2 may not use nor release agent 1's org
    assert '"status":"QA_READY"' in out and '"success":true,"loginUrl":"https://' in out
    assert "sidecar exited with code 0" in out
