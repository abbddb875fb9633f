"""From two readings of a gauge's cumulative counter to rain, or to a data gap.

A tipping-bucket gauge reports a running count that only ever goes up, except when
it rolls over at the top of its range (a u16 at 0.1 mm at 6553.5 mm; a Lambrecht
rain[e] at 3000 mm) or when the gauge lost power and restarted from zero. Both make
the counter go down. This module decides which it was and refuses to guess:

* forward by a plausible amount -> rain;
* backwards, but forward modulo the rollover by a plausible amount, with no missed
  poll in between -> a wrap, counted;
* backwards otherwise -> a reset: a data gap, never counted (the rain between the
  last reading and the reset is unknowable). Across an outage (polls that failed or
  that the gauge answered with a fault between the two readings) a backward step is
  always a reset: a gauge that lost power near the top of its counter and came back
  at 0 looks exactly like a wrap, and counting it would be phantom rain (the price: a
  true rollover -- once in years -- across a missed poll loses that one step's rain,
  as a journaled gap);
* forward by more than the instrument can count in the elapsed time -> implausible:
  a data gap, never counted.

"Plausible" is what the instrument can count, not a climate figure: its bucket times
its fastest tip rate (:class:`Plausibility`, per gauge model), over the elapsed time
plus a few seconds of timing slack (a reading is time-stamped when its reply arrives,
not when the gauge latched the counter), plus one count (the counter quantises the
bucket). Real minutes go far beyond any "heaviest intensity" (31.2 mm in one minute
is the world record), and the cloudburst is what the alarm exists for: a step within
the bound counts, whatever the poll interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

TIMING_SLACK_S = 2.0


class CounterOutcome(StrEnum):
    RAIN = "rain"                # counter moved forward (possibly by zero)
    WRAP = "wrap"                # counter passed its top and started again; counted
    RESET = "reset"              # counter went back (power loss, replaced gauge): a gap
    IMPLAUSIBLE = "implausible"  # more than the instrument can count: a gap
    UNTIMED = "untimed"          # the station's clock went back: the rain has no place in time


@dataclass(frozen=True)
class Plausibility:
    """What an instrument can count: ``bucket_mm`` per tip, at most ``max_tips_per_s``."""

    bucket_mm: float
    max_tips_per_s: float
    timing_slack_s: float = TIMING_SLACK_S

    def __post_init__(self) -> None:
        if self.bucket_mm <= 0 or self.max_tips_per_s <= 0:
            raise ValueError("bucket_mm and max_tips_per_s must be > 0")
        if self.timing_slack_s < 0:
            raise ValueError(f"timing_slack_s must be >= 0, got {self.timing_slack_s}")

    @property
    def max_mm_per_s(self) -> float:
        return self.bucket_mm * self.max_tips_per_s

    def max_counts(self, scale_mm: float, elapsed_s: float) -> int:
        """The largest count increase that can be real rain over ``elapsed_s``."""
        seconds = max(0.0, elapsed_s) + self.timing_slack_s
        return int(self.max_mm_per_s * seconds / scale_mm + 1e-9) + 1


@dataclass(frozen=True)
class CounterStep:
    """What one new reading means, relative to the previous one."""

    outcome: CounterOutcome
    counts: int       # counts credited as rain (0 for a gap)
    mm: float         # counts * scale_mm
    raw_delta: int    # new - previous, as read (negative for a wrap or reset)

    @property
    def is_gap(self) -> bool:
        return self.outcome is not CounterOutcome.RAIN and self.outcome is not CounterOutcome.WRAP


def counter_step(
    previous: int, new: int, *, modulus: int, scale_mm: float, elapsed_s: float,
    plausibility: Plausibility, across_outage: bool = False,
) -> CounterStep:
    """Classify the move of a counter that rolls over at ``modulus`` from ``previous`` to ``new``.

    ``across_outage``: polls were missed (no reply, or a fault) between the two readings.
    Raises ValueError for readings outside the counter's range or a bad modulus/scale:
    those are programming or decoding errors, not field conditions (the gauge turns an
    out-of-range reading into a fault before it gets here).
    """
    if modulus < 2:
        raise ValueError(f"modulus must be >= 2, got {modulus}")
    if scale_mm <= 0:
        raise ValueError(f"scale_mm must be > 0, got {scale_mm}")
    for name, value in (("previous", previous), ("new", new)):
        if not 0 <= value < modulus:
            raise ValueError(f"{name} counter {value} outside 0..{modulus - 1}")
    limit = plausibility.max_counts(scale_mm, elapsed_s)
    raw_delta = new - previous
    if raw_delta >= 0:
        if raw_delta > limit:
            return CounterStep(CounterOutcome.IMPLAUSIBLE, 0, 0.0, raw_delta)
        return CounterStep(CounterOutcome.RAIN, raw_delta, raw_delta * scale_mm, raw_delta)
    wrapped = raw_delta % modulus
    if wrapped <= limit and not across_outage:
        return CounterStep(CounterOutcome.WRAP, wrapped, wrapped * scale_mm, raw_delta)
    return CounterStep(CounterOutcome.RESET, 0, 0.0, raw_delta)
