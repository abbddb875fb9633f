"""The one clock every part of the station reads.

Everything that needs the time asks a :class:`Clock` handed to it at construction,
never ``time`` or ``asyncio.sleep`` directly. That gives two things:

* a simulated station can run faster than real time (``[sim] time_scale``), so an
  hour-long storm plays out in a minute with every window and timer agreeing;
* tests drive time by hand with :class:`ManualClock` and check order and timing
  exactly, without sleeping to wait for the system.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Protocol

#: Beijing time (UTC+8, no daylight saving): reports, the 08:00 hydrological day, the
#: self-test schedule. A fixed offset, so no time-zone database is needed on the device.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


def iso_utc(moment: datetime) -> str:
    """``2026-11-22T08:00:00.123Z``: the one timestamp format of the journal and the API.

    Any aware moment is converted to UTC first; a naive one is refused, since its
    zone would be a guess.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"iso_utc needs an aware datetime, got naive {moment!r}")
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def monotonic_at(clock: Clock, moment: datetime) -> float:
    """The clock's monotonic time at wall-clock ``moment``.

    A deadline that must survive a restart is kept in wall-clock time (monotonic time
    starts afresh with each process); this turns it back into one of this process.
    """
    return clock.monotonic() + (moment - clock.now()).total_seconds()


class Clock(Protocol):
    """What the station needs to know about time."""

    def now(self) -> datetime:
        """Wall-clock time, timezone-aware UTC."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (scaled in a fast simulation)."""

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""


class SystemClock:
    """Real time, optionally sped up by ``time_scale`` for a simulated station.

    At ``time_scale = 60`` one real second is one simulated minute: ``monotonic()``
    and ``now()`` advance sixty times faster, and ``sleep(60)`` returns after one
    real second. ``start`` sets the wall-clock time it starts from (a simulated station
    carries on from where its last run left off: :mod:`edge.sim.clock_epoch`).
    """

    def __init__(self, time_scale: float = 1.0, *, start: datetime | None = None) -> None:
        if time_scale <= 0:
            raise ValueError(f"time_scale must be > 0, got {time_scale}")
        self.time_scale = time_scale
        self._mono0 = time.monotonic()
        self._wall0 = start or datetime.now(UTC)
        self._own_time = start is not None or time_scale != 1.0

    def monotonic(self) -> float:
        return self._mono0 + (time.monotonic() - self._mono0) * self.time_scale

    def now(self) -> datetime:
        if not self._own_time:
            return datetime.now(UTC)
        return self._wall0 + timedelta(seconds=self.monotonic() - self._mono0)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.time_scale)

    def to_real_seconds(self, seconds: float) -> float:
        """How long ``seconds`` of clock time last in real time (for thread timeouts)."""
        return seconds / self.time_scale


class ManualClock:
    """A clock that moves only when a test says so.

    ``sleep`` parks the caller until :meth:`advance` carries the clock past its
    deadline. ``advance`` wakes sleepers one deadline at a time and lets the event
    loop run between them, so a task that sleeps again after waking is woken again
    within the same ``advance`` if its new deadline is still inside the step.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._wall0 = start or datetime(2026, 7, 1, 0, 0, tzinfo=UTC)
        self._t = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def monotonic(self) -> float:
        return self._t

    def now(self) -> datetime:
        return self._wall0 + timedelta(seconds=self._t)

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._t + max(0.0, seconds), next(self._order), future))
        await future

    def to_real_seconds(self, seconds: float) -> float:
        return 0.0

    async def settle(self) -> None:
        """Let every task that can run, run (a few loop turns)."""
        for _ in range(20):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, waking sleepers in deadline order."""
        target = self._t + seconds
        await self.settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline = self._sleepers[0][0]
            self._t = max(self._t, deadline)
            woken = 0
            while self._sleepers and self._sleepers[0][0] == deadline:
                future = heapq.heappop(self._sleepers)[2]
                if not future.done():  # a cancelled sleeper needs no turn of the loop
                    future.set_result(None)
                    woken += 1
            if woken:
                await self.settle()
        self._t = target
        await self.settle()

    @property
    def pending_sleepers(self) -> int:
        return sum(1 for _, _, f in self._sleepers if not f.done())
