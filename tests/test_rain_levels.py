"""Warning levels: rise at once, latch until acknowledged and eased, stale is unknown."""

from __future__ import annotations

import pytest

from sensors.levels import (
    Thresholds,
    TransitionKind,
    WarningBoard,
    WarningLatch,
    WarningLevel,
)

T = Thresholds(prepare_mm=30.0, evacuate_mm=50.0, clear_fraction=0.8)


def kinds(transitions: list) -> list[tuple[TransitionKind, WarningLevel]]:
    return [(t.kind, t.level) for t in transitions]


def test_rises_the_moment_the_threshold_is_reached() -> None:
    latch = WarningLatch(T)
    assert latch.update(29.9) == []
    [raised] = latch.update(30.0)
    assert (raised.kind, raised.previous, raised.level) == (
        TransitionKind.RAISED, WarningLevel.NONE, WarningLevel.PREPARE)
    assert (raised.total_mm, raised.threshold_mm) == (30.0, 30.0)


def test_straight_to_evacuate_is_one_raise() -> None:
    latch = WarningLatch(T)
    assert kinds(latch.update(55.0)) == [(TransitionKind.RAISED, WarningLevel.EVACUATE)]


def test_latches_until_acknowledged_even_when_rain_stops() -> None:
    latch = WarningLatch(T)
    latch.update(31.0)
    assert latch.update(0.0) == []
    assert latch.level is WarningLevel.PREPARE
    assert kinds(latch.acknowledge()) == [
        (TransitionKind.ACKNOWLEDGED, WarningLevel.PREPARE),
        (TransitionKind.CLEARED, WarningLevel.NONE),
    ]


def test_acknowledged_level_waits_for_the_clear_fraction() -> None:
    latch = WarningLatch(T)
    latch.update(35.0)
    assert kinds(latch.acknowledge()) == [(TransitionKind.ACKNOWLEDGED, WarningLevel.PREPARE)]
    assert latch.update(24.0) == []          # 0.8 x 30 = 24: not below yet
    [cleared] = latch.update(23.9)
    assert (cleared.kind, cleared.previous, cleared.level) == (
        TransitionKind.CLEARED, WarningLevel.PREPARE, WarningLevel.NONE)
    assert cleared.threshold_mm == 30.0
    assert latch.level is WarningLevel.NONE


def test_escalation_fires_without_acknowledging_prepare() -> None:
    latch = WarningLatch(T)
    latch.update(30.0)
    [escalated] = latch.update(50.0)
    assert (escalated.kind, escalated.previous, escalated.level) == (
        TransitionKind.ESCALATED, WarningLevel.PREPARE, WarningLevel.EVACUATE)
    assert latch.acknowledged is False


def test_escalation_after_prepare_was_acknowledged_needs_a_new_ack() -> None:
    latch = WarningLatch(T)
    latch.update(30.0)
    latch.acknowledge()
    assert kinds(latch.update(51.0)) == [(TransitionKind.ESCALATED, WarningLevel.EVACUATE)]
    assert latch.update(1.0) == []
    assert latch.level is WarningLevel.EVACUATE


def test_evacuate_steps_down_to_prepare_while_prepare_still_holds() -> None:
    latch = WarningLatch(T)
    latch.update(60.0)
    latch.acknowledge()
    [cleared] = latch.update(39.0)           # < 40 (0.8 x 50) but >= 24 (0.8 x 30)
    assert (cleared.previous, cleared.level) == (WarningLevel.EVACUATE, WarningLevel.PREPARE)
    assert latch.acknowledged                # the officer already acknowledged more
    assert kinds(latch.update(10.0)) == [(TransitionKind.CLEARED, WarningLevel.NONE)]


def test_stale_gauge_never_raises_and_never_clears() -> None:
    latch = WarningLatch(T)
    assert latch.update(None) == []
    latch.update(45.0)
    assert kinds(latch.acknowledge()) == [(TransitionKind.ACKNOWLEDGED, WarningLevel.PREPARE)]
    assert latch.update(None) == []
    assert latch.level is WarningLevel.PREPARE
    # an acknowledgement taken while stale clears only on a fresh, low total
    latch2 = WarningLatch(T)
    latch2.update(45.0)
    latch2.update(None)
    assert kinds(latch2.acknowledge()) == [(TransitionKind.ACKNOWLEDGED, WarningLevel.PREPARE)]
    assert kinds(latch2.update(5.0)) == [(TransitionKind.CLEARED, WarningLevel.NONE)]


def test_acknowledging_nothing_or_twice_does_nothing() -> None:
    latch = WarningLatch(T)
    assert latch.acknowledge() == []
    latch.update(30.0)
    latch.acknowledge()
    assert latch.acknowledge() == []


def test_a_single_level_window() -> None:
    latch = WarningLatch(Thresholds(prepare_mm=None, evacuate_mm=80.0))
    assert latch.update(79.0) == []
    assert kinds(latch.update(80.0)) == [(TransitionKind.RAISED, WarningLevel.EVACUATE)]
    latch.acknowledge()
    assert kinds(latch.update(10.0)) == [(TransitionKind.CLEARED, WarningLevel.NONE)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prepare_mm": 50.0, "evacuate_mm": 30.0}, "must be >"),
        ({"prepare_mm": None, "evacuate_mm": None}, "at least one"),
        ({"prepare_mm": -1.0, "evacuate_mm": 3.0}, "prepare_mm must be > 0"),
        ({"prepare_mm": 1.0, "evacuate_mm": 3.0, "clear_fraction": 0.0}, "clear_fraction"),
    ],
)
def test_bad_thresholds_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Thresholds(**kwargs)


def test_board_tracks_every_window_of_every_gauge() -> None:
    board = WarningBoard({
        "rg-1": {"1h": T, "24h": Thresholds(100.0, 200.0)},
        "rg-2": {"1h": T},
    })
    out = board.update("rg-1", {"1h": 31.0, "24h": 120.0, "10min": 9.0})
    assert sorted((g.gauge_id, g.window, g.transition.level) for g in out) == [
        ("rg-1", "1h", WarningLevel.PREPARE), ("rg-1", "24h", WarningLevel.PREPARE)]
    assert board.update("rg-2", None) == []
    assert board.level("rg-1") is WarningLevel.PREPARE
    assert board.level("rg-2") is WarningLevel.NONE
    assert board.update("rg-1", {"1h": 52.0, "24h": 120.0})[0].transition.kind is (
        TransitionKind.ESCALATED)
    assert board.level("rg-1") is WarningLevel.EVACUATE
    acks = board.acknowledge("rg-1", "1h")
    assert [(a.window, a.transition.kind) for a in acks] == [("1h", TransitionKind.ACKNOWLEDGED)]
    assert len(board.acknowledge("rg-1")) == 1          # only 24h was still unacknowledged
    assert board.latch("rg-1", "24h").acknowledged
