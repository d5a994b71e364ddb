"""`sf project deploy start` and `sf project deploy report`.

With --json the command is silent until it ends, like the real one. Without it, it prints the deploy id first and
then a progress line every ~0.3 s over the configured delay, flushed line by line, so the sidecar can stream a
long deploy to the human and read the structured result afterwards with `deploy report --job-id ID --json`.
Each deploy's final result is stored in the state under `deploys` at start, so a report works even after the
deploying process was killed (the org goes on deploying, as the real one does).
"""

from __future__ import annotations

import os
import time
from typing import Any

from . import deploy_results as results
from . import ids, orgs
from .components import deploy_seconds, record_deployed, resolve
from .context import Invocation, hang, print_garbage
from .errors import FakeSfError, failed_validation, flag_value_error
from .tables import table

TICK_SECONDS = 0.3
MAX_STORED_DEPLOYS = 100


def project_deploy_start(inv: Invocation) -> int:
    """Deploy the source dirs to the target org, succeeding or failing as the scenario says."""
    assert inv.target is not None
    org = inv.target
    dirs = inv.args.get("source-dir") or _default_source_dirs()
    for path in dirs:
        if not os.path.exists(path):
            raise flag_value_error("source-dir", f"No file or directory found at {path}")
    components = resolve(dirs)
    if not components:
        raise FakeSfError(
            "NothingToDeploy",
            "No local changes to deploy.",
            1,
            actions=[
                (
                    'To see conflicts and ignored files, run "sf project deploy preview" with any of the manifest, '
                    "directory, or metadata flags."
                )
            ],
        )
    inv.delay = deploy_seconds(inv.state, len(components), inv.delay)
    deploy_id = ids.new_id("0Af")
    started_at = time.time()
    started = orgs.iso_now()
    hanging = inv.scenario == "hang"
    final = results.final_result(
        deploy_id, components, inv.scenario, org["instanceUrl"], started, _iso_at(started_at + inv.delay)
    )
    total = final["numberComponentsTotal"]
    _record(inv, deploy_id, org, started_at, None if hanging else started_at + inv.delay, final)
    if not hanging:
        record_deployed(inv.store, org, components, final)

    if inv.args.get("async"):
        queued = results.running_result(deploy_id, total, 0, started, status="Queued")
        human = (
            f"Deploy ID: {deploy_id}\nDeploy has been queued.\n"
            f'Run "sf project deploy resume --job-id {deploy_id}" to resume watching the deploy.\n'
            f'Run "sf project deploy report --job-id {deploy_id}" to get the latest status.'
        )
        return inv.finish(queued, human=human)

    inv.say(f"Deploying v{orgs.API_VERSION} metadata to {org['username']} using the v{orgs.API_VERSION} SOAP API.")
    inv.say(f"Deploy ID: {deploy_id}")
    if inv.scenario == "garbage":
        return print_garbage(inv.json)
    inv.say("Status: In Progress")
    if hanging:
        _progress(inv, total, min(inv.delay, 1.0))
        hang()
    wait_seconds = inv.args.get("wait") * 60
    _progress(inv, total, min(inv.delay, wait_seconds))
    if inv.delay > wait_seconds:
        deployed = int(total * wait_seconds / inv.delay) if inv.delay else 0
        running = results.running_result(deploy_id, total, deployed, started)
        human = (
            f"\nStatus: In Progress\nDeploy ID: {deploy_id}\n"
            "The command has timed out, although it's still running. To check the status, run "
            f'"sf project deploy report --job-id {deploy_id}".'
        )
        return inv.finish(running, status=69, human=human)
    status = results.exit_code_for(final["status"])
    return inv.finish(final, status=status, human=_human_final(final, org["username"], time.time() - started_at))


