"""Composition root: open the database, build the services, bind the handlers, run the tasks. Nothing imports it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream

from sidecar.errors import DatabaseUnavailable
from sidecar.handlers.notifications import Notifications
from sidecar.handlers.org import OrgHandlers
from sidecar.pool.holder import LeaseHolder
from sidecar.pool.instances import Instances
from sidecar.pool.peers import POOL_CHANNEL, PeerChanges
from sidecar.pool.service import PoolService, SettingsLimits
from sidecar.rpc import surface
from sidecar.rpc.dispatch import Dispatcher, LateMethods
from sidecar.rpc.framing import Framing
from sidecar.rpc.session import Session
from sidecar.settings import SettingsStore
from sidecar.sf.client import SfClient
from sidecar.sf.remote_orgs import CliRemoteOrgs
from sidecar.storage.database import Database, PostgresDatabase, open_target
from sidecar.storage.url import DatabaseTarget, DatabaseUrlError, Engine, choose_database
from sidecar.wiremodel import WireModel

log = logging.getLogger(__name__)

# How long the late batch waits for a request that needs it before binding anyway: long enough for the first
# answer to go out, short enough that nobody notices.
LATE_BIND_IDLE_SECONDS = 0.05
# Exit status when the database cannot be opened: not 0 (a clean stop), so the Electron client restarts and says so.
EXIT_DATABASE_UNAVAILABLE = 3
# Pauses before a background task that met a busy or lost database tries again: doubling, capped.
DATABASE_RETRY_SECONDS = (1.0, 30.0)


async def retrying(name: str, task: Callable[[], Awaitable[object]]) -> None:
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


async def refresh_loop(pool: PoolService, settings: SettingsStore, db: Database) -> None:
    """Mark expired orgs on a timer, so a lease ends (and the UI hears it) without anyone asking; warn the agents
    whose leased org expires soon (once each, see PoolService.warn_expiring)."""
    while True:
        try:
            await pool.warn_expiring()
        except Exception:
            log.exception("expiry warnings failed")
        await anyio.sleep(settings.current.org_pool.refreshIntervalSeconds)
        db.check_file()  # a deleted or replaced database file is noticed even when nobody writes
        try:
            await pool.expire_due()
        except Exception:
            log.exception("expiry sweep failed")


def choose_target(home: Path, database_url: str | None) -> DatabaseTarget:
    """The database: `--database-url`, else SWEATSHOP_DATABASE_URL, else the SQLite file (masked in any message)."""
    try:
        return choose_database(home, database_url)
    except DatabaseUrlError as exc:
        raise SystemExit(f"sweatshop-sidecar: {exc}") from None


async def run(
    home: Path,
    framing: Framing,
    receive: ByteReceiveStream,
    send: ByteSendStream,
    stop: anyio.Event | None = None,
    database_url: str | None = None,
) -> None:
    """Serve one peer until its input ends or `stop` is set; the database is closed whatever happens.

    The pool's channels are bound before serving; health, agents, governance and provisioning (two thirds of the
    import time) are bound just after, so the app's first `org:status` is answered without waiting for them.
    """
    settings = SettingsStore(home / "settings.json")
    storage = open_target(choose_target(home, database_url))
    try:
        await storage.open()
    except ConnectionError as exc:  # PostgreSQL unreachable: the message names the masked URL only
        raise SystemExit(f"sweatshop-sidecar: {exc}") from None
    except DatabaseUnavailable as exc:
        # One sentence, no traceback; every connection is closed, so nothing keeps the process from exiting.
        log.error("%s", exc.message)
        raise SystemExit(EXIT_DATABASE_UNAVAILABLE) from None
    try:
        late = LateMethods()
        dispatcher = Dispatcher(late)
        transport = Session(dispatcher, framing)

        async def notify(name: str, params: WireModel) -> None:
            await transport.notify(name, params.dump())

        notifications = Notifications(notify)
        sf = SfClient(lambda: settings.current.org_pool.sfPath)
        # The settings' limits; governance adds its narrowing once it is loaded (see bind_the_rest).
        limits = SettingsLimits(settings)
        holder = LeaseHolder.for_database(
            storage.engine is Engine.POSTGRES, home, lambda: settings.current.org_pool.machineName
        )
        pool = PoolService(
            storage,
            limits,
            lambda: sf.org_list(settings.current.org_pool.stepTimeoutMinutes * 60),
            holder=holder,
            remote=CliRemoteOrgs(sf),
        )
        if holder.shared:  # one capacity for the team, stored in the database (the first sidecar's maxOrgs)
            await pool.start_team(settings.current.org_pool.maxOrgs)
        notifications.watch_pool(pool)
        # A shared pool: heartbeat, and reaping of leases whose desktop went away (the row exists before serving).
        instances = Instances(storage, pool, lambda: settings.current.org_pool.leaseTimeoutMinutes)
        if holder.shared:
            await instances.start()
        surface.bind(dispatcher, [OrgHandlers(pool, notifications)])
        # Other machines' commits, heard through NOTIFY on a shared pool; on SQLite nobody else writes unseen.
        peers = PeerChanges(pool, storage.origin if isinstance(storage, PostgresDatabase) else "")
        notifications.watch_resync(peers.resynced)

        async with anyio.create_task_group() as tg:

            async def bind_the_rest() -> None:
                from sidecar.governance.service import GovernanceService
                from sidecar.handlers.agent import AgentHandlers
                from sidecar.handlers.auth import AuthHandlers
                from sidecar.handlers.governance import GovernanceHandlers
                from sidecar.handlers.provision import ProvisionHandlers
                from sidecar.handlers.system import SystemHandlers
                from sidecar.provisioning.service import ProvisioningService

                governance = GovernanceService(storage, pool)
                try:
                    await governance.load_catalog(settings.current.raw)
                except DatabaseUnavailable as exc:  # busy right after start: serve, and load it once the lock is free
                    log.warning("governance catalog not loaded yet: %s", exc.message)
                    tg.start_soon(retrying, "governance catalog", lambda: governance.load_catalog(settings.current.raw))
                # After the start-up load: the catalog the sidecar starts with is no change to announce.
                notifications.watch_governance(governance, pool.status)
                settings.subscribe(governance.on_settings_changed)
                # While someone is signed in, their pool's entitlements narrow the settings (cached: no query).
                limits.narrow_with(governance)
                system = SystemHandlers(
                    home, storage, settings, sf.path, issue_sources=[lambda: governance.catalog_errors]
                )
                provisioning = ProvisioningService(storage, pool, sf, settings)
                notifications.watch_provisioning(provisioning.events)

                async def wake_queue(_: object) -> None:  # an org may have been freed while nobody listened
                    provisioning.wake()

                peers.resynced.subscribe(wake_queue)
                surface.bind(
                    dispatcher,
                    [
                        system,
                        AgentHandlers(pool, stop_hooks=[provisioning.stop_agent]),
                        AuthHandlers(governance),
                        GovernanceHandlers(governance, pool),
                        ProvisionHandlers(provisioning, provisioning.sf_runner),
                    ],
                )
                unbound = surface.missing(dispatcher.names)
                if unbound:
                    raise RuntimeError(f"surface methods without a handler: {unbound}")
                # Runs once transport.serve has attached the peer, so its restart report is not dropped.
                tg.start_soon(retrying, "provisioning", provisioning.serve)

            tg.start_soon(settings.watch)
            tg.start_soon(refresh_loop, pool, settings, storage)
            if isinstance(storage, PostgresDatabase):  # every machine's commits reach this client (peers.py)
                from sidecar.storage.listener import listen

                tg.start_soon(instances.run)
                tg.start_soon(listen, storage, POOL_CHANNEL, peers.received, peers.resync)
            tg.start_soon(late.load, bind_the_rest, LATE_BIND_IDLE_SECONDS)
            await transport.serve(receive, send, stop)
            tg.cancel_scope.cancel()
    finally:
        await storage.close()
