"""PostgreSQL LISTEN on a dedicated connection: every NOTIFY payload of a channel, in order, to one callback.

The pool's trigger (migration 0011) NOTIFYs inside each writing transaction, so a payload arrives only for a
change that committed. This module knows channels and text payloads, nothing of orgs: sidecar/pool/peers.py reads
them. The connection is its own (not the pool's): LISTEN belongs to a session, and a pooled connection would hand it
to whoever acquired it next.

A lost listener connection (server restarted, backend terminated) is noticed at once through asyncpg's termination
callback, or within KEEPALIVE_SECONDS by a probe (a half-open socket tells nothing until written to); the listener
reconnects at once, and while that fails it marks the database unavailable (requests answer DATABASE_UNAVAILABLE
without waiting on the network) and tries again with back-off. Once it
listens again it calls `resync`: whatever committed while nobody listened is re-read by the receiver, which says so.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream

from sidecar.storage.availability import RETRY_SECONDS, is_connection_loss

if TYPE_CHECKING:
    from sidecar.storage.database import PostgresDatabase

log = logging.getLogger(__name__)

# How often an idle listener checks that its connection still works.
KEEPALIVE_SECONDS = 2.0
CONNECT_TIMEOUT_SECONDS = 10.0

Received = Callable[[dict[str, Any]], Awaitable[None]]
Resync = Callable[[], Awaitable[None]]


class _Resync:
    """The marker queued after a reconnection, so the re-read follows every payload that arrived before it."""


async def listen(db: PostgresDatabase, channel: str, received: Received, resync: Resync) -> None:
    """Listen on `channel` until cancelled, reconnecting whenever the connection is lost."""
    send, receive = anyio.create_memory_object_stream[dict[str, Any] | _Resync](math.inf)
    up = anyio.Event()

    def woke() -> None:  # a request reached the database again: stop waiting out the back-off
        up.set()

    db.availability.on_up(woke)

    def payload(_conn: Any, _pid: int, _channel: str, text: str) -> None:
        try:
            data = json.loads(text)
        except ValueError:
            log.warning("ignored a notification on %s that is not JSON", channel)
            return
        if isinstance(data, dict):
            send.send_nowait(data)

    async with anyio.create_task_group() as tg:
        tg.start_soon(_deliver, receive, received, resync)
        pause = RETRY_SECONDS[0]
        first = True
        while True:
            conn = await _connect(db)
            if conn is None:
                await db.connection_lost("cannot connect")
                with anyio.move_on_after(pause):
                    await up.wait()
                up = anyio.Event()
                pause = min(pause * 2, RETRY_SECONDS[1])
                continue
            pause = RETRY_SECONDS[0]
            lost = anyio.Event()
            try:
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(channel, payload)
                db.availability.reached()
                if not first:
                    log.warning("listening on %s again; re-reading what may have changed meanwhile", channel)
                    send.send_nowait(_Resync())
                first = False
                await _watch(conn, lost)
            except Exception as exc:
                if not is_connection_loss(exc):
                    raise
            finally:
                conn.terminate()  # at once, without a goodbye to a server that may be gone
            # The pool's connections may have died with it (a restarted server): open fresh ones when next needed.
            # Requests are refused only if listening again fails (one terminated backend is not a lost server).
            log.warning("the listener's connection to the team database was lost; reconnecting")
            await db.expire_connections()


async def _connect(db: PostgresDatabase) -> Any:
    """A fresh connection for listening, or None when the server cannot be reached (any failure: the server may be
    starting, refusing this database, or gone)."""
    import asyncpg

    try:
        with anyio.fail_after(CONNECT_TIMEOUT_SECONDS):
            return await asyncpg.connect(dsn=db.target.url, server_settings=db.server_settings())
    except Exception as exc:
        log.debug("listener cannot connect: %s", type(exc).__name__)
        return None


async def _watch(conn: Any, lost: anyio.Event) -> None:
    """Return when the connection is gone: its termination callback fired, or a probe failed."""
    while not lost.is_set():
        with anyio.move_on_after(KEEPALIVE_SECONDS):
            await lost.wait()
        if lost.is_set() or conn.is_closed():
            return
        with anyio.fail_after(KEEPALIVE_SECONDS * 2):
            await conn.execute("SELECT 1")


async def _deliver(
    receive: MemoryObjectReceiveStream[dict[str, Any] | _Resync], received: Received, resync: Resync
) -> None:
    """One payload at a time, in arrival order; a failing receiver is logged and the next payload still goes."""
    async with receive:
        async for item in receive:
            try:
                if isinstance(item, _Resync):
                    await resync()
                else:
                    await received(item)
            except Exception:
                log.exception("handling a database notification failed")
