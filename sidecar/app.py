"""Composition root: open the database, build the services, bind the handlers, run the tasks. Nothing imports it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream
from jsonrpcserver import async_dispatch_to_serializable

from sidecar.db import Database
from sidecar.framing import Framing
from sidecar.handlers.agent import AgentHandlers
from sidecar.handlers.org import OrgHandlers
from sidecar.handlers.system import SystemHandlers
from sidecar.pool.service import PoolLimits, PoolService
from sidecar.rpc import bind_methods, normalize_response
from sidecar.settings import SettingsStore
from sidecar.sf.client import SfClient
from sidecar.transport import Message, Transport
from sidecar.wiremodel import WireModel

log = logging.getLogger(__name__)


def _identity(value: Any) -> Any:
    return value


@dataclass
class App:
    home: Path
    settings: SettingsStore
    db: Database
    sf: SfClient
    pool: PoolService
    transport: Transport

    def limits(self) -> PoolLimits:
        cfg = self.settings.current.org_pool
        return PoolLimits(
            max_orgs=cfg.maxOrgs,
            default_duration_days=cfg.defaultDurationDays,
            min_remaining_hours=cfg.minRemainingHours,
        )

    async def refresh_loop(self) -> None:
        """Mark expired orgs on a timer, so a lease ends (and the UI hears it) without anyone asking."""
        while True:
            await anyio.sleep(self.settings.current.org_pool.refreshIntervalSeconds)
            try:
                await self.pool.expire_due()
            except Exception:
                log.exception("expiry sweep failed")


async def run(home: Path, framing: Framing, receive: ByteReceiveStream, send: ByteSendStream) -> None:
    """Serve one peer until its input ends; the database is closed whatever happens."""
    home.mkdir(parents=True, exist_ok=True)
    settings = SettingsStore(home / "settings.json")
    db = Database(home / "sidecar.db")
    await db.open()
    try:
        methods: dict[str, Any] = {}

        async def dispatch(message: Message) -> Message | None:
            response = await async_dispatch_to_serializable(
                message, methods=methods, deserializer=_identity, validator=_identity  # type: ignore[arg-type]
            )
            return normalize_response(response)

        transport = Transport(dispatch, framing)

        async def notify(name: str, params: WireModel) -> None:
            await transport.notify(name, params.dump())

        sf = SfClient(lambda: settings.current.org_pool.sfPath)
        app = App(home, settings, db, sf, pool=None, transport=transport)  # type: ignore[arg-type]
        app.pool = PoolService(db, app.limits, sf.org_list)
        handlers = [
            OrgHandlers(app.pool, notify),
            AgentHandlers(app.pool),
            SystemHandlers(home, db, settings, sf.path),
        ]
        table, _ = bind_methods(handlers)
        methods.update(table)
        async with anyio.create_task_group() as tg:
            tg.start_soon(settings.watch)
            tg.start_soon(app.refresh_loop)
            await transport.serve(receive, send)
            tg.cancel_scope.cancel()
    finally:
        await db.close()
