"""Git for throwaway repositories (tests, benchmarks, demos): one identity, no prompts, stdout back.

A fresh machine's git config may have no user, and `git commit` then refuses; the identity here makes every
commit work anywhere. Not the runtime: the sidecar's own git calls live in provisioning/delta.py.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

IDENTITY = {
    "GIT_AUTHOR_NAME": "sweatshop-dev",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "sweatshop-dev",
    "GIT_COMMITTER_EMAIL": "dev@example.com",
}


def git(cwd: Path, *args: str, timeout: float = 60) -> str:
    """Run git in `cwd`; its stdout (raises CalledProcessError on a failure, TimeoutExpired past `timeout`)."""
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=True,
        timeout=timeout,
        env={**os.environ, **IDENTITY},
    ).stdout


def commit(cwd: Path, message: str) -> str:
    """Commit everything in the worktree (an empty commit when nothing changed); the new HEAD."""
    git(cwd, "add", "--all")
    git(cwd, "commit", "--quiet", "--allow-empty", "-m", message)
    return git(cwd, "rev-parse", "HEAD").strip()
