"""Rain per minute: how the archive keeps it, and the series the API draws from it.

A reading's rain is spread evenly over the interval it fell in, so a minute bin gets
the share of each interval that lies inside it (an instant goes to the minute that
contains it, ``start < at <= end`` like every other bin). Minutes are aligned on the
epoch, i.e. on every UTC and Beijing hour; a bin is keyed by its start in epoch seconds
and holds the rain of ``(start, start + 60]``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime

MINUTE_S = 60


def _minute_of_instant(t: float) -> int:
    """The start of the minute ``(m, m + 60]`` that holds the instant ``t``."""
    return (math.ceil(t / MINUTE_S) - 1) * MINUTE_S


def spread_over_minutes(start: float, end: float, mm: float) -> list[tuple[int, float]]:
    """``mm`` over ``(start, end]`` (epoch seconds) as (minute start, mm) shares."""
    if end < start:
        raise ValueError("an interval cannot end before it starts")
    if mm == 0:
        return []
    if end == start:
        return [(_minute_of_instant(end), mm)]
    out = []
    minute = int(start // MINUTE_S) * MINUTE_S
    span = end - start
    while minute < end:
        overlap = min(end, minute + MINUTE_S) - max(start, minute)
        if overlap > 0:
            out.append((minute, mm * overlap / span))
        minute += MINUTE_S
    return out


def series(
    minutes: Iterable[tuple[int, float]], start: datetime, end: datetime, step_s: int
) -> list[tuple[datetime, float]]:
    """Rain per ``step_s`` bucket over ``(start, end]``, every bucket present (dry = 0).

    A minute that straddles a bucket boundary (``start`` not on a whole minute) is
    shared between the two in proportion, as its rain was spread over the minute.
    """
    count = max(1, int((end - start).total_seconds() // step_s))
    buckets = [0.0] * count
    base = start.timestamp()
    for minute, mm in minutes:
        for bucket in range(max(0, int((minute - base) // step_s)), count):
            lo, hi = base + bucket * step_s, base + (bucket + 1) * step_s
            overlap = min(hi, minute + MINUTE_S) - max(lo, minute)
            if overlap > 0:
                buckets[bucket] += mm * overlap / MINUTE_S
            if hi >= minute + MINUTE_S:
                break
    return [(datetime.fromtimestamp(base + (i + 1) * step_s, UTC), round(mm, 4))
            for i, mm in enumerate(buckets)]
