"""What a rain gauge tells its owner: rain over an interval, a data gap, a change of health.

Shared by every kind of gauge (Modbus counter, GPIO pulse), so windows, warning levels
and the archive do not care how a gauge is wired.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sensors.counter import CounterOutcome


class GaugeState(StrEnum):
    UNKNOWN = "unknown"
    OK = "ok"
    OFFLINE = "offline"   # no usable reply for ``offline_after`` polls
    FAULT = "fault"       # the gauge says it is broken (status register, error value)


@dataclass(frozen=True)
class GaugeStatus:
    state: GaugeState
    since: datetime
    detail: str


@dataclass(frozen=True)
class CounterReading:
    """A raw counter value and when it was read (what the daemon persists)."""

    raw: int
    at: datetime


@dataclass(frozen=True)
class RainIncrement:
    """``mm`` fell between ``since`` and ``at`` (0 is a valid amount).

    ``since == at`` for a rain that is known at an instant (a tip of a pulse gauge).
    ``outcome`` is RAIN or WRAP, or None for the first reading with nothing to compare
    to (the baseline: ``mm`` is 0 and ``since`` is None). ``missed`` counts the polls
    between the two readings that failed or returned a fault: the rain of an outage is
    known in total, not in timing.
    """

    gauge_id: str
    at: datetime
    mm: float
    raw: int
    since: datetime | None
    outcome: CounterOutcome | None
    missed: int = 0


@dataclass(frozen=True)
class DataGap:
    """A reading that cannot be turned into rain (a reset or an implausible jump).

    The rain between ``since`` and ``at`` is unknown; nothing is counted. ``raw``
    becomes the new reference.
    """

    gauge_id: str
    at: datetime
    kind: CounterOutcome
    previous_raw: int
    raw: int
    since: datetime
    detail: str


@dataclass(frozen=True)
class StatusChange:
    gauge_id: str
    previous: GaugeStatus
    status: GaugeStatus


GaugeEvent = RainIncrement | DataGap | StatusChange
