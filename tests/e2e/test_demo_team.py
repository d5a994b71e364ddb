"""`make demo-team` shows a newcomer two desktops sharing one pool: it must start its own PostgreSQL, finish, exit 0
and show an org claimed on one machine leased, with that machine's name, on the other."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sidecar.devtools.postgres import find_bin_dir
from tests.support.postgres import _unavailable

ROOT = Path(__file__).resolve().parents[2]


def test_demo_team_shows_one_machines_claim_on_the_other() -> None:
    if find_bin_dir() is None:
        _unavailable("initdb not found (looked in /usr/lib/postgresql/*/bin and PATH)")
    result = subprocess.run(
        [sys.executable, "-m", "sidecar.devtools.demo_team"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "=> both sidecars on postgresql, one database URL" in out
    assert '[bob-desktop] --> {"jsonrpc":"2.0","id":1000003,"method":"org:claim"' in out
    # Alice's client is told of Bob's claim (LISTEN/NOTIFY), then reads it back through org:list.
    assert '[alice-laptop] <~~ {"jsonrpc":"2.0","method":"org:changed","params":{"reason":"claimed"' in out
    assert "(Alice's client was told at once: org:changed)" in out
    assert "=> qa-beta is leased on bob-desktop to agent-1" in out
    assert "leased by an agent on another machine (bob-desktop)" in out  # Alice may not release it
    assert "both sidecars exited with codes (0, 0)" in out
