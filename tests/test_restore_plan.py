"""What a restarted station takes back, as plain logic without an event loop: the warning
board made to agree with the alarms, a restored board meeting the next reading, 叫应 and
叫醒 going on at their tier and wall-clock deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from edge.alarms import Alarm
from edge.restore_plan import (
    board_from_json,
    board_to_json,
    next_number,
    open_alarms,
    reconcile_board,
    summary,
)
from sat_phone.callout import Callout, Tier
from sensors.levels import LatchState, Thresholds, TransitionKind, WarningBoard, WarningLevel
from voice.wakeup import WakeTier, WakeUp

T0 = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
NONE, PREPARE, EVACUATE = WarningLevel.NONE, WarningLevel.PREPARE, WarningLevel.EVACUATE
WINDOWS = ["1h", "24h"]


def rain_alarm(level: str, state: str = "active", window: str = "1h") -> Alarm:
    return Alarm("a20260701080000-3", "rain", "rg-1", "后山雨量站", T0, level=level,  # type: ignore[arg-type]
                 window=window, state=state)  # type: ignore[arg-type]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# -- the board and the alarms --------------------------------------------------------------


def test_a_board_without_an_open_alarm_starts_at_no_level() -> None:
    saved = {"1h": LatchState(EVACUATE, True)}
    assert reconcile_board(None, saved, WINDOWS) == dict.fromkeys(WINDOWS,
                                                                  LatchState(NONE, False))


def test_a_board_saved_ahead_of_its_alarm_is_lowered_to_the_alarm() -> None:
    """Crash between the board's save and the alarm's: a fresh reading escalates again."""
    saved = {"1h": LatchState(EVACUATE, False), "24h": LatchState(PREPARE, False)}
    board = reconcile_board(rain_alarm("prepare"), saved, WINDOWS)
    assert board == {"1h": LatchState(PREPARE, False), "24h": LatchState(PREPARE, False)}


def test_an_alarm_saved_ahead_of_its_board_puts_its_level_on_its_window() -> None:
    board = reconcile_board(rain_alarm("evacuate", "acknowledged"), {}, WINDOWS)
    assert board == {"1h": LatchState(EVACUATE, True), "24h": LatchState(NONE, False)}


def test_the_latches_are_acknowledged_exactly_when_the_alarm_is() -> None:
    saved = {"1h": LatchState(EVACUATE, True), "24h": LatchState(PREPARE, True)}
    unacknowledged = reconcile_board(rain_alarm("evacuate"), saved, WINDOWS)
    assert not any(s.acknowledged for s in unacknowledged.values())
    saved = {"1h": LatchState(EVACUATE, False)}
    acknowledged = reconcile_board(rain_alarm("evacuate", "acknowledged"), saved, WINDOWS)
    assert acknowledged["1h"] == LatchState(EVACUATE, True)


def test_the_board_round_trips_as_json() -> None:
    states = {"1h": LatchState(EVACUATE, True), "24h": LatchState(NONE, False)}
    assert board_from_json(board_to_json(states)) == states


# -- a restored board meets the next reading ------------------------------------------------


def restored_board(state: LatchState) -> WarningBoard:
    board = WarningBoard({"rg-1": {"1h": Thresholds(30.0, 50.0, 0.8)}})
    board.restore("rg-1", {"1h": state})
    return board


def test_rain_still_above_the_threshold_changes_nothing_after_a_restart() -> None:
    board = restored_board(LatchState(EVACUATE, False))
    assert board.update("rg-1", {"1h": 55.0}) == []
    assert board.level("rg-1") is EVACUATE


def test_an_acknowledged_level_clears_when_the_rain_eases_an_unacknowledged_never() -> None:
    acknowledged = restored_board(LatchState(EVACUATE, True))
    [cleared] = acknowledged.update("rg-1", {"1h": 10.0})
    assert cleared.transition.kind is TransitionKind.CLEARED
    unacknowledged = restored_board(LatchState(EVACUATE, False))
    assert unacknowledged.update("rg-1", {"1h": 10.0}) == []
    assert unacknowledged.level("rg-1") is EVACUATE


def test_a_stale_gauge_after_a_restart_neither_raises_nor_clears() -> None:
    board = restored_board(LatchState(PREPARE, True))
    assert board.update("rg-1", None) == []
    assert board.level("rg-1") is PREPARE
    [escalated] = board.update("rg-1", {"1h": 51.0})
    assert escalated.transition.kind is TransitionKind.ESCALATED


def test_a_level_the_thresholds_no_longer_define_falls_to_one_they_do() -> None:
    board = WarningBoard({"rg-1": {"1h": Thresholds(30.0, None)}})  # evacuate removed
    board.restore("rg-1", {"1h": LatchState(EVACUATE, True)})
    assert board.level("rg-1") is PREPARE
    assert board.update("rg-1", {"1h": 5.0})[0].transition.kind is TransitionKind.CLEARED


# -- which alarms, which numbers -------------------------------------------------------------


def test_only_open_alarms_are_carried_on_oldest_first_and_numbers_go_on() -> None:
    old = rain_alarm("prepare")
    newer = Alarm("a20260701090000-7", "hand_alarm", "ha-1", "村口", T0 + timedelta(hours=1),
                  level="evacuate")
    cleared = Alarm("a20260701100000-9", "hand_alarm", "ha-1", "村口", T0, state="cleared")
    assert open_alarms([newer, cleared, old]) == [old, newer]
    assert next_number([old.id, newer.id, cleared.id]) == 10
    assert next_number([]) == 1
    assert summary({"alarms": [newer.id, old.id], "checkins": []}) == {
        "counts": {"alarms": 2, "checkins": 0},
        "ids": {"alarms": [old.id, newer.id], "checkins": []}}


# -- 叫应 and 叫醒 go on at their tier and deadline -----------------------------------------------


def test_a_callout_goes_on_at_its_tier_and_wall_clock_deadline() -> None:
    tiers = [Tier(("+8613800000002",), 300), Tier(("+8613800000003",), 300)]
    callout = Callout("a1", tiers)
    callout.start(1000.0, at(0))
    callout.expire(1300.0, at(300))  # tier 2 messaged, due at 600 s
    record = callout.record(lambda d: d.isoformat())
    # Another process: its monotonic clock starts near 0; 420 s have passed on the wall.
    again = Callout.from_record(record, datetime.fromisoformat, 5.0, at(420))
    assert (again.tier, again.state, again.deadline) == (2, "calling", pytest.approx(185.0))
    assert again.expire(180.0, at(595)) is None and again.calling
    assert again.answer("+8613800000002", at(430)), "a tier already messaged may answer"
    late = Callout.from_record(record, datetime.fromisoformat, 5.0, at(900))
    assert late.expire(5.0, at(900)) is None and late.state == "unanswered"


def test_a_wake_up_rings_its_tier_again_after_a_restart_until_its_deadline() -> None:
    tiers = (WakeTier(("sip:duty@pbx",), 120), WakeTier(("sip:chief@pbx",), 120))
    wake = WakeUp("a1", tiers)
    [first] = wake.start(0.0, at(0))
    wake.rang(first)
    record = wake.as_json(lambda d: d.isoformat())
    again = WakeUp.from_json(record, datetime.fromisoformat, 7.0, at(60))
    assert again.deadline == pytest.approx(67.0)
    [ringing] = again.resume(7.0, at(60))
    assert (ringing.tier, ringing.target) == (1, "sip:duty@pbx")
    assert again.calls[0].outcome == "cancelled" and not again.calls[0].open
    late = WakeUp.from_json(record, datetime.fromisoformat, 7.0, at(130))
    [next_tier] = late.resume(7.0, at(130))
    assert next_tier.tier == 2 and late.tier == 2
