"""The run lifecycle, declared once: which verb moves a run from which state to which, and what each state means
for the agent's status.

    (new) ──start──▶ running ──park──▶ queued ──resume──▶ running
                     running ──progress──▶ running (the step it is at, the org it got)
                     running ──finish──▶ succeeded | failed | cancelled
                     queued  ──finish──▶ failed | cancelled (it left the queue without running again)
          running | queued ──interrupt──▶ interrupted (its sidecar is provably gone, see owner.py)

succeeded, failed, cancelled and interrupted are final. The store's verbs (store.py) update a run only from the
states this table allows (`UPDATE ... WHERE state IN (...)`, so a peer sidecar's change in between is seen, not
overwritten) and raise `RunStateConflict` otherwise.
"""

from __future__ import annotations

from enum import StrEnum

from sidecar.provisioning.models import AgentStatus, RunState


class RunVerb(StrEnum):
    START = "start"
    PROGRESS = "progress"
    PARK = "park"
    RESUME = "resume"
    FINISH = "finish"
    INTERRUPT = "interrupt"


S = RunState
# (state before, verb) -> the states the verb may leave the run in. `None` is "no such run yet".
TRANSITIONS: dict[tuple[RunState | None, RunVerb], frozenset[RunState]] = {
    (None, RunVerb.START): frozenset({S.RUNNING}),
    (S.RUNNING, RunVerb.PROGRESS): frozenset({S.RUNNING}),
    (S.RUNNING, RunVerb.PARK): frozenset({S.QUEUED}),
    (S.QUEUED, RunVerb.RESUME): frozenset({S.RUNNING}),
    (S.RUNNING, RunVerb.FINISH): frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED}),
    (S.QUEUED, RunVerb.FINISH): frozenset({S.FAILED, S.CANCELLED}),
    (S.RUNNING, RunVerb.INTERRUPT): frozenset({S.INTERRUPTED}),
    (S.QUEUED, RunVerb.INTERRUPT): frozenset({S.INTERRUPTED}),
}

LIVE = frozenset({S.RUNNING, S.QUEUED})
FINAL = frozenset(RunState) - LIVE

# What a run in each state tells the agent's pane (`agent:status`).
AGENT_STATUS: dict[RunState, AgentStatus] = {
    S.RUNNING: AgentStatus.PROVISIONING,
    S.QUEUED: AgentStatus.QUEUED,
    S.SUCCEEDED: AgentStatus.QA_READY,
    S.FAILED: AgentStatus.ERROR,
    S.CANCELLED: AgentStatus.ERROR,
    S.INTERRUPTED: AgentStatus.ERROR,
}


class RunStateConflict(Exception):
    """A lifecycle verb found the run in a state it does not move from (or no run at all).

    Usually another actor got there first: a peer sidecar interrupted a run whose heartbeat it judged stale, or a
    stop took a run out of the queue. The caller decides whether that is news or a bug.
    """

    def __init__(self, run_id: str, verb: RunVerb, expected: tuple[RunState, ...], found: RunState | None) -> None:
        wanted = " or ".join(s.value for s in expected) or "no run"
        super().__init__(
            f"cannot {verb.value} provisioning run {run_id}: it is {found.value if found else 'absent'}, not {wanted}"
        )
        self.run_id = run_id
        self.verb = verb
        self.expected = expected
        self.found = found


def sources(verb: RunVerb, target: RunState) -> tuple[RunState, ...]:
    """The states `verb` may move a run from into `target`, in the table's order; ValueError when none may."""
    found = tuple(
        state for (state, v), targets in TRANSITIONS.items() if v is verb and target in targets and state is not None
    )
    if not found and (None, verb) not in TRANSITIONS:
        raise ValueError(f"{verb.value} never leaves a run {target.value}")
    return found


def status_of(state: RunState) -> AgentStatus:
    return AGENT_STATUS[state]
