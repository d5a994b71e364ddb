"""Composition root: open the database, build the services, bind the handlers, run the tasks. Nothing imports it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream

from sidecar.db import Database
from sidecar.errors import DatabaseUnavailable
from sidecar.framing import Framing
from sidecar.handlers.org import OrgHandlers
from sidecar.pool.service import PoolLimits, PoolService
from sidecar.rpc import LateMethods, bind_methods, make_dispatch
from sidecar.settings import SettingsStore
from sidecar.sf.client import SfClient
from sidecar.transport import Transport
from sidecar.wiremodel import WireModel

if TYPE_CHECKING:
    from sidecar.governance.service import GovernanceService

log = logging.getLogger(__name__)

# How long the late batch waits for a request that needs it before binding anyway: long enough for the first
# answer to go out, short enough that nobody notices.
LATE_BIND_IDLE_SECONDS = 0.05
# Exit status when the database cannot be opened: not 0 (a clean stop), so the Electron client restarts and says so.
EXIT_DATABASE_UNAVAILABLE = 3
# Pauses before a background task that met a busy or lost database tries again: doubling, capped.
DATABASE_RETRY_SECONDS = (1.0, 30.0)


async def retrying(name: str, task: Callable[[], Awaitable[None]]) -> None:
    """Run a background task; when the database is unavailable (busy past its wait), try again, never exit."""
    pause, longest = DATABASE_RETRY_SECONDS
    while True:
        try:
            await task()
            return
        except DatabaseUnavailable as exc:
            log.warning("%s: %s; trying again in %g s", name, exc.message, pause)
            await anyio.sleep(pause)
            pause = min(pause * 2, longest)


@dataclass
class App:
    home: Path
    settings: SettingsStore
    db: Database
    sf: SfClient
    pool: PoolService
    transport: Transport
    governance: "GovernanceService | None" = None

    def limits(self) -> PoolLimits:
        cfg = self.settings.current.org_pool
        limits = PoolLimits(
            max_orgs=cfg.maxOrgs,
            default_duration_days=cfg.defaultDurationDays,
            min_remaining_hours=cfg.minRemainingHours,
        )
        # While someone is signed in, their pool's entitlements narrow the settings (cached: no query here).
        return self.governance.narrow(limits) if self.governance is not None else limits

    async def refresh_loop(self) -> None:
        """Mark expired orgs on a timer, so a lease ends (and the UI hears it) without anyone asking."""
        while True:
            await anyio.sleep(self.settings.current.org_pool.refreshIntervalSeconds)
            self.db.check_file()  # a deleted or replaced database file is noticed even when nobody writes
            try:
                await self.pool.expire_due()
            except Exception:
                log.exception("expiry sweep failed")


async def run(home: Path, framing: Framing, receive: ByteReceiveStream, send: ByteSendStream) -> None:
    """Serve one peer until its input ends; the database is closed whatever happens.

    The pool's channels are bound before serving; health, agents, governance and provisioning (two thirds of the
    import time) are bound just after, so the app's first `org:status` is answered without waiting for them.
    """
    settings = SettingsStore(home / "settings.json")
    db = Database(home / "sidecar.db")
    try:
        await db.open()
    except DatabaseUnavailable as exc:
        # One sentence, no traceback; every connection is closed, so nothing keeps the process from exiting.
        log.error("%s", exc.message)
        raise SystemExit(EXIT_DATABASE_UNAVAILABLE) from None
    try:
        methods: dict[str, Any] = {}
        late = LateMethods()
        transport = Transport(make_dispatch(methods, late), framing)

        async def notify(name: str, params: WireModel) -> None:
            await transport.notify(name, params.dump())

        sf = SfClient(lambda: settings.current.org_pool.sfPath)
        app = App(home, settings, db, sf, pool=None, transport=transport)  # type: ignore[arg-type]
        app.pool = PoolService(db, app.limits, sf.org_list)
        methods.update(bind_methods([OrgHandlers(app.pool, notify)])[0])

        async with anyio.create_task_group() as tg:

            async def bind_the_rest() -> None:
                from sidecar.governance.service import GovernanceService
                from sidecar.handlers.agent import AgentHandlers
                from sidecar.handlers.auth import AuthHandlers
                from sidecar.handlers.governance import GovernanceHandlers
                from sidecar.handlers.provision import ProvisionHandlers
                from sidecar.handlers.system import SystemHandlers
                from sidecar.provisioning.service import ProvisioningService

                governance = GovernanceService(db, app.pool)
                try:
                    await governance.load_catalog(settings.current.raw)
                except DatabaseUnavailable as exc:  # busy right after start: serve, and load it once the lock is free
                    log.warning("governance catalog not loaded yet: %s", exc.message)
                    tg.start_soon(retrying, "governance catalog", lambda: governance.load_catalog(settings.current.raw))
                settings.subscribe(governance.on_settings_changed)
                system = SystemHandlers(home, db, settings, sf.path, issue_sources=[lambda: governance.catalog_errors])
                app.governance = governance
                provisioning = ProvisioningService(db, app.pool, sf, settings, notify)
                table, _ = bind_methods(
                    [
                        system,
                        AgentHandlers(app.pool, stop_hooks=[provisioning.stop_agent]),
                        AuthHandlers(governance),
                        GovernanceHandlers(governance, app.pool.status, notify),
                        ProvisionHandlers(provisioning, provisioning.sf_runner),
                    ]
                )
                methods.update(table)
                # Runs once transport.serve has attached the peer, so its restart report is not dropped.
                tg.start_soon(retrying, "provisioning", provisioning.serve)

            tg.start_soon(settings.watch)
            tg.start_soon(app.refresh_loop)
            tg.start_soon(late.load, bind_the_rest, LATE_BIND_IDLE_SECONDS)
            await transport.serve(receive, send)
            tg.cancel_scope.cancel()
    finally:
        await db.close()
