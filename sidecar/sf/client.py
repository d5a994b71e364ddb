"""`sf` as the sidecar uses it: located per the current settings, run with a quiet environment, JSON parsed.

Commands that write the CLI's own state (org create/delete, aliases, config) are serialized behind one lock: the
real CLI loses aliases and hits lock-file errors when two of them overlap on one home directory.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import anyio

from sidecar.errors import SfFailed, SfUnavailable, StepTimeout
from sidecar.sf.envelope import Envelope, parse_envelope
from sidecar.sf.process import CaptureTooLarge, Completed, OutputSink, run_process

QUIET_ENV = {
    "SF_DISABLE_TELEMETRY": "true",
    "SF_AUTOUPDATE_DISABLE": "true",
    "SF_SKIP_NEW_VERSION_CHECK": "true",
    "SF_USE_PROGRESS_BAR": "false",
    "SF_CONTAINER_MODE": "true",
    "FORCE_COLOR": "0",
}

# What an agent's command must not inherit from the sidecar's environment: the CLI reads its config (target-org,
# target-dev-hub, instance URL, access tokens...) from SF_* and SFDX_* variables, which would redirect it. The
# sidecar's own quiet settings are set again on purpose; the fake's SF_FAKE_* test variables pass (the real CLI
# ignores them).
CONFIG_ENV_PREFIXES = ("SF_", "SFDX_")
KEPT_ENV_PREFIXES = ("SF_FAKE_",)


def agent_env(env: dict[str, str]) -> dict[str, str]:
    """`env` without the CLI config variables an agent's command could be redirected by."""
    kept = {
        k: v
        for k, v in env.items()
        if not k.upper().startswith(CONFIG_ENV_PREFIXES) or k.upper().startswith(KEPT_ENV_PREFIXES)
    }
    return {**kept, **QUIET_ENV}


ORG_LIST_ARGS = ["org", "list"]  # without --all: only Active scratch orgs (see sidecar/pool/discovery.py)

STATE_WRITING_COMMANDS = (
    ("org", "create", "scratch"),
    ("org", "resume", "scratch"),  # authorizes the org and sets its alias when the signup is done
    ("org", "delete"),
    ("alias",),
    ("config",),
    ("org", "login"),
    ("org", "logout"),
)


def locate_sf(configured: str | None) -> Path:
    """`orgPool.sfPath` when set (a path or a command name), else `sf` on PATH."""
    candidate = os.path.expanduser(configured) if configured else "sf"
    if os.sep in candidate:
        path = Path(candidate)
        if path.is_file() and os.access(path, os.X_OK):
            return path.resolve()
        raise SfUnavailable(f"orgPool.sfPath {configured!r} is not an executable file", path=str(configured))
    found = shutil.which(candidate)
    if found is None:
        raise SfUnavailable(
            f"the Salesforce CLI ({candidate!r}) is not on PATH: install @salesforce/cli or set orgPool.sfPath",
            path=candidate,
        )
    return Path(found)


def writes_cli_state(args: Sequence[str]) -> bool:
    words = tuple(a for a in args if not a.startswith("-"))
    return any(words[: len(prefix)] == prefix for prefix in STATE_WRITING_COMMANDS)


class SfClient:
    def __init__(self, configured_path: Callable[[], str | None], env: dict[str, str] | None = None) -> None:
        self._configured_path = configured_path
        self._env = {**os.environ, **QUIET_ENV, **(env or {})}
        self._state_lock = anyio.Lock()

    def path(self) -> Path:
        return locate_sf(self._configured_path())

    async def run(
        self,
        args: Sequence[str],
        *,
        sink: OutputSink | None = None,
        capture_stdout: bool = False,
        timeout: float | None = None,  # noqa: ASYNC109 - the command's budget: past it its process group is killed
        cwd: Path | None = None,
        echo: bool = True,
        for_agent: bool = False,
    ) -> Completed:
        """Run `sf <args>`; with a sink, echo the command line first, as a terminal would. `for_agent`: an
        agent's command (sf:run), whose environment carries none of the CLI config variables (see agent_env)."""
        argv = [str(self.path()), *args]
        env = agent_env(self._env) if for_agent else self._env
        if sink is not None and echo:
            await sink("stdout", "$ " + shlex.join(["sf", *args]) + "\n")
        try:
            if writes_cli_state(args):
                async with self._state_lock:
                    return await run_process(
                        argv, env=env, cwd=cwd, sink=sink, capture_stdout=capture_stdout, timeout=timeout
                    )
            return await run_process(argv, env=env, cwd=cwd, sink=sink, capture_stdout=capture_stdout, timeout=timeout)
        except CaptureTooLarge as exc:
            raise SfFailed(
                f"`sf {' '.join(args[:3])}` {exc} and was stopped: no sf document is that large",
                name="OutputTooLarge",
                limitBytes=exc.limit,
            ) from None
        except TimeoutError:
            raise StepTimeout(
                f"`sf {' '.join(args[:3])}` did not finish within {timeout:.0f} s and was stopped"
            ) from None
        except (FileNotFoundError, PermissionError) as exc:
            raise SfUnavailable(f"could not start the Salesforce CLI at {argv[0]}: {exc}", path=argv[0]) from None

    async def run_json(
        self,
        args: Sequence[str],
        *,
        sink: OutputSink | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the command's budget: past it its process group is killed
        cwd: Path | None = None,
    ) -> Envelope:
        """Run with `--json` and parse stdout; stderr (update notices and the like) goes to the sink only."""
        completed = await self.run([*args, "--json"], sink=sink, capture_stdout=True, timeout=timeout, cwd=cwd)
        command = " ".join(a for a in args if not a.startswith("-"))[:60]
        if completed.signal_name is not None:
            # Whatever it printed before dying is a fragment; the signal is the news.
            raise SfFailed(
                f"`sf {command}` was killed by {completed.signal_name} before it finished",
                name="KilledBySignal",
                signal=completed.signal_name,
                exitCode=completed.exit_code,
            )
        return parse_envelope(completed.stdout, completed.exit_code, command)

    async def org_list(self, timeout: float) -> object:  # noqa: ASYNC109 - the step's budget: past it the process group is killed
        """The `result` of `sf org list --json`: what discovery reconciles the pool with. `timeout` is the step
        timeout of the settings (orgPool.stepTimeoutMinutes), as for every other step."""
        return (await self.run_json(ORG_LIST_ARGS, timeout=timeout)).result
