"""Counter deltas: rain, wraps counted, resets and implausible jumps as gaps."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sensors.counter import (
    TIMING_SLACK_S,
    CounterOutcome,
    Plausibility,
    counter_step,
)

TIPPING = Plausibility(bucket_mm=0.1, max_tips_per_s=10.0)  # 1 mm/s: 60 mm/min
moduli = st.sampled_from([1 << 16, 1 << 32, 3_000_000])
scales = st.sampled_from([0.1, 0.2, 0.5, 0.0001, 0.001, 1.0])


def step(previous: int, new: int, *, elapsed_s: float = 60, modulus: int = 1 << 16,
         scale_mm: float = 0.1, across_outage: bool = False):  # type: ignore[no-untyped-def]
    return counter_step(previous, new, modulus=modulus, scale_mm=scale_mm, elapsed_s=elapsed_s,
                        plausibility=TIPPING, across_outage=across_outage)


def test_forward_move_is_rain() -> None:
    s = step(100, 103)
    assert s.outcome is CounterOutcome.RAIN
    assert s.counts == 3
    assert s.mm == pytest.approx(0.3)
    assert not s.is_gap


def test_no_move_is_zero_rain() -> None:
    s = step(7, 7, elapsed_s=1, modulus=1 << 32, scale_mm=0.2)
    assert (s.outcome, s.counts, s.mm) == (CounterOutcome.RAIN, 0, 0.0)


def test_u16_wrap_at_6553_5_mm_is_counted() -> None:
    s = step(65533, 4)
    assert s.outcome is CounterOutcome.WRAP
    assert s.counts == 7
    assert s.raw_delta == 4 - 65533


def test_a_rollover_below_the_width_wraps_there() -> None:
    # a Lambrecht rain[e] total starts again at 3000 mm (3 000 000 counts of 0.001 mm)
    s = step(2_999_900, 150, modulus=3_000_000, scale_mm=0.001)
    assert (s.outcome, s.counts) == (CounterOutcome.WRAP, 250)


def test_power_loss_reset_is_a_gap() -> None:
    s = step(1234, 2)
    assert s.outcome is CounterOutcome.RESET
    assert s.is_gap
    assert (s.counts, s.mm) == (0, 0.0)


def test_a_step_back_across_an_outage_is_a_reset_even_near_the_top() -> None:
    # the gauge lost power at 65530 and came back at 0, then 3 tips: it looks like a
    # wrap of 9 counts, but polls were missed in between: never phantom rain
    assert step(65530, 3).outcome is CounterOutcome.WRAP
    s = step(65530, 3, across_outage=True)
    assert s.outcome is CounterOutcome.RESET and s.mm == 0.0
    assert step(100, 103, across_outage=True).outcome is CounterOutcome.RAIN


def test_the_bound_is_what_the_instrument_can_count_whatever_the_poll() -> None:
    # the world-record minute (31.2 mm) counts at 5 s and at 60 s polls alike
    per_5_s = round(31.2 / 12 / 0.1)
    assert step(0, per_5_s, elapsed_s=5).outcome is CounterOutcome.RAIN
    assert step(0, 312, elapsed_s=60).outcome is CounterOutcome.RAIN
    # 1 mm/s over 60 s plus the timing slack, plus one count: the bound, exactly
    limit = int(1.0 * (60 + TIMING_SLACK_S) / 0.1 + 1e-9) + 1
    assert step(0, limit, elapsed_s=60).outcome is CounterOutcome.RAIN
    s = step(0, limit + 1, elapsed_s=60)
    assert s.outcome is CounterOutcome.IMPLAUSIBLE
    assert s.is_gap and s.counts == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"modulus": 1}, "modulus"),
        ({"scale_mm": 0}, "scale_mm"),
        ({"new": 65536}, "outside"),
        ({"previous": -1}, "outside"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict, message: str) -> None:
    args = {"previous": 0, "new": 1, "modulus": 1 << 16, "scale_mm": 0.1,
            "elapsed_s": 10} | kwargs
    previous, new = args.pop("previous"), args.pop("new")
    with pytest.raises(ValueError, match=message):
        counter_step(previous, new, plausibility=TIPPING, **args)
    with pytest.raises(ValueError, match="must be > 0"):
        Plausibility(bucket_mm=0, max_tips_per_s=1)


@given(
    modulus=moduli,
    scale=scales,
    start=st.integers(min_value=0),
    elapsed=st.floats(min_value=0, max_value=3600),
    data=st.data(),
)
def test_plausible_rain_is_credited_exactly_across_wraps(
    modulus: int, scale: float, start: int, elapsed: float, data: st.DataObject
) -> None:
    start %= modulus
    limit = TIPPING.max_counts(scale, elapsed)
    counts = data.draw(st.integers(min_value=0, max_value=min(limit, modulus - 1)))
    s = step(start, (start + counts) % modulus, modulus=modulus, scale_mm=scale,
             elapsed_s=elapsed)
    assert s.counts == counts
    assert not s.is_gap
    expected = CounterOutcome.WRAP if start + counts >= modulus else CounterOutcome.RAIN
    assert s.outcome is expected
    assert s.mm == pytest.approx(counts * scale)


@given(modulus=moduli, scale=scales, previous=st.integers(min_value=0),
       new=st.integers(min_value=0), elapsed=st.floats(min_value=0, max_value=86400),
       outage=st.booleans())
def test_never_credits_more_than_the_instrument_can_count(
    modulus: int, scale: float, previous: int, new: int, elapsed: float, outage: bool
) -> None:
    previous, new = previous % modulus, new % modulus
    s = step(previous, new, modulus=modulus, scale_mm=scale, elapsed_s=elapsed,
             across_outage=outage)
    assert s.mm <= TIPPING.max_mm_per_s * (elapsed + TIMING_SLACK_S) + scale + 1e-9
    assert s.is_gap == (s.counts == 0 and previous != new)
    if outage and new < previous:
        assert s.outcome is CounterOutcome.RESET
    if s.is_gap:
        assert s.mm == 0
