"""Who holds a lease in a shared pool: this sidecar instance (one per home) and the machine name people read.

Agent ids are unique per machine only, so on a team database an agent is identified by its sidecar instance plus
its id. On a shared database the instance id is chosen once per home and kept in `<home>/instance-id`, so a
sidecar that restarts (or a second process on the same home) is the same instance and finds its agents' leases;
another desktop never is.
The machine name (`orgPool.machineName`, default the host name) is only for display: `ScratchOrg.machineName`.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

INSTANCE_FILE = "instance-id"
MAX_MACHINE_NAME = 100


@dataclass(frozen=True)
class LeaseHolder:
    instance_id: str
    _machine_name: Callable[[], str | None] = lambda: None

    @property
    def shared(self) -> bool:
        """Whether the pool is one several machines share (this holder is an instance, not the one desktop)."""
        return self.instance_id != "local"

    @property
    def machine_name(self) -> str:
        configured = self._machine_name()
        name = configured.strip() if configured else ""
        return (name or socket.gethostname())[:MAX_MACHINE_NAME]

    @classmethod
    def local(cls) -> LeaseHolder:
        """The one holder of a pool nobody shares (tests, a single desktop without a home file)."""
        return cls("local")

    @classmethod
    def for_database(
        cls, shared: bool, home: Path, machine_name: Callable[[], str | None] = lambda: None
    ) -> LeaseHolder:
        """`local` on a SQLite file (one machine: every sidecar on it is this desktop, and leases written before
        holders existed stay theirs); on a shared database, this home's instance id."""
        return cls(instance_id(home) if shared else "local", machine_name)


def instance_id(home: Path) -> str:
    """This home's instance id, created on first use; two processes starting at once agree (O_EXCL decides)."""
    path = home / INSTANCE_FILE
    try:
        text = path.read_text(encoding="utf-8").strip()
        if text:
            return text
    except FileNotFoundError:
        pass
    made = f"inst_{uuid.uuid4().hex}"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip() or made
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(made + "\n")
    return made
