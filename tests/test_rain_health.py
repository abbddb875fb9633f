"""A gauge's health with hysteresis: no flapping, a fault at once, back after M good replies."""

from __future__ import annotations

import pytest

from sensors.gauge_events import GaugeState
from sensors.gauge_health import HealthHysteresis

OK, OFFLINE, FAULT = GaugeState.OK, GaugeState.OFFLINE, GaugeState.FAULT


def run(health: HealthHysteresis, outcomes: str) -> list[GaugeState]:
    """``outcomes``: g good, x no reply, f fault; returns the states entered."""
    entered = []
    for outcome in outcomes:
        step = {"g": health.answered, "x": health.failed, "f": health.faulty}[outcome]
        state = step()
        if state is not None:
            entered.append(state)
    return entered


def test_a_gauge_with_some_late_replies_does_not_flap() -> None:
    # every third reply late: never three misses in a row, so never offline
    assert run(HealthHysteresis(3, 2), "g" + "ggx" * 30) == [OK]
    # bursts of misses: offline once, and back only after two good replies in a row
    assert run(HealthHysteresis(3, 2), "gxxxgxgxxgg") == [OK, OFFLINE, OK]


def test_without_hysteresis_the_same_line_flaps() -> None:
    assert run(HealthHysteresis(3, 1), "gxxxgxxxgxxxg") == [OK, OFFLINE, OK, OFFLINE, OK,
                                                          OFFLINE, OK]
    assert run(HealthHysteresis(3, 3), "gxxxgxxxgxxxg") == [OK, OFFLINE]


def test_a_fault_is_believed_at_once_and_needs_good_replies_to_clear() -> None:
    health = HealthHysteresis(3, 2)
    assert run(health, "ggfgfgg") == [OK, FAULT, OK]
    assert run(health, "fxxx") == [FAULT, OFFLINE]
    assert health.failures == 3 and health.good == 0


def test_a_gauge_never_seen_is_ok_at_its_first_good_reply() -> None:
    assert run(HealthHysteresis(2, 5), "g") == [OK]
    assert run(HealthHysteresis(2, 5), "xxg") == [OFFLINE]
    with pytest.raises(ValueError, match=">= 1"):
        HealthHysteresis(0, 1)
