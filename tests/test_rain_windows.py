"""Rainfall windows against a naive reference, rain spread over its interval, the 08:00 day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensors.windows import (
    WINDOWS,
    RainfallWindows,
    daily_totals,
    hydrological_day,
    hydrological_day_start,
)

T0 = datetime(2026, 7, 1, 23, 57, 13, tzinfo=UTC)


def naive_total(increments: list[tuple[datetime, float]], window_s: int, now: datetime) -> float:
    start = now - timedelta(seconds=window_s)
    return sum(mm for at, mm in increments if start < at <= now)


def naive_spread(pieces: list[tuple[float, float, float]], window_s: int, now: float) -> float:
    """Each (start, end, mm): its share inside (now - W, now]; an instant if start == end."""
    lo, total = now - window_s, 0.0
    for s, e, mm in pieces:
        if s == e:
            total += mm if lo < e <= now else 0.0
        else:
            total += mm * max(0.0, min(e, now) - max(s, lo)) / (e - s)
    return total


tips = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=30 * 3600 * 4).map(lambda q: q / 4),
        st.sampled_from([0.0, 0.1, 0.2, 0.5, 1.3]),
    ),
    max_size=120,
)


@settings(max_examples=200, deadline=None)
@given(tips=tips, probes=st.lists(st.integers(min_value=-600, max_value=900), max_size=6))
def test_every_window_matches_the_naive_sum_at_any_instant(
    tips: list[tuple[float, float]], probes: list[int]
) -> None:
    tips.sort()
    windows = RainfallWindows()
    seen: list[tuple[datetime, float]] = []
    for offset, mm in tips:
        at = T0 + timedelta(seconds=offset)
        windows.add(at, mm)
        seen.append((at, mm))
        # at the reading itself, and at instants around it (bin edges included)
        for probe in [0, *probes]:
            now = at + timedelta(seconds=probe)
            for name, seconds in WINDOWS.items():
                assert windows.total(name, now) == pytest.approx(
                    naive_total(seen, seconds, now), abs=1e-9
                ), (name, now)


def test_window_is_open_at_its_start_and_closed_at_now() -> None:
    windows = RainfallWindows()
    windows.add(T0, 1.0)
    assert windows.total("10min", T0) == 1.0
    assert windows.total("10min", T0 + timedelta(seconds=599.999)) == 1.0
    assert windows.total("10min", T0 + timedelta(seconds=600)) == 0.0
    assert windows.total("10min", T0 - timedelta(microseconds=1)) == 0.0


def test_trailing_edge_inside_an_old_bin_is_exact() -> None:
    start = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)  # a bin boundary
    windows = RainfallWindows()
    for minute in range(60):
        windows.add(start + timedelta(minutes=minute, seconds=30), 0.5)
    now = start + timedelta(minutes=62, seconds=40)
    # (now - 1h, now] starts at 10:02:40: the tips of 10:00:30, 10:01:30, 10:02:30 are out
    assert windows.total("1h", now) == pytest.approx(57 * 0.5)
    assert windows.totals(now)["10min"] == pytest.approx(7 * 0.5)


def test_rain_older_than_a_day_is_forgotten() -> None:
    windows = RainfallWindows()
    windows.add(T0, 3.0)
    windows.add(T0 + timedelta(hours=25), 1.0)
    assert windows.total("24h", T0 + timedelta(hours=25)) == 1.0
    assert windows.total(90000, T0 + timedelta(hours=25)) == 1.0


def test_memory_stays_bounded_in_a_day_of_rain_every_second() -> None:
    windows = RainfallWindows()
    for second in range(3 * 86400 // 10):  # 10 s readings over three days
        windows.add_spread(T0 + timedelta(seconds=10 * second),
                           T0 + timedelta(seconds=10 * second + 10), 0.01)
    assert len(windows) <= 86400 // 10 + 2 * 512 + 2
    assert windows.total("24h", T0 + timedelta(days=3)) == pytest.approx(86.4)


def test_naive_timestamps_and_negative_rain_are_refused() -> None:
    windows = RainfallWindows()
    with pytest.raises(ValueError, match="timezone"):
        windows.add(datetime(2026, 7, 1), 0.1)
    with pytest.raises(ValueError, match="negative"):
        windows.add(T0, -0.1)
    with pytest.raises(ValueError, match="before it starts"):
        windows.add_spread(T0, T0 - timedelta(seconds=1), 1.0)
    with pytest.raises(ValueError, match="positive"):
        RainfallWindows(retention_s=0)


def test_hydrological_day_runs_from_08_00_beijing() -> None:
    # 08:00 Beijing is 00:00 UTC; a reading at the boundary closes the old day.
    assert hydrological_day(datetime(2026, 7, 2, 0, 0, tzinfo=UTC)) == date(2026, 7, 1)
    assert hydrological_day(datetime(2026, 7, 2, 0, 0, 1, tzinfo=UTC)) == date(2026, 7, 2)
    assert hydrological_day(datetime(2026, 7, 1, 23, 59, tzinfo=UTC)) == date(2026, 7, 1)
    assert hydrological_day_start(date(2026, 7, 2)) == datetime(2026, 7, 2, 0, 0, tzinfo=UTC)


def test_daily_totals_and_the_running_day_total() -> None:
    readings = [
        (datetime(2026, 7, 1, 23, 50, tzinfo=UTC), 2.0),   # 07:50 Beijing on 2 July
        (datetime(2026, 7, 2, 0, 0, tzinfo=UTC), 1.0),     # 08:00: still day 1 July
        (datetime(2026, 7, 2, 0, 5, tzinfo=UTC), 4.0),     # 08:05: day 2 July
    ]
    assert daily_totals(readings) == {date(2026, 7, 1): 3.0, date(2026, 7, 2): 4.0}
    windows = RainfallWindows()
    for at, mm in readings:
        windows.add(at, mm)
    assert windows.day_total(datetime(2026, 7, 2, 0, 0, tzinfo=UTC)) == 3.0
    assert windows.day_total(datetime(2026, 7, 2, 1, 0, tzinfo=UTC)) == 4.0


readings = st.lists(
    st.tuples(st.integers(min_value=0, max_value=900), st.sampled_from([0.0, 0.1, 0.7, 2.5]),
              st.booleans()),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(steps=readings, probes=st.lists(st.integers(min_value=-4000, max_value=4000), max_size=5))
def test_rain_spread_over_its_interval_matches_the_naive_sum(
    steps: list[tuple[int, float, bool]], probes: list[int]
) -> None:
    """Readings one after another (a gap between some), some instants, as gauges give them."""
    windows = RainfallWindows()
    pieces: list[tuple[float, float, float]] = []
    t = T0.timestamp()
    for gap_s, mm, instant in steps:
        start = t if not instant else t + gap_s
        end = t + gap_s
        windows.add_spread(datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC),
                           mm)
        pieces.append((start, end, mm))
        t = end
        for probe in [0, *probes]:
            now = end + probe
            for name, window_s in WINDOWS.items():
                assert windows.total(name, datetime.fromtimestamp(now, UTC)) == pytest.approx(
                    naive_spread(pieces, window_s, now), abs=1e-9), (name, probe)


@settings(max_examples=150, deadline=None)
@given(pieces=st.lists(st.tuples(st.integers(0, 7200), st.integers(0, 900),
                                 st.sampled_from([0.1, 1.0, 3.3])), min_size=1, max_size=25),
       probes=st.lists(st.integers(min_value=0, max_value=9000), min_size=1, max_size=6))
def test_intervals_in_any_order_and_overlapping_are_booked_exactly(
    pieces: list[tuple[int, int, float]], probes: list[int]
) -> None:
    """Minutes restored from the archive, then a live reading that overlaps them."""
    windows = RainfallWindows()
    booked = []
    for start, length, mm in pieces:
        s, e = T0.timestamp() + start, T0.timestamp() + start + length
        windows.add_spread(datetime.fromtimestamp(s, UTC), datetime.fromtimestamp(e, UTC), mm)
        booked.append((s, e, mm))
    for probe in probes:
        now = T0.timestamp() + probe
        for name, window_s in WINDOWS.items():
            assert windows.total(name, datetime.fromtimestamp(now, UTC)) == pytest.approx(
                naive_spread(booked, window_s, now), abs=1e-9), (name, probe)


def test_a_reading_near_an_hour_boundary_is_shared_between_the_hours() -> None:
    hour = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    windows = RainfallWindows()
    # a 60 s poll from 09:59:30 to 10:00:30 brought 2 mm: 1 mm in each hour
    windows.add_spread(hour - timedelta(seconds=30), hour + timedelta(seconds=30), 2.0)
    assert windows.total("1h", hour) == pytest.approx(1.0)
    assert windows.total("1h", hour + timedelta(hours=1)) == pytest.approx(1.0)
    assert windows.total("10min", hour + timedelta(seconds=30)) == pytest.approx(2.0)
