"""Counter deltas: rain, wraps counted, resets and implausible jumps as gaps."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sensors.counter import (
    MAX_MM_PER_MIN,
    CounterOutcome,
    counter_step,
    max_plausible_counts,
)

widths = st.sampled_from([16, 32])
scales = st.sampled_from([0.1, 0.2, 0.5, 0.0001, 1.0])


def test_forward_move_is_rain() -> None:
    step = counter_step(100, 103, width=16, scale_mm=0.1, elapsed_s=60)
    assert step.outcome is CounterOutcome.RAIN
    assert step.counts == 3
    assert step.mm == pytest.approx(0.3)
    assert not step.is_gap


def test_no_move_is_zero_rain() -> None:
    step = counter_step(7, 7, width=32, scale_mm=0.2, elapsed_s=1)
    assert (step.outcome, step.counts, step.mm) == (CounterOutcome.RAIN, 0, 0.0)


def test_u16_wrap_at_6553_5_mm_is_counted() -> None:
    step = counter_step(65533, 4, width=16, scale_mm=0.1, elapsed_s=60)
    assert step.outcome is CounterOutcome.WRAP
    assert step.counts == 7
    assert step.raw_delta == 4 - 65533


def test_power_loss_reset_is_a_gap() -> None:
    step = counter_step(1234, 2, width=16, scale_mm=0.1, elapsed_s=60)
    assert step.outcome is CounterOutcome.RESET
    assert step.is_gap
    assert (step.counts, step.mm) == (0, 0.0)


def test_more_than_8_mm_per_min_is_implausible() -> None:
    # 1 s at 8 mm/min is 0.133 mm: one 0.1 mm count plus one count of slack.
    assert counter_step(0, 2, width=16, scale_mm=0.1, elapsed_s=1).outcome is CounterOutcome.RAIN
    step = counter_step(0, 3, width=16, scale_mm=0.1, elapsed_s=1)
    assert step.outcome is CounterOutcome.IMPLAUSIBLE
    assert step.is_gap and step.counts == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"width": 24}, "width"),
        ({"scale_mm": 0}, "scale_mm"),
        ({"new": 65536}, "outside"),
        ({"previous": -1}, "outside"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict, message: str) -> None:
    args = {"previous": 0, "new": 1, "width": 16, "scale_mm": 0.1, "elapsed_s": 10} | kwargs
    previous, new = args.pop("previous"), args.pop("new")
    with pytest.raises(ValueError, match=message):
        counter_step(previous, new, **args)


@given(
    width=widths,
    scale=scales,
    start=st.integers(min_value=0),
    elapsed=st.floats(min_value=0, max_value=3600),
    data=st.data(),
)
def test_plausible_rain_is_credited_exactly_across_wraps(
    width: int, scale: float, start: int, elapsed: float, data: st.DataObject
) -> None:
    modulus = 1 << width
    start %= modulus
    limit = max_plausible_counts(scale, elapsed)
    counts = data.draw(st.integers(min_value=0, max_value=min(limit, modulus - 1)))
    step = counter_step(start, (start + counts) % modulus, width=width, scale_mm=scale,
                        elapsed_s=elapsed)
    assert step.counts == counts
    assert not step.is_gap
    expected = CounterOutcome.WRAP if start + counts >= modulus else CounterOutcome.RAIN
    assert step.outcome is expected
    assert step.mm == pytest.approx(counts * scale)


@given(width=widths, scale=scales, previous=st.integers(min_value=0),
       new=st.integers(min_value=0), elapsed=st.floats(min_value=0, max_value=86400))
def test_never_credits_more_than_8_mm_per_min_plus_one_count(
    width: int, scale: float, previous: int, new: int, elapsed: float
) -> None:
    modulus = 1 << width
    step = counter_step(previous % modulus, new % modulus, width=width, scale_mm=scale,
                        elapsed_s=elapsed)
    assert step.mm <= MAX_MM_PER_MIN * elapsed / 60 + scale + 1e-9
    assert step.is_gap == (step.counts == 0 and previous % modulus != new % modulus)
    if step.is_gap:
        assert step.mm == 0
