"""One way for the domain to tell whoever listens that something happened: `Listeners.subscribe` and `publish`.

The pool, governance, settings and provisioning each own a `Listeners` of their own event type, and publish only
after the change is committed (a listener never hears of a change that was rolled back). A listener that raises is
logged and the others still run: a broken listener must not undo, hide or stop a change others need to hear of.
The wire names of these events live in one place, `sidecar/handlers/notifications.py`; nothing here knows them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

E = TypeVar("E")
Listener = Callable[[E], Awaitable[None]]


class Listeners(Generic[E]):
    """The listeners of one kind of event, called one after another, in the order they subscribed."""

    def __init__(self, what: str) -> None:
        self._what = what  # names the publisher in the log line of a failing listener
        self._listeners: list[Listener[E]] = []

    def subscribe(self, listener: Listener[E]) -> Callable[[], None]:
        """Add a listener; returns the function that removes it again."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    async def publish(self, event: E) -> None:
        for listener in list(self._listeners):
            try:
                await listener(event)
            except Exception:
                # The event's type only, never its repr: an event may carry an org's login URL.
                log.exception(
                    "%s listener %s failed on a %s",
                    self._what,
                    getattr(listener, "__qualname__", listener),
                    type(event).__name__,
                )

    async def publish_all(self, events: list[E]) -> None:
        for event in events:
            await self.publish(event)

    def __len__(self) -> int:
        return len(self._listeners)
