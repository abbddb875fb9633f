"""Rainfall over the sliding windows that warnings use, and the hydrological day.

Semantics, exactly:

* Rain is booked over the interval it fell in: a reading of a counter says that ``mm``
  fell between the previous reading and this one, ``(start, end]``, and it is spread
  evenly over that interval (the best knowledge there is: a poll's rain near an hour
  boundary goes to both hours in proportion, not all to the later one). A rain known
  at an instant (a tip of a pulse gauge: ``start == end``) is booked at that instant.
* The total of window ``W`` at instant ``now`` is the rain booked in
  ``(now - W, now]``: the part of each interval that lies inside it, and each instant
  with ``now - W < at <= now`` -- half-open, closed at ``now``, so a tip exactly ``W``
  ago has left the window and one at ``now`` is in it. A reading taken at ``now``
  counts in full in every window at least as long as its interval.
* The hydrological day of date D (SL 21 降水量观测规范: 以 8 时为日分界) runs from
  D 08:00 to D+1 08:00 Beijing time (UTC+8), i.e. exactly the UTC calendar day D;
  with the same convention, ``start < at <= end``: rain at 08:00:00 still belongs to
  the day that ends then.

Structure: the cumulative rain C(t) as a piecewise-linear curve (breakpoints ``t``,
``C``), right-continuous at instants (two breakpoints at the same ``t``). A window's
total is C(now) - C(now - W): two binary searches, exact at any instant. Readings
arrive in time order and append; an interval that overlaps earlier ones (rain restored
from the archive's minute bins, then the first live reading) is merged in exactly, at
the cost of a copy. Memory is bounded: breakpoints older than the longest window are
dropped (two doubles per rainy reading: a gauge polled every second in a whole day of
rain keeps about 1.4 MB).

Amounts are floats in mm; a total is a difference of two running sums, so it may
differ from a naive sum in the last bits (~1e-12 mm).
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from drivers.clock import BEIJING

WINDOWS: dict[str, int] = {
    "10min": 600,
    "30min": 1800,
    "1h": 3600,
    "3h": 3 * 3600,
    "6h": 6 * 3600,
    "12h": 12 * 3600,
    "24h": 24 * 3600,
}
_DAY_START_HOUR_BEIJING = 8
_PRUNE_EVERY = 512


def seconds(at: datetime) -> float:
    if at.tzinfo is None:
        raise ValueError("rainfall timestamps must be timezone-aware")
    return at.timestamp()


def hydrological_day(at: datetime) -> date:
    """The date of the hydrological day that ``at`` belongs to (start < at <= end)."""
    local = at.astimezone(BEIJING) - timedelta(hours=_DAY_START_HOUR_BEIJING)
    day = local.date()
    if local.time() == datetime.min.time():
        day -= timedelta(days=1)
    return day


def hydrological_day_start(day: date) -> datetime:
    """When the hydrological day ``day`` begins (08:00 Beijing), as UTC."""
    local = datetime(day.year, day.month, day.day, _DAY_START_HOUR_BEIJING, tzinfo=BEIJING)
    return local.astimezone(UTC)


def daily_totals(increments: Iterable[tuple[datetime, float]]) -> dict[date, float]:
    """Rain per hydrological day, for the days that had any increment (instants)."""
    totals: dict[date, float] = {}
    for at, mm in increments:
        day = hydrological_day(at)
        totals[day] = totals.get(day, 0.0) + mm
    return totals


class RainfallWindows:
    """The recent rain of one gauge, answering any window's total at any instant.

    Keeps ``retention_s`` (the longest window by default). Asking for an instant
    earlier than the newest rain works as long as the window's start is still
    retained; rain older than that is forgotten.
    """

    def __init__(self, retention_s: int = max(WINDOWS.values())) -> None:
        if retention_s <= 0:
            raise ValueError("retention_s must be positive")
        self._retention_s = retention_s
        self._t: array[float] = array("d")
        self._c: array[float] = array("d")
        self._appended = 0

    def __len__(self) -> int:
        """Breakpoints kept (for memory checks)."""
        return len(self._t)

    def add(self, at: datetime, mm: float) -> None:
        """Book ``mm`` of rain at the instant ``at``. Zero adds nothing."""
        self.add_spread(at, at, mm)

    def add_spread(self, start: datetime, end: datetime, mm: float) -> None:
        """Book ``mm`` of rain spread evenly over ``(start, end]``. Zero adds nothing."""
        if mm < 0:
            raise ValueError(f"rain cannot be negative, got {mm}")
        s, e = seconds(start), seconds(end)
        if e < s:
            raise ValueError("an interval cannot end before it starts")
        if mm == 0:
            return
        t, c = self._t, self._c
        if not t or s >= t[-1]:
            last = c[-1] if c else 0.0
            if not t or s > t[-1]:
                t.append(s)
                c.append(last)
            t.append(e)
            c.append(last + mm)
        else:
            self._merge(s, e, mm)
        self._appended += 1
        if self._appended % _PRUNE_EVERY == 0:
            self._prune()

    def total(self, window: str | int, now: datetime) -> float:
        """Rain in ``(now - window, now]``; ``window`` a name or seconds."""
        span = WINDOWS[window] if isinstance(window, str) else window
        end = seconds(now)
        return max(0.0, self._cumulative(end) - self._cumulative(end - span))

    def totals(self, now: datetime) -> dict[str, float]:
        """Every window's total at ``now``, keyed by window name."""
        return {name: self.total(name, now) for name in WINDOWS}

    def day_total(self, now: datetime) -> float:
        """Rain of the hydrological day that ``now`` is in, up to ``now``."""
        start = hydrological_day_start(hydrological_day(now))
        return max(0.0, self._cumulative(seconds(now)) - self._cumulative(seconds(start)))

    def _cumulative(self, at: float) -> float:
        """C(at): all rain booked up to and including ``at`` (right-continuous)."""
        t, c = self._t, self._c
        i = bisect.bisect_right(t, at) - 1
        if i < 0:
            return c[0] if c else 0.0
        if i == len(t) - 1:
            return c[i]
        return c[i] + (c[i + 1] - c[i]) * (at - t[i]) / (t[i + 1] - t[i])

    def _merge(self, s: float, e: float, mm: float) -> None:
        """Add an interval that does not lie after every breakpoint (rare: a copy).

        Old breakpoints after the interval rise by ``mm``, those inside it by the
        share of the ramp; the interval's own ends become breakpoints. An instant's
        step comes after the old breakpoints at its time (the curve is right-continuous).
        """
        old_t, old_c = list(self._t), list(self._c)
        at_s, at_e = self._cumulative(s), self._cumulative(e)

        def added(x: float) -> float:
            if x > e or (x == e and e > s):
                return mm
            if x <= s:
                return 0.0
            return mm * (x - s) / (e - s)

        points = [(x, y + added(x)) for x, y in zip(old_t, old_c, strict=True)]
        ends = [(s, at_s), (e, at_e + mm)]
        index = bisect.bisect_right(old_t, s)
        points.insert(index, ends[0])
        points.insert(bisect.bisect_right(old_t, e) + 1, ends[1])
        self._t = array("d", (x for x, _ in points))
        self._c = array("d", (y for _, y in points))

    def _prune(self) -> None:
        t = self._t
        if not t:
            return
        cut = bisect.bisect_right(t, t[-1] - self._retention_s) - 1
        if cut > 0:
            base = self._c[cut]
            self._t = t[cut:]
            self._c = array("d", (y - base for y in self._c[cut:]))
