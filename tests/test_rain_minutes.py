"""Rain per minute (the archive) and the series drawn from it: spread, never lumped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sensors.rain_minutes import series, spread_over_minutes

HOUR = datetime(2026, 7, 1, 10, 0, tzinfo=UTC).timestamp()


def test_a_reading_is_shared_by_the_minutes_it_spans() -> None:
    # 3 mm between 09:59:30 and 10:01:00: a third per half minute
    assert spread_over_minutes(HOUR - 30, HOUR + 60, 3.0) == [
        (HOUR - 60, pytest.approx(1.0)), (HOUR, pytest.approx(2.0))]


def test_an_instant_goes_to_the_minute_that_ends_at_or_after_it() -> None:
    assert spread_over_minutes(HOUR, HOUR, 0.5) == [(HOUR - 60, 0.5)]   # 10:00:00 closes 09:59
    assert spread_over_minutes(HOUR + 1, HOUR + 1, 0.5) == [(HOUR, 0.5)]
    assert spread_over_minutes(HOUR, HOUR + 5, 0.0) == []
    with pytest.raises(ValueError, match="before it starts"):
        spread_over_minutes(HOUR, HOUR - 1, 1.0)


@given(start=st.floats(min_value=0, max_value=7200), length=st.floats(min_value=0, max_value=9000),
       mm=st.floats(min_value=0.001, max_value=500))
def test_minutes_keep_every_millimetre(start: float, length: float, mm: float) -> None:
    shares = spread_over_minutes(HOUR + start, HOUR + start + length, mm)
    assert sum(share for _, share in shares) == pytest.approx(mm)
    assert all(minute % 60 == 0 for minute, _ in shares)


def test_series_near_an_hour_boundary_lands_in_the_right_hour() -> None:
    start = datetime.fromtimestamp(HOUR - 3600, UTC)
    # the 60 s poll of 09:59:30 -> 10:00:30 brought 2 mm
    minutes = [(m, mm) for m, mm in spread_over_minutes(HOUR - 30, HOUR + 30, 2.0)]
    points = series(minutes, start, start + timedelta(hours=2), 3600)
    assert [mm for _, mm in points] == [1.0, 1.0]


def test_a_series_not_on_whole_minutes_shares_each_minute() -> None:
    start = datetime.fromtimestamp(HOUR + 30, UTC)
    points = series([(HOUR, 1.2), (HOUR + 60, 0.6)], start, start + timedelta(seconds=120), 60)
    assert [mm for _, mm in points] == [pytest.approx(0.9), pytest.approx(0.3)]
    assert points[0][0] == start + timedelta(seconds=60)
