"""叫应 tiers as plain state: start, escalate on time, answers from those reached."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sat_phone.callout import Callout, Tier

T0 = datetime(2026, 7, 1, tzinfo=UTC)
TIERS = [Tier(("+8613800000001",), 300), Tier(("+8613800000002", "+8613800000003"), 600)]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_first_tier_is_called_then_the_next_after_its_time() -> None:
    callout = Callout("a1", TIERS)
    step = callout.start(0, at(0))
    assert (step.tier, step.numbers, callout.deadline) == (1, ("+8613800000001",), 300)
    assert callout.expire(299, at(299)) is None and callout.state == "calling"
    step2 = callout.expire(300, at(300))
    assert step2 is not None and step2.tier == 2 and callout.deadline == 900
    assert callout.expire(900, at(900)) is None
    assert callout.state == "unanswered"


def test_anyone_reached_may_answer_and_that_ends_it() -> None:
    callout = Callout("a1", TIERS)
    callout.start(0, at(0))
    assert not callout.answer("+8613800000002", at(10)), "tier 2 not reached yet"
    callout.expire(300, at(300))
    assert callout.answer("13800000001", at(320)), "tier 1 may still answer"
    assert (callout.state, callout.answered_by, callout.answered_at) == (
        "answered", "13800000001", at(320))
    assert callout.expire(900, at(900)) is None and callout.state == "answered"
    assert not callout.answer("+8613800000002", at(330))
    shown = callout.as_json(lambda d: d.isoformat())
    assert shown["state"] == "answered" and [m["tier"] for m in shown["messaged"]] == [1, 2]


def test_tiers_are_checked() -> None:
    with pytest.raises(ValueError):
        Tier((), 60)
    with pytest.raises(ValueError):
        Callout("a1", [])