def project_deploy_report(inv: Invocation) -> int:
    """The stored result of an earlier deploy: final once its time has passed, else still in progress; exit 0
    either way, like the real command."""
    deploys: dict[str, Any] = inv.state.get("deploys") or {}
    job_id = inv.args.get("job-id")
    if not job_id and inv.args.get("use-most-recent"):
        job_id = max(deploys, key=lambda k: deploys[k].get("startedAt", 0), default=None)
        if job_id is None:
            raise FakeSfError("NoRecentJobIdError", "There are no recent job IDs available.", 1)
    if not job_id:
        raise failed_validation(["Exactly one of the following must be provided: --job-id, --use-most-recent"])
    record = deploys.get(job_id)
    if record is None:
        raise FakeSfError("InvalidJobIdError", f"No job found for ID: {job_id}.", 1)
    finish_at = record.get("finishAt")
    wait = inv.args.get("wait")
    if wait and finish_at is not None:
        inv.sleep(min(max(0.0, finish_at - time.time()), wait * 60))
    inv.sleep(inv.delay)
    final = record["result"]
    if finish_at is None or time.time() < finish_at:
        total = final.get("numberComponentsTotal", 0)
        elapsed = time.time() - record.get("startedAt", time.time())
        span = (finish_at - record.get("startedAt", 0)) if finish_at else 0
        deployed = int(total * min(1.0, elapsed / span)) if span > 0 else 0
        running = results.running_result(job_id, total, deployed, final.get("startDate", ""))
        # The real report exits 0 whatever the deploy's status: callers read result.status / result.success.
        return inv.finish(running, status=0, human=f"Status: In Progress\nDeploy ID: {job_id}")
    return inv.finish(final, status=0, human=_human_final(final, record.get("targetOrg", ""), None))


def _default_source_dirs() -> list[str]:
    if os.path.isdir("force-app"):
        return ["force-app"]
    raise FakeSfError(
        "InvalidProjectWorkspaceError", f"{os.getcwd()} does not contain a valid Salesforce DX project.", 1
    )


def _iso_at(epoch: float) -> str:
    stamp = time.gmtime(epoch)
    return time.strftime("%Y-%m-%dT%H:%M:%S", stamp) + f".{int(epoch * 1000) % 1000:03d}+0000"


def _record(
    inv: Invocation, deploy_id: str, org: dict[str, Any], started: float, finish_at: float | None, final: dict[str, Any]
) -> None:
    with inv.store.transaction() as state:
        deploys = state.setdefault("deploys", {})
        deploys[deploy_id] = {
            "targetOrg": org["username"],
            "startedAt": started,
            "finishAt": finish_at,
            "result": final,
        }
        for old in sorted(deploys, key=lambda k: deploys[k].get("startedAt", 0))[:-MAX_STORED_DEPLOYS]:
            del deploys[old]


def _progress(inv: Invocation, total: int, seconds: float) -> None:
    """Spread component progress lines over `seconds` (none with --json: the command only sleeps)."""
    if seconds <= 0:
        return
    if inv.json:
        inv.sleep(seconds)
        return
    ticks = max(1, int(seconds / TICK_SECONDS))
    for tick in range(1, ticks + 1):
        inv.sleep(seconds / ticks)
        done = min(total, int(total * tick / (ticks + 1)))
        percent = round(100 * done / total) if total else 0
        inv.say(f"Deploying Metadata... Components: {done}/{total} ({percent}%)")


def _human_final(result: dict[str, Any], username: str, elapsed: float | None) -> str:
    total = result["numberComponentsTotal"]
    deployed = result["numberComponentsDeployed"]
    percent = round(100 * deployed / total) if total else 0
    text = f"Deploying Metadata... Components: {deployed}/{total} ({percent}%)\n" if elapsed is not None else ""
    text += f"\nStatus: {result['status']}\nDeploy ID: {result['id']}\nTarget Org: {username}\n"
    if elapsed is not None:
        text += f"Elapsed Time: {elapsed:.2f}s\n"
    failures = results.failure_rows(result)
    if failures:
        text += f"\nComponent Failures [{len(failures)}]\n" + table(
            [("type", "Type"), ("name", "Name"), ("problem", "Problem"), ("loc", "Line:Column")], failures
        )
    deployed_files = [f for f in result.get("files") or [] if f.get("state") != "Failed"]
    if deployed_files:
        rows = [
            {
                "state": f["state"],
                "name": f["fullName"],
                "type": f["type"],
                "path": os.path.relpath(f["filePath"]) if os.path.isabs(f["filePath"]) else f["filePath"],
            }
            for f in deployed_files
        ]
        text += "\nDeployed Source\n" + table(
            [("state", "State"), ("name", "Name"), ("type", "Type"), ("path", "Path")], rows
        )
    return text
