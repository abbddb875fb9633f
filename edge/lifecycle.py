"""Named lifecycle events on one bus: ``ready``, ``stopping``, ``stopped``.

Every handler of an event runs even when another fails; a failure is logged by name.
That is what makes shutdown safe: the handler that drives the relays OFF runs even if
the one before it (closing a serial port, say) raised.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Literal

log = logging.getLogger(__name__)

Event = Literal["ready", "stopping", "stopped"]
Handler = Callable[[], Awaitable[None] | None]


class Lifecycle:
    def __init__(self) -> None:
        self._handlers: dict[str, list[tuple[str, Handler]]] = {}

    def on(self, event: Event, name: str, handler: Handler, *, first: bool = False) -> None:
        """Run ``handler`` on ``event`` (``first``: before the handlers already there)."""
        handlers = self._handlers.setdefault(event, [])
        handlers.insert(0, (name, handler)) if first else handlers.append((name, handler))

    async def emit(self, event: Event) -> list[str]:
        """Run every handler of ``event`` in order; returns the names of those that failed."""
        failed = []
        for name, handler in self._handlers.get(event, []):
            try:
                result = handler()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("%s handler %r failed", event, name)
                failed.append(name)
        return failed
