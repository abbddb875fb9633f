"""Stopping background tasks the one safe way.

A part that stops must know its tasks have finished unwinding (their ``finally``
blocks ran: a relay switched OFF, a port closed) before it reports itself stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from typing import Any, TypeVar

T = TypeVar("T")


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any] | None]) -> None:
    """Cancel every task and wait until each has unwound; their errors are not raised.

    A cancellation of the caller itself still propagates (``gather`` re-raises it), so a
    stopping part never swallows the stop of whoever is stopping it.
    """
    live = [task for task in tasks if task is not None]
    for task in live:
        task.cancel()
    await asyncio.gather(*live, return_exceptions=True)


async def run_to_the_end(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` to its end even if the caller is cancelled meanwhile; the caller's
    cancellation is raised once it has ended.

    For a change of state made of several steps with awaits between them (a scheduler's
    queue and what is on air): cancelled half-way, it would leave the state half changed,
    believed by no one and repaired by no one.
    """
    task = asyncio.ensure_future(work)
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled():  # the work itself was cancelled (the loop is closing)
                raise
            cancelled = True
            continue
        if cancelled:
            raise asyncio.CancelledError
        return result
