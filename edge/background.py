"""Background work of one station part: started fire-and-forget, never lost, never silent.

A task that fails is logged and journaled as a fault (an action that did not happen must
not vanish); ``cancel_all`` stops what is left when the part stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from drivers.tasks import cancel_and_wait

if TYPE_CHECKING:
    from edge.journal import Journal

log = logging.getLogger(__name__)


class Background:
    def __init__(self, journal: Journal, source: str) -> None:
        self.journal = journal
        self.source = source
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: background action failed", self.source, exc_info=task.exception())
            self.journal.record(f"fault.{self.source}_action", self.source, "system",
                                error=repr(task.exception()))

    async def cancel_all(self) -> None:
        await cancel_and_wait(list(self._tasks))
