"""Every rule of the pool, in one place: leases, capacity, expiry, access, discovery.

Modelled on Boskos' ranch: the rules live in one domain module over a narrow store, the clock is injected so expiry
is tested without sleeping, and every change is announced to listeners only after its transaction commits (a
listener never hears of a change that was rolled back).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sidecar.errors import (
    AccessDenied,
    AlreadyExists,
    CapacityReached,
    InvalidParams,
    NotFound,
    OrgLeased,
)
from sidecar.events import Listeners
from sidecar.pool import store
from sidecar.pool.discovery import parse_org_list, vanished_and_due
from sidecar.pool.holder import LeaseHolder
from sidecar.pool.models import (
    ALIAS_PATTERN,
    ChangeReason,
    DiscoveredOrg,
    DiscoveryReport,
    Hydration,
    OrgSource,
    OrgStatus,
    PoolStatus,
    ScratchOrg,
    ShapeCounts,
    SkippedOrg,
)
from sidecar.pool.shapes import SHAPE_PATTERN, DefinitionError, Shape, fits, shape_of_file
from sidecar.storage.database import Database
from sidecar.storage.errors import is_integrity_error
from sidecar.storage.ids import new_id
from sidecar.timeutil import Clock, utcnow

if TYPE_CHECKING:
    from sidecar.pool.handover import OrgCredentials
    from sidecar.settings import SettingsStore

log = logging.getLogger(__name__)

MAX_AGENT_ID_LENGTH = 128


@dataclass(frozen=True)
class PoolLimits:
    """What the pool may do right now: settings, narrowed by the signed-in person's entitlements."""

    max_orgs: int = 4
    default_duration_days: int = 7
    max_duration_days: int | None = None
    min_remaining_hours: float = 4.0
    reuse_unknown_shapes: bool = True
    expiry_warning_hours: float = 24.0
    # orgPool.devHub: part of every shape (None: the CLI's default Dev Hub).
    dev_hub: str | None = None
    # org:remove deletes the org in the Dev Hub unless told otherwise.
    delete_on_remove: bool = False

    def duration_days(self, wanted: int | None = None) -> int:
        days = wanted or self.default_duration_days
        return min(days, self.max_duration_days) if self.max_duration_days else days

    def current(self) -> PoolLimits:
        """Fixed limits are their own source (tests, tools)."""
        return self


class LimitsSource(Protocol):
    """Where the pool reads its limits on every decision; answered synchronously, without a query."""

    def current(self) -> PoolLimits: ...


class RemoteOrgs(Protocol):
    """The Dev Hub side of an org's end (sidecar/sf/remote_orgs.py)."""

    async def delete_scratch(self, alias: str) -> None: ...

    async def logout(self, alias: str) -> None: ...


class Narrowing(Protocol):
    def narrow(self, limits: PoolLimits) -> PoolLimits: ...


class SettingsLimits:
    """The pool's limits from `orgPool` settings, narrowed by whatever narrows them (the signed-in person's
    entitlements, once governance is loaded)."""

    def __init__(self, settings: SettingsStore) -> None:
        self._settings = settings
        self._narrowings: list[Narrowing] = []
        # A shared pool's stored capacity replaces this machine's maxOrgs (entitlements still narrow it).
        self.team_max_orgs: int | None = None

    def narrow_with(self, narrowing: Narrowing) -> None:
        self._narrowings.append(narrowing)

    def current(self) -> PoolLimits:
        cfg = self._settings.current.org_pool
        limits = PoolLimits(
            max_orgs=cfg.maxOrgs if self.team_max_orgs is None else self.team_max_orgs,
            default_duration_days=cfg.defaultDurationDays,
            min_remaining_hours=cfg.minRemainingHours,
            reuse_unknown_shapes=cfg.reuseUnknownShapes,
            expiry_warning_hours=cfg.expiryWarningHours,
            dev_hub=cfg.devHub,
            delete_on_remove=cfg.deleteOnRemove,
        )
        for narrowing in self._narrowings:
            limits = narrowing.narrow(limits)
        return limits


