"""Provisioning's shapes; the wire ones (camelCase) are what `agent:provision`, `sf:run` and the notifications carry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import StrictStr

from sidecar.pool.models import ScratchOrg
from sidecar.wiremodel import WireModel


class AgentStatus(StrEnum):
    PROVISIONING = "PROVISIONING"
    QUEUED = "QUEUED"
    QA_READY = "QA_READY"
    ERROR = "ERROR"


class StepStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"
    WARNING = "warning"


class RunState(StrEnum):
    RUNNING = "running"
    QUEUED = "queued"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


class QueueReason(StrEnum):
    CAPACITY = "capacity"  # the pool is at maxOrgs and nothing is available
    DEVHUB_LIMIT = "devhub-limit"  # the Dev Hub refused a new org (LIMIT_EXCEEDED); retried with backoff


# Queue entries and run records extend it: a client sees what was asked beside what became of it.
class ProvisionConfig(WireModel):
    """The seed's config object, as `ipcRenderer.invoke('agent:provision', config)` passes it."""

    agent_id: StrictStr
    org_alias: StrictStr
    branch_name: StrictStr
    worktree_path: StrictStr


class StepReport(WireModel):
    name: str
    status: StepStatus
    duration_ms: int


class ProvisionResult(WireModel):
    success: bool
    login_url: str | None = None
    org: ScratchOrg | None = None
    errors: list[str]
    warnings: list[str]
    queued: bool = False
    steps: list[StepReport]


class AgentStatusEvent(WireModel):
    agent_id: str
    status: AgentStatus
    step: str | None = None
    errors: list[str]
    warnings: list[str]


class TerminalOutput(WireModel):
    agent_id: str
    stream: Literal["stdout", "stderr"]
    data: str


class QueueEntry(ProvisionConfig):
    position: int  # 1 = the head, the next agent to get an org
    reason: QueueReason
    attempts: int
    retry_at: datetime | None = None
    queued_at: datetime
    last_error: str | None = None


class RunRecord(ProvisionConfig):
    run_id: str
    org_id: str | None = None
    state: RunState
    step: str | None = None
    errors: list[str]
    warnings: list[str]
    steps: list[StepReport]
    started_at: datetime
    ended_at: datetime | None = None


class LoginUrl(WireModel):
    login_url: str
    org: ScratchOrg


class SfRunParams(WireModel):
    agent_id: StrictStr
    args: list[StrictStr]


class SfRunResult(WireModel):
    exit_code: int
    # The signal that ended the command ("SIGKILL"), when one did; exitCode is then minus its number.
    signal: str | None = None
    # The parsed JSON document the CLI printed when `--json` was asked (secrets masked), else null.
    result: Any = None


# -- what provisioning publishes (sidecar.events.Listeners); the handlers' notifications module names them ---------


@dataclass(frozen=True)
class RunStatusChanged:
    """An agent's provisioning status changed (errors and warnings already masked)."""

    agent_id: str
    status: AgentStatus
    step: str | None
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class TerminalChunk:
    """Output of a command run for an agent, already masked, in order within its stream."""

    agent_id: str
    stream: Literal["stdout", "stderr"]
    text: str


ProvisioningEvent = RunStatusChanged | TerminalChunk
