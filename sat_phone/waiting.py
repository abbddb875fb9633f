"""Waiting on the injected clock: the first of some futures, or a timeout in clock seconds.

``asyncio.timeout`` reads the loop's real clock; the station's timeouts must follow
:class:`drivers.clock.Clock` so a test can stage a timeout by advancing a ManualClock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from drivers.clock import Clock


async def first_of(clock: Clock, futures: Iterable[asyncio.Future[Any]], timeout_s: float) -> Any:
    """The result of the first of ``futures`` to finish; TimeoutError after ``timeout_s``."""
    waits = list(futures)
    sleeper = asyncio.ensure_future(clock.sleep(timeout_s))
    try:
        done, _ = await asyncio.wait([*waits, sleeper], return_when=asyncio.FIRST_COMPLETED)
    finally:
        sleeper.cancel()
    for future in waits:
        if future in done:
            return future.result()
    raise TimeoutError


async def event_or_timeout(clock: Clock, event: asyncio.Event, timeout_s: float) -> bool:
    """Wait for ``event`` at most ``timeout_s`` clock seconds; True if it was set."""
    if event.is_set():
        return True
    waiter = asyncio.ensure_future(event.wait())
    try:
        await first_of(clock, [waiter], timeout_s)
    except TimeoutError:
        return False
    finally:
        waiter.cancel()
    return True

