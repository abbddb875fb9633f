"""From two readings of a gauge's cumulative counter to rain, or to a data gap.

A tipping-bucket gauge reports a running count that only ever goes up, except
when it wraps at its width (a u16 at 0.1 mm wraps at 6553.5 mm) or when the gauge
lost power and restarted from zero. The two look alike: the counter went down.
This module decides which it was and refuses to guess:

* forward by a plausible amount -> rain;
* backwards, but forward modulo the width by a plausible amount -> a wrap, counted;
* backwards otherwise -> a reset: a data gap, never counted (the rain between the
  last reading and the reset is unknowable);
* forward by more than the gauge could catch in the elapsed time -> implausible:
  a data gap, never counted.

"Plausible" is at most ``MAX_MM_PER_MIN`` (8 mm/min, twice the heaviest real
intensity) over the elapsed time, plus one count of slack because a reading
quantises the bucket (a single tip may land just after the previous poll).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

MAX_MM_PER_MIN = 8.0


class CounterOutcome(StrEnum):
    RAIN = "rain"                # counter moved forward (possibly by zero)
    WRAP = "wrap"                # counter passed its top and started again; counted
    RESET = "reset"              # counter went back to (near) zero: a gap
    IMPLAUSIBLE = "implausible"  # too much rain for the elapsed time: a gap


@dataclass(frozen=True)
class CounterStep:
    """What one new reading means, relative to the previous one."""

    outcome: CounterOutcome
    counts: int       # counts credited as rain (0 for a gap)
    mm: float         # counts * scale_mm
    raw_delta: int    # new - previous, as read (negative for a wrap or reset)

    @property
    def is_gap(self) -> bool:
        return self.outcome in (CounterOutcome.RESET, CounterOutcome.IMPLAUSIBLE)


def max_plausible_counts(scale_mm: float, elapsed_s: float) -> int:
    """The largest count increase that can be real rain over ``elapsed_s``."""
    return int(MAX_MM_PER_MIN * max(0.0, elapsed_s) / 60.0 / scale_mm + 1e-9) + 1


def counter_step(
    previous: int, new: int, *, width: int, scale_mm: float, elapsed_s: float
) -> CounterStep:
    """Classify the move of a ``width``-bit counter from ``previous`` to ``new``.

    Raises ValueError for readings outside the counter's range or a bad width/scale:
    those are programming or decoding errors, not field conditions.
    """
    if width not in (16, 32):
        raise ValueError(f"width must be 16 or 32, got {width}")
    if scale_mm <= 0:
        raise ValueError(f"scale_mm must be > 0, got {scale_mm}")
    modulus = 1 << width
    for name, value in (("previous", previous), ("new", new)):
        if not 0 <= value < modulus:
            raise ValueError(f"{name} counter {value} outside 0..{modulus - 1}")
    limit = max_plausible_counts(scale_mm, elapsed_s)
    raw_delta = new - previous
    if raw_delta >= 0:
        if raw_delta > limit:
            return CounterStep(CounterOutcome.IMPLAUSIBLE, 0, 0.0, raw_delta)
        return CounterStep(CounterOutcome.RAIN, raw_delta, raw_delta * scale_mm, raw_delta)
    wrapped = raw_delta % modulus
    if wrapped <= limit:
        return CounterStep(CounterOutcome.WRAP, wrapped, wrapped * scale_mm, raw_delta)
    return CounterStep(CounterOutcome.RESET, 0, 0.0, raw_delta)
