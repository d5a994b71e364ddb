"""Who runs a provisioning run, how another sidecar tells that it is gone, and how its orphans are reaped.

Several sidecars may share one database (a second app instance now, a team's shared pool later), so a run still
`running` in the table is not proof that its sidecar died. Each run names its owner (host, pid and a random token
chosen once per process) and carries a heartbeat the owner refreshes every HEARTBEAT_SECONDS (the Boskos lease
pattern). A run's owner is taken for gone only when that can be shown: on this host its pid no longer runs, or,
from anywhere, its heartbeat is older than STALE_BEATS beats (on this host too: a live pid may have been reused
by another program). A run without an owner was written by a sidecar older than the owner columns, and is judged
as such sidecars judged every run: gone, but only at start (see ProvisioningService.sweep).

Children (`sf` and the Node process it spawns) lead their own process group and outlive a sidecar killed with
-9. Each carries OWNER_ENV=<token> in its environment, and the run records its group ids while they run; the
sidecar that finds the run orphaned kills a recorded group only after reading that marker in /proc, because a
group id is only a number and may since name someone else's processes. Without /proc nothing is killed.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

# One heartbeat for runs and instances: the beat and the missed beats that mean gone (sidecar/pool/instances.py).
from sidecar.pool.instances import HEARTBEAT_SECONDS as HEARTBEAT_SECONDS
from sidecar.pool.instances import STALE_BEATS as STALE_BEATS

log = logging.getLogger(__name__)

OWNER_ENV = "SWEATSHOP_SIDECAR_OWNER"
RUN_ENV = "SWEATSHOP_PROVISION_RUN"
PROC = Path("/proc")


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    token: str

    @classmethod
    def this_process(cls) -> Owner:
        return cls(host=socket.gethostname(), pid=os.getpid(), token=secrets.token_hex(16))

    def child_env(self, run_id: str) -> dict[str, str]:
        return {OWNER_ENV: self.token, RUN_ENV: run_id}


def stale_after(heartbeat_seconds: float = HEARTBEAT_SECONDS) -> timedelta:
    return timedelta(seconds=heartbeat_seconds * STALE_BEATS)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists here; a zombie (killed, not yet waited for by its parent) does not
    count, since it runs nothing and would otherwise keep a dead sidecar "alive" until its parent reaps it."""
    if pid <= 0:  # 0 and negatives would address process groups, never one process
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    stat = _stat(pid)
    return stat is None or stat[0] != "Z"


def why_gone(
    owner: Owner | None,
    heartbeat_at: datetime | None,
    *,
    here: str,
    now: datetime,
    stale: timedelta,
    alive: Callable[[int], bool] = pid_alive,
) -> str | None:
    """Why the run's owner is provably gone (the end of a sentence), or None while it may still be working."""
    if owner is None:
        return "the sidecar stopped"
    if owner.host == here and not alive(owner.pid):
        return "the sidecar running it stopped"
    if heartbeat_at is None or now - heartbeat_at > stale:
        return (
            f"the sidecar running it (pid {owner.pid} on {owner.host}) stopped answering: "
            f"no heartbeat for more than {stale.total_seconds():g} s"
        )
    return None


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state first, then ppid, pgrp, ...)."""
    try:
        raw = (PROC / str(pid) / "stat").read_bytes()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: it ends at the last ")".
    return raw.rsplit(b")", 1)[-1].decode("ascii", "replace").split()


def _environ(pid: int) -> list[bytes]:
    try:
        return (PROC / str(pid) / "environ").read_bytes().split(b"\0")
    except OSError:  # gone, or not ours to read: either way not provably ours
        return []


def group_members(pgid: int) -> list[int]:
    members = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and len(stat) > 2 and stat[2] == str(pgid) and stat[0] != "Z":
                members.append(int(entry.name))
    return members


def reap_group(pgid: int, token: str) -> bool:
    """Kill the process group a gone sidecar left running, if it provably still is that sidecar's; True if killed.

    SIGKILL at once: nobody is left to read what the commands print, and their server-side work (a deploy)
    goes on or stops regardless.
    """
    if not (PROC / "self" / "environ").exists():
        log.warning("process group %s of a stopped sidecar cannot be verified (no /proc): left running", pgid)
        return False
    members = group_members(pgid)
    marker = f"{OWNER_ENV}={token}".encode()
    if not any(marker in _environ(pid) for pid in members):
        if members:
            log.warning("process group %s no longer belongs to the stopped sidecar: left alone", pgid)
        return False
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    log.warning("killed process group %s left running by a stopped sidecar", pgid)
    return True
