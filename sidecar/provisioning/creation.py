"""Creating scratch orgs: the capacity reservation that keeps creations within maxOrgs, and the CLI call itself.

A creation takes minutes, and the pool only learns of the org when it is registered at the end. Without a
reservation, two agents (or an agent and the pre-warmer) could both see room for one more org, both create, and the
second would be refused at registration with a paid-for org in hand. So a creation first reserves a slot here:
orgs available or leased, plus creations in flight, never exceed maxOrgs. The pool's own capacity check at
registration stays the last word (another process may share the database).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import anyio

from sidecar.errors import AlreadyExists, CapacityReached, SfFailed
from sidecar.pool.models import ALIAS_PATTERN, Hydration, OrgSource, OrgStatus, ScratchOrg
from sidecar.pool.service import PoolService
from sidecar.pool.shapes import DefinitionError, Shape, shape_of_file
from sidecar.provisioning.masking import mask
from sidecar.settings import OrgPoolSettings
from sidecar.sf.client import SfClient
from sidecar.sf.process import OutputSink
from sidecar.timeutil import end_of_day

log = logging.getLogger(__name__)


class Reservation:
    def __init__(self, gate: CapacityGate) -> None:
        self._gate = gate
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._gate._release()


class CapacityGate:
    def __init__(self, pool: PoolService, on_release: Callable[[], None]) -> None:
        self._pool = pool
        self._on_release = on_release
        self._lock = anyio.Lock()
        self.in_flight = 0

    async def used(self) -> int:
        """Orgs that count against maxOrgs (available or leased), plus creations under way."""
        orgs = await self._pool.list_orgs()
        return sum(1 for o in orgs if o.status in (OrgStatus.AVAILABLE, OrgStatus.LEASED)) + self.in_flight

    async def reserve(self) -> Reservation | None:
        async with self._lock:
            if await self.used() >= self._pool.limits.max_orgs:
                return None
            self.in_flight += 1
            return Reservation(self)

    def _release(self) -> None:
        self.in_flight -= 1
        self._on_release()


class DevHubLimit(Exception):
    """The Dev Hub refused a new org (LIMIT_EXCEEDED): active or daily scratch org limit."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class CreatedOrg:
    alias: str
    username: str
    sf_org_id: str | None
    instance_url: str | None
    login_url: str | None
    expires_at: datetime | None


def definition_shape(definition_file: Path, settings: OrgPoolSettings) -> Shape | None:
    """The shape an org created from `definition_file` on orgPool.devHub has; None when the file gives none (it is
    missing or broken: the creation itself then fails and says why, and such a run asks for no particular shape)."""
    try:
        return shape_of_file(definition_file, settings.devHub)
    except DefinitionError as exc:
        log.info("no shape: %s", exc)
        return None


def create_args(settings: OrgPoolSettings, *, alias: str, definition_file: Path, duration_days: int) -> list[str]:
    args = [
        "org", "create", "scratch",
        "--definition-file", str(definition_file),
        "--alias", alias,
        "--duration-days", str(duration_days),
    ]  # fmt: skip
    if settings.devHub:
        if not ALIAS_PATTERN.fullmatch(settings.devHub):
            raise SfFailed(
                f"orgPool.devHub {settings.devHub!r} is not a valid alias or username", name="InvalidSetting"
            )
        args += ["--target-dev-hub", settings.devHub]
    # The CLI refuses a --wait below 2 minutes.
    return [*args, "--wait", str(max(2, settings.createWaitMinutes))]


def _expiry(result: dict[str, Any]) -> datetime | None:
    info = found if isinstance(found := result.get("scratchOrgInfo"), dict) else {}
    auth = found if isinstance(found := result.get("authFields"), dict) else {}
    for raw in (info.get("ExpirationDate"), auth.get("expirationDate")):
        if isinstance(raw, str) and raw:
            try:
                return end_of_day(date.fromisoformat(raw[:10]))
            except ValueError:
                continue
    return None


async def create_scratch_org(
    sf: SfClient,
    settings: OrgPoolSettings,
    *,
    alias: str,
    definition_file: Path,
    duration_days: int,
    cwd: Path,
    sink: OutputSink | None,
    timeout: float,  # noqa: ASYNC109 - the command's budget: past it its process group is killed
) -> CreatedOrg:
    """`sf org create scratch ... --json`; DevHubLimit on LIMIT_EXCEEDED, SfFailed on every other refusal."""
    args = create_args(settings, alias=alias, definition_file=definition_file, duration_days=duration_days)
    try:
        envelope = await sf.run_json(args, sink=sink, timeout=timeout, cwd=cwd)
    except SfFailed as exc:
        if "LIMIT_EXCEEDED" in (exc.data.get("name"), exc.data.get("code")):
            raise DevHubLimit(str(exc.data.get("message") or exc.message)) from None
        raise
    result = envelope.result if isinstance(envelope.result, dict) else {}
    if sink is not None:
        # The CLI's words about the signup (a feature the edition lacks, a setting it ignored) go to the pane.
        said = [*envelope.warnings, *(w for w in result.get("warnings") or [] if isinstance(w, str))]
        for warning in dict.fromkeys(said):
            await sink("stderr", mask(f"Warning: {warning}\n"))
    auth = found if isinstance(found := result.get("authFields"), dict) else {}
    username = result.get("username") or auth.get("username")
    if not isinstance(username, str) or not username:
        raise SfFailed("`sf org create scratch` returned no username", name="UnexpectedOutput")
    return CreatedOrg(
        alias=alias,
        username=username,
        sf_org_id=result.get("orgId") or auth.get("orgId"),
        instance_url=auth.get("instanceUrl"),
        login_url=auth.get("loginUrl"),
        expires_at=_expiry(result),
    )


async def register_created(
    pool: PoolService,
    sf: SfClient,
    created: CreatedOrg,
    *,
    cwd: Path | None,
    sink: OutputSink | None,
    lease_to: str | None = None,
    hydration: Hydration | None = None,
    shape: Shape | None = None,
) -> ScratchOrg:
    """Add a just-created org to the pool, recording the shape it was created with (leased to `lease_to` in the
    same transaction; `hydration` HYDRATING keeps it unclaimable until pre-warm has built it).

    Shielded from cancellation: an org that exists in the Dev Hub must never be one the pool does not know (a stop
    that cancels the run releases it afterwards). An org the pool refuses (it filled up meanwhile, or a clash) is
    deleted before the refusal is raised, so it does not hold a Dev Hub slot until it expires.
    """
    with anyio.CancelScope(shield=True):
        try:
            org = await pool.register(
                created.alias,
                expires_at=created.expires_at,
                login_url=created.login_url,
                username=created.username,
                sf_org_id=created.sf_org_id,
                instance_url=created.instance_url,
                source=OrgSource.PROVISIONED,
                lease_to=lease_to,
                hydration=hydration,
                shape=shape,
            )
        except (CapacityReached, AlreadyExists):
            await delete_quietly(sf, created.alias, cwd, sink)
            raise
    return org


async def delete_quietly(sf: SfClient, alias: str, cwd: Path | None, sink: OutputSink | None) -> None:
    """Give back an org the pool could not take (it would otherwise cost a Dev Hub slot until it expires)."""
    try:
        await sf.run_json(
            ["org", "delete", "scratch", "--target-org", alias, "--no-prompt"], sink=sink, cwd=cwd, timeout=300
        )
    except Exception as exc:  # best effort: the org expires on its own
        log.warning("could not delete scratch org %s after a failed registration: %s", alias, exc)
