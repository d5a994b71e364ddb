"""The two CLI calls that end an org's life outside the pool: delete it in the Dev Hub, forget it in the CLI.

`sf org delete scratch --target-org <alias> --no-prompt --json` frees the org's Dev Hub slot (without
`--no-prompt` the CLI waits on a prompt and deletes nothing); an org the Dev Hub no longer has (expired, deleted by
hand) comes back as success from the CLI, or as `ScratchOrgNotFound`: both mean "gone". `sf org logout --target-org
<alias> --no-prompt --json` drops an expired org's authorization, so `sf org list` stays short.
"""

from __future__ import annotations

import logging

from sidecar.errors import SfFailed
from sidecar.sf.client import SfClient

log = logging.getLogger(__name__)

DELETE_TIMEOUT_SECONDS = 300.0
LOGOUT_TIMEOUT_SECONDS = 120.0
# Error names that say the Dev Hub no longer has the org: it is as deleted as a successful delete leaves it.
GONE = frozenset({"ScratchOrgNotFound"})


class CliRemoteOrgs:
    def __init__(self, sf: SfClient) -> None:
        self._sf = sf

    async def delete_scratch(self, alias: str) -> None:
        """Delete the org in its Dev Hub; returns once the Dev Hub confirms, SfFailed/SfUnavailable otherwise."""
        try:
            await self._sf.run_json(
                ["org", "delete", "scratch", "--target-org", alias, "--no-prompt"], timeout=DELETE_TIMEOUT_SECONDS
            )
        except SfFailed as exc:
            if exc.data.get("name") in GONE or exc.data.get("code") in GONE:
                log.info("scratch org %s was already gone from the Dev Hub", alias)
                return
            raise

    async def logout(self, alias: str) -> None:
        """Best effort: an org the CLI no longer knows is already what we want."""
        try:
            await self._sf.run_json(
                ["org", "logout", "--target-org", alias, "--no-prompt"], timeout=LOGOUT_TIMEOUT_SECONDS
            )
        except Exception as exc:
            log.warning("could not log out of expired scratch org %s: %s", alias, getattr(exc, "message", exc))
