"""Governance in one service: the catalog, sign-in and the session, the views, and how entitlements narrow the pool.

The session lives in this process's memory only (the ID token with it: never stored, never logged), so two
sidecars on one database each have their own. The signed-in pool's entitlements are cached here at sign-in, on
every catalog change and after a reapply, because `PoolService` asks for its limits on hot paths (`org:status`)
and must get them synchronously, without a query. Listeners hear of a change only after its transaction commits.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol

from sidecar.errors import AccessDenied, NotAuthenticated
from sidecar.events import Listeners
from sidecar.governance import store, views
from sidecar.governance.catalog import MAX_ACTIVE, MAX_DURATION_DAYS, parse_catalog
from sidecar.governance.ladders import StepHook, no_step, reapply_defaults_for_pool
from sidecar.governance.models import (
    OPERATOR_ROLE,
    Actor,
    ActorType,
    CatalogIssue,
    Claims,
    FullHome,
    Home,
    Overview,
    ReapplyOutcome,
    Session,
    SignedIn,
    SignedOut,
    SoloHome,
    Subject,
)
from sidecar.governance.signin import sign_in_subject
from sidecar.governance.sync import sync_catalog
from sidecar.pool.models import PoolStatus, ScratchOrg
from sidecar.pool.service import PoolLimits
from sidecar.settings import Settings, SettingsError
from sidecar.storage.database import Database
from sidecar.timeutil import Clock, utcnow

log = logging.getLogger(__name__)


class ScratchPool(Protocol):
    """The part of `PoolService` the home view shows: the local scratch orgs and their status."""

    async def list_orgs(self) -> list[ScratchOrg]: ...

    async def status(self) -> PoolStatus: ...


class GovernanceChangeReason(StrEnum):
    SIGNED_IN = "signedIn"
    SIGNED_OUT = "signedOut"
    CATALOG_SYNCED = "catalogSynced"
    DEFAULTS_REAPPLIED = "defaultsReapplied"


ChangeListener = Callable[[GovernanceChangeReason], Awaitable[None]]


@dataclass(frozen=True)
class ActiveSession:
    claims: Claims
    subject: Subject
    first_login: bool
    # Held for calls made on the person's behalf; in memory only, kept out of repr so no log line can carry it.
    id_token: str | None = field(default=None, repr=False)

    @property
    def is_operator(self) -> bool:
        return OPERATOR_ROLE in self.claims.roles

    def wire(self) -> SignedIn:
        return SignedIn(
            oidc_subject=self.claims.sub,
            issuer=self.claims.iss,
            email=self.claims.email,
            name=self.claims.name,
            username=self.claims.preferred_username,
            roles=list(self.claims.roles),
            person_id=self.subject.person_id,
            organization_id=self.subject.organization_id,
            workspace_id=self.subject.workspace_id,
            first_login=self.first_login,
        )


class GovernanceService:
    def __init__(
        self,
        db: Database,
        pool: ScratchPool | None = None,
        clock: Clock = utcnow,
        step: StepHook = no_step,
    ) -> None:
        self._db = db
        self._pool = pool
        self._clock = clock
        # Test seam: called after each write of first sign-in and of a grant, so a test can fail it late.
        self._step = step
        self._session: ActiveSession | None = None
        self._entitlements: dict[str, Any] = {}
        self._events: Listeners[GovernanceChangeReason] = Listeners("governance")
        self.catalog_errors: list[SettingsError] = []

    # -- events ---------------------------------------------------------------------------------------------------

    def subscribe(self, listener: ChangeListener) -> Callable[[], None]:
        """Hear of every committed governance change (a failing listener is logged; the others still hear it)."""
        return self._events.subscribe(listener)

    async def _announce(self, reason: GovernanceChangeReason) -> None:
        await self._events.publish(reason)

    # -- the catalog ----------------------------------------------------------------------------------------------

    async def load_catalog(self, settings_document: Mapping[str, Any]) -> list[SettingsError]:
        """Parse the `governance` section, report its problems, sync it into the tables; the problems found."""
        catalog, errors = parse_catalog(settings_document)
        for err in errors:
            log.warning("settings: %s: %s", err.key, err.reason)
        async with self._db.transaction() as conn:
            await sync_catalog(conn, catalog, self._clock())
        self.catalog_errors = errors
        await self._refresh_entitlements()
        await self._announce(GovernanceChangeReason.CATALOG_SYNCED)
        return errors

    async def on_settings_changed(self, settings: Settings) -> None:
        """`SettingsStore` listener: the file changed, so the catalog may have."""
        await self.load_catalog(settings.raw)

    # -- the session ----------------------------------------------------------------------------------------------

    async def sign_in(self, claims: Claims, id_token: str | None = None) -> SignedIn:
        """Find or create the subject's structures (one transaction) and make them this process's session."""
        async with self._db.transaction() as conn:
            subject, created = await sign_in_subject(conn, claims, self._clock(), self._step)
            entitlements = await store.pool_entitlements(conn, subject.pool_id)
        session = ActiveSession(claims=claims, subject=subject, first_login=created, id_token=id_token)
        self._session, self._entitlements = session, entitlements
        log.info("signed in: %s %s (first login: %s)", claims.iss, claims.sub, created)
        await self._announce(GovernanceChangeReason.SIGNED_IN)
        # This sign-in's own session: another one may have replaced `self._session` while listeners ran.
        return session.wire()

    def session(self) -> Session:
        return self._session.wire() if self._session else SignedOut()

    async def sign_out(self) -> None:
        was_signed_in = self._session is not None
        self._session = None
        self._entitlements = {}
        if was_signed_in:
            await self._announce(GovernanceChangeReason.SIGNED_OUT)

    def require_session(self) -> ActiveSession:
        if self._session is None:
            raise NotAuthenticated("nobody is signed in: call auth:signIn first")
        return self._session

    def require_operator(self) -> ActiveSession:
        session = self.require_session()
        if not session.is_operator:
            raise AccessDenied(
                f"this needs the {OPERATOR_ROLE!r} role; the signed-in person has {list(session.claims.roles)}",
                requiredRole=OPERATOR_ROLE,
            )
        return session

    async def _refresh_entitlements(self) -> None:
        session = self._session
        if session is None:
            return
        entitlements = await store.pool_entitlements(self._db.reader, session.subject.pool_id)
        # A sign-out or another sign-in during the read owns the cache now; do not overwrite theirs.
        if self._session is session:
            self._entitlements = entitlements

    # -- entitlements govern the pool -----------------------------------------------------------------------------

    def narrow(self, limits: PoolLimits) -> PoolLimits:
        """The pool's limits under the session pool's entitlements; the settings alone when nobody is signed in."""
        if self._session is None:
            return limits
        max_active = self._entitlements.get(MAX_ACTIVE)
        if isinstance(max_active, int) and not isinstance(max_active, bool):
            limits = replace(limits, max_orgs=min(limits.max_orgs, max_active))
        max_days = self._entitlements.get(MAX_DURATION_DAYS)
        if isinstance(max_days, int) and not isinstance(max_days, bool):
            current = limits.max_duration_days
            limits = replace(limits, max_duration_days=min(current, max_days) if current else max_days)
        return limits

    # -- views ----------------------------------------------------------------------------------------------------

    async def home(self) -> Home:
        """What the signed-in person sees: `solo` when alone in one organization and workspace, else `full`."""
        session = self.require_session()
        if self._pool is None:
            raise RuntimeError("the home view needs the scratch-org pool")
        tree = await views.person_tree(self._db.reader, session.subject)
        status = await self._pool.status()
        scratch_orgs = await self._pool.list_orgs()
        # The fields both views share; each model validates them when it is built (a TypedDict would repeat them).
        common: dict[str, Any] = dict(
            person=tree.person,
            organization_id=session.subject.organization_id,
            workspace_id=session.subject.workspace_id,
            pool=tree.pool,
            status=status,
            scratch_orgs=scratch_orgs,
        )
        if tree.solo:
            return SoloHome(**common)
        return FullHome(organizations=tree.organizations, **common)

    async def overview(self) -> Overview:
        """Every organization with members, roles, workspaces and pools; operators only."""
        operator = self.require_operator()
        return Overview(
            organizations=await views.all_organizations(self._db.reader, operator.subject),
            catalog_errors=[CatalogIssue(key=e.key, reason=e.reason) for e in self.catalog_errors],
        )

    # -- ReapplyDefaultsForPool -----------------------------------------------------------------------------------

    async def reapply_defaults(self, pool_id: str) -> ReapplyOutcome:
        """An operator puts a pool back on its org type's default plan (or ends its plan when there is none)."""
        operator = self.require_operator()
        async with self._db.transaction() as conn:
            outcome = await reapply_defaults_for_pool(
                conn,
                pool_id,
                now=self._clock(),
                actor=Actor(ActorType.PERSON, operator.subject.person_id),
                reason="default plan reapplied by an operator",
                step=self._step,
            )
        if outcome.changed:
            await self._refresh_entitlements()
            await self._announce(GovernanceChangeReason.DEFAULTS_REAPPLIED)
        return outcome
