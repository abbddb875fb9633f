"""Rainfall over the sliding windows that warnings use, and the hydrological day.

Semantics, exactly:

* An increment is the rain a gauge reported at the instant ``at`` of the reading
  (what fell since the previous reading is credited to the reading's time).
* The total of window ``W`` at instant ``now`` is the sum of the increments with
  ``now - W < at <= now`` -- a half-open interval closed at ``now``, so a reading
  taken exactly ``W`` ago has left the window and one taken at ``now`` is in it.
* The hydrological day of date D (SL 21 降水量观测规范: 以 8 时为日分界) runs from
  D 08:00 to D+1 08:00 Beijing time (UTC+8), i.e. exactly the UTC calendar day D;
  with the same convention, ``start < at <= end``: a reading at 08:00:00 still
  belongs to the day that ends then.

Structure: 5-minute bins aligned on the epoch (so also on Beijing and UTC hours),
as rain-alarm firmware keeps them, each with its total. A window's start never
falls on a bin boundary by itself (``now`` moves through the current bin, and every
window is a whole number of bins, so ``now - W`` sits at the same offset inside an
old bin), so a bin total alone cannot say how much of the trailing bin is inside
the window. Each bin therefore also keeps its non-zero increments (time, amount):
whole bins inside the window are summed from their totals, and the two edge bins
-- the current one and the one holding ``now - W`` -- from their increments. The
result is the exact sum above at any instant. Memory is bounded: bins older than
the longest window plus one bin are dropped, and a bin holds at most one entry
per reading (16 bytes each; a gauge polled every second in continuous rain keeps
about 1.4 MB).

Amounts are floats in mm; a total is summed in a different order than a naive
left-to-right sum, so the two may differ in the last bits (~1e-12 mm).
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from drivers.clock import BEIJING

BIN_S = 300
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


def _seconds(at: datetime) -> float:
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
    """Rain per hydrological day, for the days that had any increment."""
    totals: dict[date, float] = {}
    for at, mm in increments:
        day = hydrological_day(at)
        totals[day] = totals.get(day, 0.0) + mm
    return totals


@dataclass
class _Bin:
    times: array[float] = field(default_factory=lambda: array("d"))
    amounts: array[float] = field(default_factory=lambda: array("d"))
    total: float = 0.0

    def add(self, t: float, mm: float) -> None:
        if not self.times or t >= self.times[-1]:
            self.times.append(t)
            self.amounts.append(mm)
        else:
            i = bisect.bisect_right(self.times, t)
            self.times.insert(i, t)
            self.amounts.insert(i, mm)
        self.total += mm

    def sum_between(self, start: float, end: float) -> float:
        """Sum of the increments with start < t <= end."""
        lo = bisect.bisect_right(self.times, start)
        hi = bisect.bisect_right(self.times, end)
        return sum(self.amounts[lo:hi])


class RainfallWindows:
    """The recent rain of one gauge, answering any window's total at any instant.

    Keeps ``retention_s`` (the longest window by default) plus one bin. Asking for
    an instant earlier than the newest increment works as long as the window's
    start is still retained; rain older than that is forgotten.
    """

    def __init__(self, retention_s: int = max(WINDOWS.values())) -> None:
        if retention_s <= 0 or retention_s % BIN_S:
            raise ValueError(f"retention_s must be a positive multiple of {BIN_S}")
        self._retention_s = retention_s
        self._bins: dict[int, _Bin] = {}
        self._newest = float("-inf")

    def add(self, at: datetime, mm: float) -> None:
        """Credit ``mm`` of rain to the instant ``at``. Zero adds nothing."""
        if mm < 0:
            raise ValueError(f"rain cannot be negative, got {mm}")
        t = _seconds(at)
        self._newest = max(self._newest, t)
        self._prune(self._newest)
        index = int(t // BIN_S)
        if mm == 0 or index < self._oldest_kept(self._newest):
            return
        self._bins.setdefault(index, _Bin()).add(t, mm)

    def total(self, window: str | int, now: datetime) -> float:
        """Rain with ``now - window < at <= now``; ``window`` a name or seconds."""
        seconds = WINDOWS[window] if isinstance(window, str) else window
        end = _seconds(now)
        return self._sum_between(end - seconds, end)

    def totals(self, now: datetime) -> dict[str, float]:
        """Every window's total at ``now``, keyed by window name."""
        return {name: self.total(name, now) for name in WINDOWS}

    def day_total(self, now: datetime) -> float:
        """Rain of the hydrological day that ``now`` is in, up to ``now``."""
        start = hydrological_day_start(hydrological_day(now))
        return self._sum_between(_seconds(start), _seconds(now))

    def _oldest_kept(self, newest: float) -> int:
        return int(newest // BIN_S) - self._retention_s // BIN_S - 1

    def _prune(self, newest: float) -> None:
        oldest = self._oldest_kept(newest)
        for index in [i for i in self._bins if i < oldest]:
            del self._bins[index]

    def _sum_between(self, start: float, end: float) -> float:
        if end <= start:
            return 0.0
        first, last = int(start // BIN_S), int(end // BIN_S)
        total = 0.0
        for index, b in self._bins.items():
            if index < first or index > last:
                continue
            if first < index < last:
                total += b.total
            else:
                total += b.sum_between(start, end)
        return total