@dataclass(frozen=True)
class PoolChange:
    reason: ChangeReason
    org: ScratchOrg
    # The agent the change concerns: the claimer, the releaser, or the owner whose lease just ended.
    agent_id: str | None = None


class WarningKind(StrEnum):
    EARLY = "early"  # orgPool.expiryWarningHours before expiry
    FINAL = "final"  # FINAL_WARNING_HOURS before expiry


FINAL_WARNING_HOURS = 1.0


@dataclass(frozen=True)
class ExpiryWarning:
    """A leased org is about to expire under its agent (sent once per org, agent and kind)."""

    org: ScratchOrg
    agent_id: str
    expires_at: datetime
    kind: WarningKind


ChangeListener = Callable[[PoolChange], Awaitable[None]]
WarningListener = Callable[[ExpiryWarning], Awaitable[None]]
CliOrgLister = Callable[[], Awaitable[Any]]


def check_alias(alias: Any) -> str:
    if not isinstance(alias, str) or not ALIAS_PATTERN.fullmatch(alias):
        raise InvalidParams(
            f"alias {alias!r} is not allowed: use 1-80 letters, digits, '_', '.', '@' or '-', "
            "not starting with '-' or '.'",
            param="alias",
        )
    return alias


def check_shape(shape: Any) -> str:
    if not isinstance(shape, str) or not SHAPE_PATTERN.fullmatch(shape):
        raise InvalidParams(
            f"shape {shape!r} is not a shape: 20 lowercase hex digits, as ScratchOrg.shape carries", param="shape"
        )
    return shape


def check_agent_id(agent_id: Any) -> str:
    if (
        not isinstance(agent_id, str)
        or not agent_id.strip()
        or len(agent_id) > MAX_AGENT_ID_LENGTH
        or not agent_id.isprintable()
    ):
        raise InvalidParams(
            f"agentId must be a non-empty printable string of at most {MAX_AGENT_ID_LENGTH} characters",
            param="agentId",
        )
    return agent_id


