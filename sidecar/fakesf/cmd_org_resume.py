"""`sf org resume scratch`: finish a signup that `org create scratch` left under way (`--async`, or exit 69).

As in plugin-org and @salesforce/core (`scratchOrgResume`, `validateScratchOrgInfoForResume`): the job must be in
this CLI's cache (the state's `signups`), else `CacheMissError` (or `JobIdMismatchError` when other jobs are
cached); a signup still `New`/`Creating` gives `StillInProgressError` with `--wait 0` (the default) and
`ScratchOrgResumeTimeOutError` when a longer `--wait` runs out, both exit 1, the job kept for a later resume; a
signup that ended in error gives `RemoteOrgSignupFailed`; a finished one is authorized (alias, default) and
returns the same result as a creation, the job leaving the cache. A signup whose settings did not deploy leaves an
authorized org and exits 68 (`ProblemDeployingSettings`).
"""

from __future__ import annotations

import time
from typing import Any

from .cmd_org_create import add_org, ready_text, release_active, result_of, settings_failed, signup_failed
from .context import Invocation
from .errors import FakeSfError, failed_validation, flag_value_error

STILL_IN_PROGRESS_ACTIONS = ["Increase the --wait time because creating a scratch org can take a while."]


def org_resume_scratch(inv: Invocation) -> int:
    """Resume the job named by --job-id (or the most recent one): wait up to --wait minutes, then finish it."""
    args = inv.args
    job_id = args.get("job-id")
    most_recent = bool(args.get("use-most-recent"))
    if bool(job_id) == most_recent:
        raise failed_validation(["Exactly one of the following must be provided: --job-id, --use-most-recent"])
    if job_id:
        _check_id(str(job_id))
    signups: dict[str, Any] = inv.state.get("signups") or {}
    if most_recent:
        if not signups:
            raise FakeSfError(
                "NoRecentJobIdError",
                "There are no recent job IDs (ScratchOrgInfo requests) in your cache. Maybe it completed or "
                "already resumed?",
                1,
            )
        job_id = max(signups, key=lambda key: float(signups[key].get("requestedAt") or 0))
    signup = _cached(signups, str(job_id))
    wait_seconds = int(args.get("wait")) * 60
    remaining = float(signup.get("readyAt") or 0) - time.time()
    if inv.scenario == "timeout" or remaining > wait_seconds:
        # Still New/Creating when this call's wait ends ("timeout" plays a wait that has already run out).
        if wait_seconds == 0:
            raise FakeSfError(
                "StillInProgressError",
                "The scratch org isn't ready yet (Status = Creating).",
                1,
                actions=STILL_IN_PROGRESS_ACTIONS,
            )
        if inv.scenario != "timeout":
            inv.sleep(wait_seconds)
        raise FakeSfError("ScratchOrgResumeTimeOutError", "The client has timed out. (Last known Status: Creating)", 1)
    inv.say(f"Resuming Scratch Org\nRequest Id: {job_id}")
    inv.sleep(max(0.0, remaining) + inv.delay)
    with inv.store.transaction() as state:
        taken = (state.get("signups") or {}).pop(str(job_id), None)
        if taken is None:  # another resume finished it meanwhile
            raise _cache_miss(str(job_id), state.get("signups") or {})
        if taken.get("outcome") == "failed":
            release_active(state)
    if taken.get("outcome") == "failed":
        raise signup_failed()
    org = dict(taken["org"])
    add_org(inv, org)  # the definition's warnings were said by the create; a resume does not read it again
    if taken.get("outcome") == "settings-failed":
        raise settings_failed(org["username"])
    result = result_of(org, str(job_id), int(taken.get("durationDays") or 7), dict(taken.get("definition") or {}))
    result["warnings"] = []  # core's scratchOrgResume returns none
    return inv.finish(result, human=ready_text(org))


def _check_id(value: str) -> None:
    """sf-plugins-core's salesforceId flag with `length: 'both'` and `startsWith: '2SR'` (exit 2)."""
    if len(value) not in (15, 18):
        raise flag_value_error("job-id", "The id must be 15 or 18 characters.")
    if not value.isalnum():
        raise flag_value_error("job-id", "The id is invalid.")
    if not value.startswith("2SR"):
        raise flag_value_error("job-id", "The id must begin with 2SR.")


def _cached(signups: dict[str, Any], job_id: str) -> dict[str, Any]:
    found = signups.get(job_id)
    if not isinstance(found, dict):
        raise _cache_miss(job_id, signups)
    return found


def _cache_miss(job_id: str, signups: dict[str, Any]) -> FakeSfError:
    if signups:  # something is cached, but not this job
        return FakeSfError(
            "JobIdMismatchError",
            f"There are no recent job IDs (ScratchOrgInfo requests) in your cache that match {job_id}. Maybe it "
            "completed?",
            1,
        )
    return FakeSfError("CacheMissError", f"The ScratchOrgInfoId {job_id} was not found in the cache.", 1)
