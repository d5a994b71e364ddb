"""`sf:run`: an agent's tools reach an org only through here, and only the org that agent holds.

The command line is checked before anything runs: every target (`--target-org`, `-o`, the legacy
`--targetusername`/`-u`, in any spelling `--flag value`, `--flag=value`, `-ovalue`) must name the agent's own org;
a Dev Hub flag, and commands that create, delete, log in or out of orgs or change aliases, CLI config or plugins,
are refused. `--target-org <alias>` is added when no target is given. Output streams to the agent's terminal
pane, masked; with `--json` the parsed document comes back masked too (an access token would let an agent
bypass the sidecar).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio

from sidecar.errors import AccessDenied, Cancelled, InvalidParams
from sidecar.pool.models import ScratchOrg
from sidecar.pool.service import PoolService, check_agent_id
from sidecar.provisioning.masking import mask_value
from sidecar.provisioning.models import SfRunResult
from sidecar.provisioning.terminal import Terminal
from sidecar.settings import SettingsStore
from sidecar.sf.client import SfClient

log = logging.getLogger(__name__)

MAX_ARGS = 200
MAX_ARG_LENGTH = 8192

TARGET_FLAGS = ("--target-org", "--targetusername")
TARGET_SHORT = ("-o", "-u")
HUB_FLAGS = ("--target-dev-hub", "--targetdevhubusername", "--target-hub")
HUB_SHORT = ("-v",)

# Command word prefixes an agent may not run (after `force:`/colon spellings are normalized to words).
REFUSED = (
    (("org", "create"), "creates orgs"),
    (("org", "delete"), "deletes orgs"),
    (("org", "resume"), "creates orgs"),
    (("org", "refresh"), "recreates orgs"),
    (("org", "clone"), "creates orgs"),
    (("org", "login"), "logs in to orgs"),
    (("org", "logout"), "logs out of orgs"),
    (("login",), "logs in to orgs"),
    (("logout",), "logs out of orgs"),
    (("auth",), "logs in to orgs"),
    (("env",), "creates, deletes or logs in to environments"),
    (("alias",), "changes aliases"),
    (("config",), "changes the CLI's config"),
    (("plugins",), "changes the CLI itself"),
    (("update",), "changes the CLI itself"),
)
ALLOWED_EXCEPTIONS = (("org", "create", "user"),)  # creates a user in the agent's own org, not an org

Emit = Callable[[str, str, str], Awaitable[None]]  # (agent id, stream, text)


def command_words(args: list[str]) -> list[str]:
    words: list[str] = []
    for token in args:
        if token.startswith("-"):
            break
        words.extend(part for part in token.split(":") if part)
    if words[:1] == ["force"]:
        words = words[1:]
    return [w.lower() for w in words]


def _flag_value(args: list[str], index: int, flag: str, inline: str | None) -> tuple[str, int]:
    """The value of the flag at `index`, written in it (`--flag=value`, `-ovalue`) or as the next argument; and
    the index of the last argument it used."""
    if inline is not None:
        return inline, index
    if index + 1 < len(args):
        return args[index + 1], index + 1
    raise InvalidParams(f"{flag} needs a value", param="args")


def plan_argv(args: list[str], org: ScratchOrg) -> tuple[list[str], list[str]]:
    """The argv to run (target added when absent) and the targets named; raises on anything not allowed."""
    if not args:
        raise InvalidParams(
            'args must name an sf command, for example ["data", "query", "--query", "..."]', param="args"
        )
    if len(args) > MAX_ARGS or any(len(a) > MAX_ARG_LENGTH or "\x00" in a for a in args):
        raise InvalidParams(f"args: at most {MAX_ARGS} arguments of {MAX_ARG_LENGTH} characters, no NUL", param="args")
    if args[0].startswith("-"):
        raise InvalidParams("args must start with the command (for example \"data\"), not a flag", param="args")
    words = command_words(args)
    for prefix, why in REFUSED:
        if tuple(words[: len(prefix)]) == prefix and not any(
            tuple(words[: len(allowed)]) == allowed for allowed in ALLOWED_EXCEPTIONS
        ):
            raise AccessDenied(
                f"`sf {' '.join(words)}` {why}: agents may not run it (the sidecar manages orgs, aliases and config)",
                command=" ".join(words),
            )
    targets: list[str] = []
    index = 0
    while index < len(args):
        token = args[index]
        name = token.split("=", 1)[0]
        if name in HUB_FLAGS or any(token.startswith(s) for s in HUB_SHORT) or name.startswith("--target-dev"):
            raise AccessDenied(f"{name}: agents may not address the Dev Hub", flag=name)
        if name in TARGET_FLAGS:
            value, index = _flag_value(args, index, token, token.split("=", 1)[1] if "=" in token else None)
            targets.append(value)
        elif any(token.startswith(s) for s in TARGET_SHORT):
            rest = token[2:]
            inline = (rest[1:] if rest.startswith("=") else rest) if rest else None
            value, index = _flag_value(args, index, token[:2], inline)
            targets.append(value)
        index += 1
    argv = list(args)
    if not targets:
        argv += ["--target-org", org.alias]
    return argv, targets


class SfRunner:
    def __init__(self, pool: PoolService, sf: SfClient, settings: SettingsStore, emit: Emit,
                 worktree_of: Callable[[str], Awaitable[Path | None]]) -> None:
        self._pool = pool
        self._sf = sf
        self._settings = settings
        self._emit = emit
        self._worktree_of = worktree_of
        self._scopes: dict[str, set[anyio.CancelScope]] = {}

    async def run(self, agent_id: str, args: list[str]) -> SfRunResult:
        check_agent_id(agent_id)
        org = await self._pool.lease_of(agent_id)
        if org is None:
            raise AccessDenied(
                f"agent {agent_id!r} holds no org: it may run sf only against its own org", agentId=agent_id
            )
        argv, targets = plan_argv(args, org)
        for target in targets:
            await self._pool.check_access(agent_id, target)  # ACCESS_DENIED for anything but its own org
        json_mode = "--json" in argv
        cwd = await self._worktree_of(agent_id)
        terminal = Terminal(lambda stream, text: self._emit(agent_id, stream, text))
        section = terminal.section()
        scope = anyio.CancelScope()
        self._scopes.setdefault(agent_id, set()).add(scope)
        timeout = self._settings.current.org_pool.stepTimeoutMinutes * 60
        try:
            with scope:
                done = await self._sf.run(argv, sink=section.write, capture_stdout=json_mode, timeout=timeout, cwd=cwd)
                document = None
                if json_mode:
                    text = done.stdout.decode("utf-8", errors="replace")
                    try:
                        document = mask_value(json.loads(text))
                    except ValueError:
                        document = None
                    await section.write("stdout", text if text.endswith("\n") or not text else text + "\n")
                return SfRunResult(exit_code=done.exit_code, result=document)
            raise Cancelled(f"sf:run for agent {agent_id!r} was cancelled: the agent was stopped", agentId=agent_id)
        finally:
            with anyio.CancelScope(shield=True):
                await section.close()
            scopes = self._scopes.get(agent_id)
            if scopes is not None:
                scopes.discard(scope)
                if not scopes:
                    del self._scopes[agent_id]

    def stop(self, agent_id: str) -> None:
        for scope in self._scopes.get(agent_id, set()):
            scope.cancel()
