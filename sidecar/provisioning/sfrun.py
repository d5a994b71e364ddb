"""`sf:run`: an agent's tools reach an org only through here, and only the org that agent holds.

The command line is read the way the real CLI reads it (sidecar/sf/grammar.py, from the CLI's own manifests), so
no spelling gets past: flexible taxonomy (`sf delete org scratch`), aliases (`sf env create scratch`), `force:`
ids, `-ovalue`, `--target-org=value`, legacy `-u`/`--targetusername`. The resolved command must be on ALLOWED (a
deliberate list, documented in protocol.md); the resolved `target-org` must be the agent's own org, and is added
only to commands that take it. `--flags-dir` (a folder of flag values the CLI reads), `--` (after which the CLI
stops reading flags), flags that name another org (a Dev Hub) and any line the CLI's parser would refuse are
refused before anything runs. The command's environment carries none of the sidecar's CLI config variables.

A command still running when its agent's lease ends (released, completed, removed, expired) is stopped, like a
provisioning run; at most `orgPool.sfRunConcurrency` run at once per agent. Output streams to the agent's pane,
masked; with `--json` the parsed document comes back masked too (an access token would outlive the lease).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import anyio

from sidecar.errors import AccessDenied, Cancelled, CapacityReached, InvalidParams
from sidecar.pool.models import ChangeReason, ScratchOrg
from sidecar.pool.service import PoolChange, PoolService, check_agent_id
from sidecar.provisioning.masking import mask_value
from sidecar.provisioning.models import SfRunResult
from sidecar.provisioning.terminal import Terminal
from sidecar.settings import SettingsStore
from sidecar.sf import grammar
from sidecar.sf.client import SfClient

log = logging.getLogger(__name__)

MAX_ARGS = 200
MAX_ARG_LENGTH = 8192

# The command ids an agent may run, against its own org or on local files only. Left out on purpose: everything
# that creates, deletes, resumes, refreshes, logs in to or out of orgs; what prints or makes credentials that would
# outlive the lease (org display, org display user, org open, org auth show-*, org generate password, org create
# user, which can set a password); what reads or changes the machine's CLI state (org list, alias, config, org
# enable/disable tracking, plugins, update, autocomplete, doctor); packages and the Dev Hub; `resume` commands that
# take no target-org (they continue any job in the CLI's cache, whatever its org); raw API requests; agent
# commands; JIT plugins (running one installs it).
ALLOWED: frozenset[str] = frozenset(
    {
        # deploy and retrieve
        "project:deploy:start", "project:deploy:validate", "project:deploy:report", "project:deploy:cancel",
        "project:deploy:quick", "project:deploy:preview", "project:retrieve:start", "project:retrieve:preview",
        "project:delete:source", "project:delete:tracking", "project:reset:tracking", "project:list:ignored",
        # local project files
        "project:generate:manifest", "project:convert:source", "project:convert:mdapi",
        "project:convert:source-behavior",
        # data in its own org
        "data:query", "data:search", "data:get:record", "data:create:record", "data:update:record",
        "data:delete:record", "data:create:file", "data:import:tree", "data:export:tree", "data:import:bulk",
        "data:export:bulk", "data:upsert:bulk", "data:upsert:resume", "data:update:bulk", "data:delete:bulk",
        "data:delete:resume", "data:bulk:results", "data:resume",
        # apex and tests
        "apex:run", "apex:run:test", "apex:get:test", "apex:get:log", "apex:list:log", "apex:tail:log",
        "logic:run:test", "logic:get:test",
        # reading its own org
        "sobject:describe", "sobject:list", "org:list:limits", "org:list:metadata", "org:list:metadata-types",
        "org:list:sobject:record-counts",
        # permissions in its own org
        "org:assign:permset", "org:assign:permsetlicense",
        # local generators
        "schema:generate:field", "schema:generate:platformevent", "schema:generate:sobject", "schema:generate:tab",
        "template:generate:analytics:template", "template:generate:apex:class", "template:generate:apex:trigger",
        "template:generate:digital-experience:site", "template:generate:flexipage",
        "template:generate:lightning:app", "template:generate:lightning:component",
        "template:generate:lightning:event", "template:generate:lightning:interface",
        "template:generate:lightning:test", "template:generate:project", "template:generate:static-resource",
        "template:generate:visualforce:component", "template:generate:visualforce:page",
    }
)  # fmt: skip

TARGET_FLAG = "target-org"
# Flags of allowed commands that read or write configuration, or name an org that is not the target.
REFUSED_FLAGS = frozenset({"flags-dir", "target-dev-hub", "source-org", "from-org", "dev-hub-org"})

Emit = Callable[[str, str, str], Awaitable[None]]  # (agent id, stream, text)


@dataclass(frozen=True)
class Plan:
    """What runs: the argv (target added when absent), the command id it resolves to, the targets named."""

    argv: list[str]
    command_id: str
    targets: list[str] = field(default_factory=list)
    help_only: bool = False


@lru_cache(maxsize=1)
def _refused_spellings() -> frozenset[str]:
    """Every long spelling of a refused flag in any command (`--targetdevhubusername` too), refused even where the
    command lacks the flag: such a line is refused either way, and this way it says why."""
    names = set(REFUSED_FLAGS)
    for command in grammar.load().commands.values():
        for name, flag in command["flags"].items():
            if name in REFUSED_FLAGS:
                names.update(a for a in flag.get("aliases", []) if len(a) > 1)
    return frozenset(f"--{n}" for n in names)


def _shown(command_id: str) -> str:
    return command_id.replace(":", " ")


def plan_argv(args: list[str], org: ScratchOrg) -> Plan:
    """Read `args` as the real CLI would and decide; raises on anything not allowed, before anything runs."""
    if not args:
        raise InvalidParams(
            'args must name an sf command, for example ["data", "query", "--query", "..."]', param="args"
        )
    if len(args) > MAX_ARGS or any(len(a) > MAX_ARG_LENGTH or "\x00" in a for a in args):
        raise InvalidParams(f"args: at most {MAX_ARGS} arguments of {MAX_ARG_LENGTH} characters, no NUL", param="args")
    if args[0].startswith("-"):
        raise InvalidParams('args must start with the command (for example "data"), not a flag', param="args")
    if "--" in args:
        raise AccessDenied(
            "`--` is not allowed in sf:run: the CLI stops reading flags there, so the target check could not see them",
            flag="--",
        )
    spelled = next((a.split("=", 1)[0] for a in args if a.split("=", 1)[0] in _refused_spellings()), None)
    if spelled is not None:
        raise AccessDenied(
            f"{spelled} is not allowed in sf:run: it reads flags from files or names another org", flag=spelled
        )
    parsed = grammar.parse(args)
    if parsed.command_id is None and parsed.matches:
        # The CLI asks which of the matches is meant and runs the answer: refused unless none of them is refused.
        raise AccessDenied(
            f"`sf {_shown(parsed.typed_id or '')}` is not a complete command (it could be "
            f"{', '.join(_shown(m) for m in parsed.matches)}): name the whole command",
            command=_shown(parsed.typed_id or ""),
        )
    if parsed.command_id is None:
        error = parsed.errors[0].message if parsed.errors else "not a command"
        raise InvalidParams(f"args: {error}", param="args", command=(parsed.typed_id or "").replace(":", " "))
    command_id = parsed.command_id
    if command_id not in ALLOWED:
        raise AccessDenied(
            f"`sf {_shown(command_id)}` is not a command agents may run (sf:run allows deploy, retrieve, data, apex, "
            "tests, metadata reads and local generators against the agent's own org; see protocol.md)",
            command=_shown(command_id),
        )
    if parsed.action == "help":
        return Plan(list(args), command_id, help_only=True)
    refused = next((name for name, _, _ in parsed.tokens if name in REFUSED_FLAGS), None)
    if refused is None:
        refused = next((name for name in parsed.flags if name in REFUSED_FLAGS), None)
    if refused is not None:
        why = "reads flag values from files" if refused == "flags-dir" else "names an org other than the agent's own"
        raise AccessDenied(f"--{refused} {why}: agents may not use it", flag=f"--{refused}", command=_shown(command_id))
    if not parsed.ok:
        raise InvalidParams(
            f"the Salesforce CLI would refuse this line: {parsed.errors[0].message}",
            param="args",
            command=_shown(command_id),
        )
    takes_target = grammar.load().commands[command_id]["takesTargetOrg"]
    targets = [value for name, _, value in parsed.tokens if name == TARGET_FLAG and value is not None]
    argv = list(args)
    if takes_target and not targets:
        argv += ["--target-org", org.alias]
        again = grammar.parse(argv)  # the line that runs is read once more: it must name exactly the agent's org
        if not again.ok or again.flags.get(TARGET_FLAG) != org.alias:
            raise InvalidParams(
                "args: --target-org could not be added to this line", param="args", command=_shown(command_id)
            )
    return Plan(argv, command_id, targets)


@dataclass
class _Running:
    org_id: str
    scope: anyio.CancelScope
    stop_reason: str | None = None


class SfRunner:
    def __init__(
        self,
        pool: PoolService,
        sf: SfClient,
        settings: SettingsStore,
        emit: Emit,
        worktree_of: Callable[[str], Awaitable[Path | None]],
    ) -> None:
        self._pool = pool
        self._sf = sf
        self._settings = settings
        self._emit = emit
        self._worktree_of = worktree_of
        self._running: dict[str, list[_Running]] = {}
        pool.subscribe(self._on_pool_change)

    async def _on_pool_change(self, change: PoolChange) -> None:
        """A lease that ends stops the commands its agent still runs against that org (the next agent gets it)."""
        if change.reason not in (
            ChangeReason.RELEASED,
            ChangeReason.REMOVED,
            ChangeReason.EXPIRED,
            ChangeReason.REAPED,
        ):
            return
        for running in self._running.get(change.agent_id or "", []):
            if running.org_id == change.org.id and running.stop_reason is None:
                running.stop_reason = f"its lease on {change.org.alias} ended ({change.reason.value})"
                running.scope.cancel()

    async def run(self, agent_id: str, args: list[str]) -> SfRunResult:
        check_agent_id(agent_id)
        org = await self._pool.lease_of(agent_id)
        if org is None:
            raise AccessDenied(
                f"agent {agent_id!r} holds no org: it may run sf only against its own org", agentId=agent_id
            )
        plan = plan_argv(args, org)
        for target in plan.targets:
            await self._pool.check_access(agent_id, target)  # ACCESS_DENIED for anything but its own org
        limit = self._settings.current.org_pool.sfRunConcurrency
        running = self._running.setdefault(agent_id, [])
        if len(running) >= limit:
            raise CapacityReached(
                f"agent {agent_id!r} already runs {len(running)} sf commands (orgPool.sfRunConcurrency is {limit}): "
                "wait for one to finish",
                agentId=agent_id,
                limit=limit,
            )
        entry = _Running(org.id, anyio.CancelScope())
        running.append(entry)
        try:
            return await self._execute(agent_id, plan, entry)
        finally:
            running.remove(entry)
            if not running and self._running.get(agent_id) is running:
                del self._running[agent_id]

    async def _execute(self, agent_id: str, plan: Plan, entry: _Running) -> SfRunResult:
        argv = plan.argv
        json_mode = "--json" in argv
        cwd = await self._worktree_of(agent_id)
        terminal = Terminal(lambda stream, text: self._emit(agent_id, stream, text))
        section = terminal.section()
        timeout = self._settings.current.org_pool.stepTimeoutMinutes * 60
        try:
            with entry.scope:
                done = await self._sf.run(
                    argv, sink=section.write, capture_stdout=json_mode, timeout=timeout, cwd=cwd, for_agent=True
                )
                document = None
                if json_mode:
                    text = done.stdout.decode("utf-8", errors="replace")
                    try:
                        document = mask_value(json.loads(text))
                    except ValueError:
                        document = None
                    await section.write("stdout", text if text.endswith("\n") or not text else text + "\n")
                return SfRunResult(exit_code=done.exit_code, signal=done.signal_name, result=document)
            why = entry.stop_reason or "the agent was stopped"
            raise Cancelled(f"sf:run for agent {agent_id!r} was cancelled: {why}", agentId=agent_id)
        finally:
            with anyio.CancelScope(shield=True):
                await section.close()

    def stop(self, agent_id: str) -> None:
        for running in self._running.get(agent_id, []):
            running.stop_reason = running.stop_reason or "the agent was stopped"
            running.scope.cancel()