class PoolService:
    def __init__(
        self,
        db: Database,
        limits: LimitsSource,
        list_cli_orgs: CliOrgLister | None = None,
        clock: Clock = utcnow,
        holder: LeaseHolder | None = None,
        remote: RemoteOrgs | None = None,
        credentials: OrgCredentials | None = None,
    ) -> None:
        self._db = db
        # A shared pool's org origins and sealed auth URLs (pool/handover.py): recorded as orgs enter the pool.
        self.credentials = credentials
        # This sidecar instance: with the agent id, it names who holds a lease in a pool several machines share.
        self.holder = holder or LeaseHolder.local()
        self._remote = remote
        self._limits = limits
        self._list_cli_orgs = list_cli_orgs
        self._clock = clock
        self._events: Listeners[PoolChange] = Listeners("pool")
        self._warnings: Listeners[ExpiryWarning] = Listeners("pool expiry")

    # -- events -------------------------------------------------------------------------------------------------

    def subscribe(self, listener: ChangeListener) -> Callable[[], None]:
        """Hear of every committed change (a failing listener is logged; the others still hear it)."""
        return self._events.subscribe(listener)

    def subscribe_warnings(self, listener: WarningListener) -> Callable[[], None]:
        """Hear of every expiry warning, after it is recorded (so a restart never repeats it)."""
        return self._warnings.subscribe(listener)

    async def _announce(self, changes: list[PoolChange]) -> None:
        await self._events.publish_all(changes)

    async def announce_committed(self, changes: list[PoolChange]) -> None:
        """Tell the listeners of changes committed outside this service's methods: a reap (sidecar/pool/
        instances.py) or another sidecar's commit heard through the database (sidecar/pool/peers.py)."""
        await self._announce(changes)

    # -- reads --------------------------------------------------------------------------------------------------

    @property
    def limits(self) -> PoolLimits:
        return self._limits.current()

    async def list_orgs(self) -> list[ScratchOrg]:
        return await store.list_orgs(self._db.reader)

    async def get(self, org_id: str) -> ScratchOrg:
        org = await store.get(self._db.reader, org_id)
        if org is None:
            raise NotFound(f"no org with id {org_id!r} in the pool", orgId=org_id)
        return org

    async def status(self) -> PoolStatus:
        """Counts in total and per shape; `available` is what a claim could take (more than minRemainingHours
        left, hydrated), the unleased rest of the live orgs is `expiringSoon`."""
        now = self._clock()
        await self._refresh_team_capacity()
        limits = self.limits
        rows = await store.shape_counts(self._db.reader, now, now + timedelta(hours=limits.min_remaining_hours))
        per_shape = [ShapeCounts.model_validate(row) for row in rows]
        keys = ("total", "available", "leased", "expired", "expiring_soon")
        total = {k: sum(getattr(c, k) for c in per_shape) for k in keys}
        return PoolStatus.build(
            total["total"],
            total["available"],
            total["leased"],
            total["expired"],
            max_orgs=limits.max_orgs,
            expiring_soon=total["expiring_soon"],
            by_shape=per_shape,
        )

    # -- the team's capacity (a pool several machines share) -----------------------------------------------------

    async def start_team(self, settings_max_orgs: int) -> int:
        """Join a shared pool: its capacity is the one stored in the database, initialised from the first
        sidecar's `maxOrgs`; from then on this machine's `maxOrgs` no longer counts. The capacity in force."""
        async with self._db.transaction() as conn:
            value = await store.init_team_capacity(conn, settings_max_orgs)
        self._set_team_cache(value)
        return value

    async def set_team_capacity(self, max_orgs: int) -> PoolStatus:
        """An operator changes the team's capacity (`governance:setTeamCapacity`). Orgs beyond a lowered capacity
        stay; no new one is added until the count is below it."""
        if not isinstance(max_orgs, int) or isinstance(max_orgs, bool) or not 0 <= max_orgs <= 10_000:
            raise InvalidParams("maxOrgs must be an integer from 0 to 10000", param="maxOrgs")
        if not self.holder.shared:
            raise InvalidParams(
                "the team capacity exists on a shared pool only (start with --database-url); on this desktop set"
                " orgPool.maxOrgs in settings.json",
                param="maxOrgs",
            )
        async with self._db.transaction() as conn:
            await store.set_team_capacity(conn, max_orgs)
        self._set_team_cache(max_orgs)
        return await self.status()

    async def _limits_in(self, conn: Any) -> PoolLimits:
        """The limits for a capacity decision in `conn`'s transaction: on a shared pool the team's capacity is read
        under the pool row's lock first (another machine's operator may have changed it since)."""
        if self.holder.shared:
            self._set_team_cache(await store.lock_team_capacity(conn))
        return self.limits

    async def _refresh_team_capacity(self) -> None:
        if self.holder.shared:
            self._set_team_cache(await store.team_capacity(self._db.reader))

    def _set_team_cache(self, value: int | None) -> None:
        if isinstance(self._limits, SettingsLimits):
            self._limits.team_max_orgs = value

    async def lease_of(self, agent_id: str) -> ScratchOrg | None:
        check_agent_id(agent_id)
        org = await store.lease_of(self._db.reader, agent_id, self.holder.instance_id)
        if org is not None and org.expires_at is not None and org.expires_at <= self._clock():
            return None
        return org

    async def check_access(self, agent_id: str, target: str) -> ScratchOrg:
        """The agent's own org if `target` names it; every other answer is ACCESS_DENIED (no lease, no sharing)."""
        check_agent_id(agent_id)
        if not isinstance(target, str) or not target:
            raise InvalidParams(
                "target must name an org (alias, username, pool id or Salesforce org id)", param="target"
            )
        org = await store.lease_of(self._db.reader, agent_id, self.holder.instance_id)
        if org is None:
            raise AccessDenied(f"agent {agent_id!r} holds no org: claim one first", agentId=agent_id, target=target)
        if org.expires_at is not None and org.expires_at <= self._clock():
            raise AccessDenied(f"the org leased to agent {agent_id!r} has expired", agentId=agent_id, target=target)
        if not org.matches(target):
            raise AccessDenied(
                f"agent {agent_id!r} may use only its own org {org.alias!r}, not {target!r}",
                agentId=agent_id,
                target=target,
            )
        return org

    # -- writes -------------------------------------------------------------------------------------------------

    async def register(
        self,
        alias: str,
        *,
        expires_at: datetime | None = None,
        login_url: str | None = None,
        username: str | None = None,
        sf_org_id: str | None = None,
        instance_url: str | None = None,
        source: OrgSource = OrgSource.MANUAL,
        lease_to: str | None = None,
        hydration: Hydration | None = None,
        shape: Shape | None = None,
    ) -> ScratchOrg:
        """Add an org; with `lease_to`, lease it in the same transaction so no other agent can claim it first.
        With `hydration` HYDRATING it is in the pool (and counts against capacity) but never claimable until
        pre-warm marks it ready."""
        check_alias(alias)
        if lease_to is not None:
            check_agent_id(lease_to)
        now = self._clock()
        limits = self.limits
        if expires_at is None:
            expires_at = now + timedelta(days=limits.duration_days())
        elif expires_at.tzinfo is None:
            raise InvalidParams(
                "expiresAt must carry a time zone (for example 2026-12-01T00:00:00Z)", param="expiresAt"
            )
        elif expires_at <= now:
            raise InvalidParams(f"expiresAt {expires_at.isoformat()} is in the past", param="expiresAt")
        org_id = new_org_id()
        auth_url = await self._capture(alias)  # the CLI runs before, never inside, the transaction
        values = {
            "id": org_id,
            "alias": alias,
            "username": username,
            "sf_org_id": sf_org_id,
            "instance_url": instance_url,
            "login_url": login_url,
            "status": OrgStatus.LEASED.value if lease_to else OrgStatus.AVAILABLE.value,
            "assigned_agent_id": lease_to,
            "holder_instance": self.holder.instance_id if lease_to else None,
            "holder_machine": self.holder.machine_name if lease_to else None,
            "leased_at": now if lease_to else None,
            "expires_at": expires_at,
            "created_at": now,
            "source": source.value,
            "hydration": hydration.value if hydration else None,
            "shape": shape.hash if shape else None,
            "definition_name": shape.definition_name if shape else None,
        }
        try:
            async with self._db.transaction() as conn:
                if lease_to is not None and await store.lease_of(conn, lease_to, self.holder.instance_id) is not None:
                    raise AlreadyExists(f"agent {lease_to!r} already holds an org", agentId=lease_to)
                limits = await self._limits_in(conn)
                org = await store.insert_within_capacity(conn, values, limits.max_orgs)
                if org is not None:
                    await self._record_origin(conn, org.id, auth_url, now)
        except Exception as exc:
            if not is_integrity_error(exc):
                raise
            raise self._conflict(exc, alias, username, sf_org_id) from None
        if org is None:
            raise CapacityReached(
                f"the pool is full: {limits.max_orgs} orgs are available or leased (maxOrgs); "
                "remove or release one first",
                maxOrgs=limits.max_orgs,
            )
        changes = [PoolChange(ChangeReason.REGISTERED, org)]
        if lease_to:
            changes.append(PoolChange(ChangeReason.CLAIMED, org, lease_to))
        await self._announce(changes)
        return org

    async def _capture(self, alias: str) -> str | None:
        return await self.credentials.capture(alias) if self.credentials is not None else None

    async def _record_origin(self, conn: Any, org_id: str, auth_url: str | None, now: datetime) -> None:
        if self.credentials is not None:
            await self.credentials.record(conn, org_id, auth_url, now)

    async def _capture_new(self, found: list[DiscoveredOrg]) -> dict[str, str | None]:
        """Discovery's new orgs' auth URLs by username, captured before its transaction (none without a key)."""
        if self.credentials is None or not self.credentials.capturing():
            return {}
        urls: dict[str, str | None] = {}
        for cli in found:
            if (
                cli.active
                and await store.find_identity(self._db.reader, cli.username, cli.sf_org_id, cli.alias) is None
            ):
                urls[cli.username] = await self._capture(cli.alias or cli.username)
        return urls

    @staticmethod
    def _conflict(exc: Exception, alias: str, username: str | None, sf_org_id: str | None) -> AlreadyExists:
        text = str(exc)
        if "username" in text:
            return AlreadyExists(f"an org with username {username!r} is already in the pool", username=username)
        if "sf_org_id" in text:
            return AlreadyExists(f"an org with Salesforce id {sf_org_id!r} is already in the pool", sfOrgId=sf_org_id)
        return AlreadyExists(f"an org with alias {alias!r} is already in the pool", alias=alias)

    async def claim(self, agent_id: str, shape: str | None = None) -> ScratchOrg | None:
        """Lease the org that expires first among those with enough time left; the agent's own org if it has one.

        With `shape`, only an org of that shape (or of unknown shape while `reuseUnknownShapes` is on) is leased,
        and an agent holding an org of another shape gives it back to the pool in the same transaction (its branch
        changed the definition): the answer is then a matching org, or None.
        """
        check_agent_id(agent_id)
        if shape is not None:
            check_shape(shape)
        now = self._clock()
        limits = self.limits
        not_before = now + timedelta(hours=limits.min_remaining_hours)
        # Agents poll with claims while the pool is empty; a read on the WAL reader answers those without queueing
        # for the write lock. The transaction below still decides every claim that could succeed.
        me = self.holder.instance_id
        if not await store.claim_has_work(self._db.reader, agent_id, me, now, not_before):
            return None
        async with self._db.transaction() as conn:
            changes = await self._expire_due(conn, now)
            org = await store.lease_of(conn, agent_id, me)
            if org is not None and not fits(org.shape, shape, limits.reuse_unknown_shapes):
                released = await store.release(conn, org.id)
                if released is not None:
                    changes.append(PoolChange(ChangeReason.RELEASED, released, agent_id))
                org = None
            if org is None:
                org = await store.lease_next(
                    conn,
                    agent_id,
                    me,
                    self.holder.machine_name,
                    now,
                    not_before,
                    shape,
                    limits.reuse_unknown_shapes,
                    self._team_key_id(),
                )
                if org is not None:
                    changes.append(PoolChange(ChangeReason.CLAIMED, org, agent_id))
        await self._announce(changes)
        return org

    def _team_key_id(self) -> str | None:
        """On a shared pool, this machine's team key id for the claim's ranking ("" without a key); None alone."""
        credentials = self.credentials
        return credentials.key_id() if credentials is not None and credentials.shared else None

    # -- what an org holds of the project (delta deploys, hydration) ------------------------------------------------

    async def deployment(self, org_id: str) -> OrgDeployment:
        """The recorded source state and step input hashes of an org; empty when none (or damaged)."""
        state, inputs = await store.deployment_of(self._db.reader, org_id)
        return OrgDeployment(_json_object(state), _json_object(inputs))

    async def record_deployment(
        self,
        org_id: str,
        *,
        commit: str | None,
        state: dict[str, Any] | None,
        inputs: dict[str, Any] | None = None,
        hydration: Hydration | None = None,
    ) -> ScratchOrg | None:
        """Record what the org holds now (None forgets it: the next deploy is full); returns the updated org."""
        fields: dict[str, Any] = {
            "deployed_commit": commit,
            "source_state": json.dumps(state, sort_keys=True) if state is not None else None,
        }
        if inputs is not None:
            fields["step_inputs"] = json.dumps(inputs, sort_keys=True)
        if hydration is not None:
            fields["hydration"] = hydration.value
        async with self._db.transaction() as conn:
            return await store.set_deployment(conn, org_id, fields)

    async def record_step_inputs(self, org_id: str, inputs: dict[str, Any]) -> None:
        """Record the hashes of the data/users/permsets inputs the org has got, leaving its source state alone."""
        async with self._db.transaction() as conn:
            await store.set_deployment(conn, org_id, {"step_inputs": json.dumps(inputs, sort_keys=True)})

    async def set_hydration(self, org_id: str, hydration: Hydration) -> ScratchOrg | None:
        """Mark a pre-warmed org hydrating, failed (never claimed) or ready (claimable); announces nothing new."""
        async with self._db.transaction() as conn:
            org = await store.set_deployment(conn, org_id, {"hydration": hydration.value})
        if org is not None and hydration is Hydration.READY:
            await self._announce([PoolChange(ChangeReason.REGISTERED, org)])
        return org

    def shape_of(self, definition_file: str) -> Shape:
        """The shape of an absolute definition file on this pool's Dev Hub; INVALID_PARAMS naming
        definitionFile when the file gives none."""
        path = Path(definition_file) if isinstance(definition_file, str) and definition_file else None
        if path is None or "\x00" in definition_file or not path.is_absolute():
            raise InvalidParams(
                "definitionFile must be an absolute path to a scratch definition", param="definitionFile"
            )
        try:
            return shape_of_file(path, self.limits.dev_hub)
        except DefinitionError as exc:
            raise InvalidParams(f"definitionFile: {exc}", param="definitionFile") from None

    def fits(self, org: ScratchOrg, shape: str | None) -> bool:
        """Whether `org` may serve an agent whose definition has `shape` (the claim's own rule, for callers that
        hold an org already)."""
        return fits(org.shape, shape, self.limits.reuse_unknown_shapes)

    async def warm_counts(self) -> dict[str | None, int]:
        """Per shape, the unleased orgs a claim could still take after minRemainingHours (hydrating ones included:
        they become claimable once built). Pre-warm compares these with its targets."""
        not_before = self._clock() + timedelta(hours=self.limits.min_remaining_hours)
        return await store.warm_counts(self._db.reader, not_before)

    async def expiring_unleased(self) -> list[ScratchOrg]:
        """Unleased orgs within minRemainingHours of expiry: counted against capacity, claimed by nobody. Pre-warm
        replaces them (see sidecar/provisioning/prewarm.py)."""
        now = self._clock()
        return await store.unleased_expiring(
            self._db.reader, now, now + timedelta(hours=self.limits.min_remaining_hours)
        )

    async def warn_expiring(self) -> list[ExpiryWarning]:
        """Send each leased org's agent its expiry warnings: one at `expiryWarningHours` before expiry, one at
        FINAL_WARNING_HOURS, each once (recorded in the database first, so neither a second sidecar nor a restart
        repeats it). An org found already inside the final hour gets only the final warning."""
        now = self._clock()
        limits = self.limits
        early = timedelta(hours=max(limits.expiry_warning_hours, FINAL_WARNING_HOURS))
        final = timedelta(hours=FINAL_WARNING_HOURS)
        sent: list[ExpiryWarning] = []
        # The timer calls this every refresh; a read on the reader keeps it off the write lock when nothing is due.
        if not await store.leased_expiring(self._db.reader, self.holder.instance_id, now, now + early):
            return sent
        async with self._db.transaction() as conn:
            for org in await store.leased_expiring(conn, self.holder.instance_id, now, now + early):
                assert org.expires_at is not None and org.assigned_agent_id is not None
                kinds = [WarningKind.FINAL] if org.expires_at <= now + final else [WarningKind.EARLY]
                if kinds == [WarningKind.FINAL]:
                    # Inside the final hour the early warning is moot: record it so it never follows the final one.
                    await store.record_warning(conn, org.id, org.assigned_agent_id, WarningKind.EARLY.value, now)
                for kind in kinds:
                    if await store.record_warning(conn, org.id, org.assigned_agent_id, kind.value, now):
                        sent.append(ExpiryWarning(org, org.assigned_agent_id, org.expires_at, kind))
        await self._warnings.publish_all(sent)
        return sent

    async def take_for_rehydration(self, org_id: str) -> ScratchOrg | None:
        """Take an available hydrated org out of reach (hydrating: never claimed) for pre-warm to bring it up to
        date; None when it was claimed (or changed) first."""
        async with self._db.transaction() as conn:
            return await store.take_for_rehydration(conn, org_id)

    async def release(self, org_id: str, agent_id: str | None = None) -> ScratchOrg | None:
        """Free a leased org; with `agent_id`, only its owner may (a late agent must not free a re-leased org)."""
        if agent_id is not None:
            check_agent_id(agent_id)
        async with self._db.transaction() as conn:
            org = await store.get(conn, org_id)
            if org is None:
                raise NotFound(f"no org with id {org_id!r} in the pool", orgId=org_id)
            holder = await store.holder_of(conn, org_id)
            if holder is not None and holder != self.holder.instance_id:
                raise AccessDenied(
                    f"org {org.alias!r} is leased by an agent on another machine ({org.machine_name}):"
                    " only that machine may release it",
                    orgId=org_id,
                    machineName=org.machine_name,
                )
            if agent_id is not None and org.assigned_agent_id != agent_id:
                raise AccessDenied(
                    f"org {org.alias!r} is not leased to agent {agent_id!r}", orgId=org_id, agentId=agent_id
                )
            owner = org.assigned_agent_id
            released = await store.release(conn, org_id)
        if released is None:
            return None
        await self._announce([PoolChange(ChangeReason.RELEASED, released, owner)])
        return released

    async def release_agent(self, agent_id: str) -> str | None:
        """Release whatever the agent holds (it finished or was stopped); the freed org's pool id, or None."""
        check_agent_id(agent_id)
        async with self._db.transaction() as conn:
            org = await store.lease_of(conn, agent_id, self.holder.instance_id)
            released = await store.release(conn, org.id) if org else None
        if released is None:
            return None
        await self._announce([PoolChange(ChangeReason.RELEASED, released, agent_id)])
        return released.id

    async def remove(self, org_id: str, force: bool = False, delete_remote: bool | None = None) -> ScratchOrg:
        """Take an org out of the pool; with `delete_remote` (default: orgPool.deleteOnRemove) delete it in the Dev
        Hub first, and drop the row only once the Dev Hub confirms (a refusal raises and the row stays)."""
        if delete_remote is None:
            delete_remote = self.limits.delete_on_remove
        org = await self._removable(self._db.reader, org_id, force)
        if delete_remote:
            if self._remote is None:
                raise RuntimeError("deleteRemote needs the CLI's remote org calls")
            # Outside any transaction (it takes seconds to minutes); the row is checked again afterwards.
            await self._remote.delete_scratch(org.alias)
        async with self._db.transaction() as conn:
            # Once the Dev Hub deleted it, the row goes whatever happened meanwhile: it names an org that is gone.
            org = await self._removable(conn, org_id, force or delete_remote)
            removed = await store.delete(conn, org_id)
        assert removed is not None
        await self._announce([PoolChange(ChangeReason.REMOVED, removed, org.assigned_agent_id)])
        return removed

    @staticmethod
    async def _removable(conn: Any, org_id: str, force: bool) -> ScratchOrg:
        org = await store.get(conn, org_id)
        if org is None:
            raise NotFound(f"no org with id {org_id!r} in the pool", orgId=org_id)
        if org.status is OrgStatus.LEASED and not force:
            raise OrgLeased(
                f"org {org.alias!r} is leased to agent {org.assigned_agent_id!r}; release it or pass force: true",
                orgId=org_id,
                agentId=org.assigned_agent_id,
            )
        return org

    async def expire_due(self) -> list[ScratchOrg]:
        """Mark every org past its expiry, ending leases too; the refresh timer and `org:refresh` call this."""
        async with self._db.transaction() as conn:
            changes = await self._expire_due(conn, self._clock())
        await self._announce(changes)
        await self._logout([c.org for c in changes])
        return [c.org for c in changes]

    async def _logout(self, expired: list[ScratchOrg]) -> None:
        """Drop the CLI's authorization of orgs past expiry (best effort), so `sf org list` stays short."""
        if self._remote is None:
            return
        for org in expired:
            await self._remote.logout(org.alias)

    async def _expire_due(self, conn: Any, now: datetime) -> list[PoolChange]:
        changes = []
        for org in await store.due_for_expiry(conn, now):
            expired = await store.mark_expired(conn, org.id)
            if expired is not None:
                changes.append(PoolChange(ChangeReason.EXPIRED, expired, org.assigned_agent_id))
        return changes

    async def discover(self) -> DiscoveryReport:
        """Reconcile the pool with the CLI's authorized scratch orgs; the CLI runs outside any transaction."""
        if self._list_cli_orgs is None:
            raise RuntimeError("discovery needs a CLI org lister")
        found = parse_org_list(await self._list_cli_orgs())
        auth_urls = await self._capture_new(found)
        now = self._clock()
        limits = self.limits
        report = DiscoveryReport(registered=[], updated=[], skipped=[])
        changes: list[PoolChange] = []
        async with self._db.transaction() as conn:
            limits = await self._limits_in(conn)
            for cli in found:
                alias = cli.alias or cli.username
                expires_at = cli.expires_at or now + timedelta(days=limits.duration_days())
                dead = not cli.active or expires_at <= now
                known = await store.find_identity(conn, cli.username, cli.sf_org_id, alias)
                if known is not None:
                    details = {
                        "username": cli.username,
                        "sf_org_id": cli.sf_org_id or known.sf_org_id,
                        "instance_url": cli.instance_url or known.instance_url,
                        "login_url": cli.login_url or known.login_url,
                        "expires_at": expires_at,
                    }
                    updated = await store.update_details(conn, known.id, details)
                    assert updated is not None
                    if dead and updated.status is not OrgStatus.EXPIRED:
                        updated = await store.mark_expired(conn, known.id)
                        assert updated is not None
                        changes.append(PoolChange(ChangeReason.EXPIRED, updated, known.assigned_agent_id))
                    elif updated != known:
                        changes.append(PoolChange(ChangeReason.DISCOVERED, updated))
                    if updated != known:
                        report.updated.append(updated.alias)
                    continue
                if dead:
                    why = "expired" if expires_at <= now else f"status {cli.cli_status or 'not Active'}"
                    report.skipped.append(SkippedOrg(alias=alias, reason=f"{why}: not added to the pool"))
                    continue
                if not ALIAS_PATTERN.fullmatch(alias):
                    report.skipped.append(
                        SkippedOrg(alias=alias, reason="alias has characters the pool does not allow")
                    )
                    continue
                # Checked first, not caught: on PostgreSQL a failed INSERT would abort the whole transaction.
                if await store.alias_taken(conn, alias):
                    report.skipped.append(SkippedOrg(alias=alias, reason="another pool org already uses this alias"))
                    continue
                values = {
                    "id": new_org_id(),
                    "alias": alias,
                    "username": cli.username,
                    "sf_org_id": cli.sf_org_id,
                    "instance_url": cli.instance_url,
                    "login_url": cli.login_url,
                    "status": OrgStatus.AVAILABLE.value,
                    "assigned_agent_id": None,
                    "leased_at": None,
                    "expires_at": expires_at,
                    "created_at": now,
                    "source": OrgSource.DISCOVERED.value,
                }
                org = await store.insert_within_capacity(conn, values, limits.max_orgs)
                if org is None:
                    report.skipped.append(
                        SkippedOrg(alias=alias, reason=f"capacity reached (maxOrgs={limits.max_orgs})")
                    )
                    continue
                await self._record_origin(conn, org.id, auth_urls.get(cli.username), now)
                report.registered.append(org.alias)
                changes.append(PoolChange(ChangeReason.DISCOVERED, org))
            for gone in vanished_and_due(await store.list_orgs(conn), found, now):  # issue 9: the CLI dropped them
                expired = await store.mark_expired(conn, gone.id)
                if expired is not None:
                    changes.append(PoolChange(ChangeReason.EXPIRED, expired, gone.assigned_agent_id))
        await self._announce(changes)
        return report


@dataclass(frozen=True)
class OrgDeployment:
    """What an org holds of the project as recorded: the SourceState record and the step input hashes."""

    state: dict[str, Any] | None
    inputs: dict[str, Any] | None


def _json_object(text: str | None) -> dict[str, Any] | None:
    """A stored JSON object, or None for none or a damaged value (the caller then assumes nothing is held)."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def new_org_id() -> str:
    return new_id("org")
