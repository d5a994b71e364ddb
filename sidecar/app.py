"""Composition root: open the database, build the services, bind the handlers, run the tasks. Nothing imports it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream

from sidecar.storage.database import SqliteDatabase
from sidecar.storage.url import DatabaseUrlError, Engine, choose_database
from sidecar.framing import Framing
from sidecar.handlers.notifications import Notifications
from sidecar.handlers.org import OrgHandlers
from sidecar.pool.service import PoolService, SettingsLimits
from sidecar.rpc import LateMethods, bind_methods, make_dispatch
from sidecar.settings import SettingsStore
from sidecar.sf.client import SfClient
from sidecar.sf.remote_orgs import CliRemoteOrgs
from sidecar.transport import Transport
from sidecar.wiremodel import WireModel

log = logging.getLogger(__name__)

# How long the late batch waits for a request that needs it before binding anyway: long enough for the first
# answer to go out, short enough that nobody notices.
LATE_BIND_IDLE_SECONDS = 0.05


async def refresh_loop(pool: PoolService, settings: SettingsStore) -> None:
    """Mark expired orgs on a timer, so a lease ends (and the UI hears it) without anyone asking; warn the agents
    whose leased org expires soon (once each, see PoolService.warn_expiring)."""
    while True:
        try:
            await pool.warn_expiring()
        except Exception:
            log.exception("expiry warnings failed")
        await anyio.sleep(settings.current.org_pool.refreshIntervalSeconds)
        try:
            await pool.expire_due()
        except Exception:
            log.exception("expiry sweep failed")


def choose_sqlite(home: Path, database_url: str | None) -> Path:
    """The database file, after `--database-url` / SWEATSHOP_DATABASE_URL are checked (masked in any message).

    The PostgreSQL engine so far carries the pool store only (sidecar/storage); governance and provisioning still
    speak sidecar/db.py, so a PostgreSQL URL is refused at start rather than half served.
    """
    try:
        target = choose_database(home, database_url)
    except DatabaseUrlError as exc:
        raise SystemExit(f"sweatshop-sidecar: {exc}") from None
    if target.engine is Engine.POSTGRES:
        raise SystemExit(
            f"sweatshop-sidecar: {target.masked()}: the PostgreSQL engine is not complete yet (governance and"
            " provisioning still need the SQLite file); start without --database-url / SWEATSHOP_DATABASE_URL"
        )
    assert target.path is not None
    return target.path


async def run(
    home: Path, framing: Framing, receive: ByteReceiveStream, send: ByteSendStream, database_url: str | None = None
) -> None:
    """Serve one peer until its input ends; the database is closed whatever happens.

    The pool's channels are bound before serving; health, agents, governance and provisioning (two thirds of the
    import time) are bound just after, so the app's first `org:status` is answered without waiting for them.
    """
    home.mkdir(parents=True, exist_ok=True)
    settings = SettingsStore(home / "settings.json")
    target = choose_sqlite(home, database_url)
    storage = SqliteDatabase(target)
    # Governance and provisioning still speak sidecar/db.py's connections; the pool speaks the storage idiom.
    db = storage.file
    try:
        await storage.open()
        methods: dict[str, Any] = {}
        late = LateMethods()
        transport = Transport(make_dispatch(methods, late), framing)

        async def notify(name: str, params: WireModel) -> None:
            await transport.notify(name, params.dump())

        notifications = Notifications(notify)
        sf = SfClient(lambda: settings.current.org_pool.sfPath)
        # The settings' limits; governance adds its narrowing once it is loaded (see bind_the_rest).
        limits = SettingsLimits(settings)
        pool = PoolService(storage, limits, sf.org_list, remote=CliRemoteOrgs(sf))
        notifications.watch_pool(pool)
        methods.update(bind_methods([OrgHandlers(pool, notifications)])[0])

        async with anyio.create_task_group() as tg:

            async def bind_the_rest() -> None:
                from sidecar.governance.service import GovernanceService
                from sidecar.handlers.agent import AgentHandlers
                from sidecar.handlers.auth import AuthHandlers
                from sidecar.handlers.governance import GovernanceHandlers
                from sidecar.handlers.provision import ProvisionHandlers
                from sidecar.handlers.system import SystemHandlers
                from sidecar.provisioning.service import ProvisioningService

                governance = GovernanceService(db, pool)
                notifications.watch_governance(governance, pool.status)
                await governance.load_catalog(settings.current.raw)
                settings.subscribe(governance.on_settings_changed)
                # While someone is signed in, their pool's entitlements narrow the settings (cached: no query).
                limits.narrow_with(governance)
                system = SystemHandlers(home, db, settings, sf.path, issue_sources=[lambda: governance.catalog_errors])
                provisioning = ProvisioningService(db, pool, sf, settings)
                notifications.watch_provisioning(provisioning.events)
                table, _ = bind_methods(
                    [
                        system,
                        AgentHandlers(pool, stop_hooks=[provisioning.stop_agent]),
                        AuthHandlers(governance),
                        GovernanceHandlers(governance),
                        ProvisionHandlers(provisioning, provisioning.sf_runner),
                    ]
                )
                methods.update(table)
                # Runs once transport.serve has attached the peer, so its restart report is not dropped.
                tg.start_soon(provisioning.serve)

            tg.start_soon(settings.watch)
            tg.start_soon(refresh_loop, pool, settings)
            tg.start_soon(late.load, bind_the_rest, LATE_BIND_IDLE_SECONDS)
            await transport.serve(receive, send)
            tg.cancel_scope.cancel()
    finally:
        await storage.close()
