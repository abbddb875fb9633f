"""Stopping background tasks the one safe way.

A part that stops must know its tasks have finished unwinding (their ``finally``
blocks ran: a relay switched OFF, a port closed) before it reports itself stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any] | None]) -> None:
    """Cancel every task and wait until each has unwound; their errors are not raised.

    A cancellation of the caller itself still propagates (``gather`` re-raises it), so a
    stopping part never swallows the stop of whoever is stopping it.
    """
    live = [task for task in tasks if task is not None]
    for task in live:
        task.cancel()
    await asyncio.gather(*live, return_exceptions=True)
