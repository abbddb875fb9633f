"""Broadcast priority: preempt, queue, resume, expire — plain decisions, no event loop."""

from __future__ import annotations

import pytest

from broadcast.priority import AirQueue, Decision, Priority, Request

RAIN = Request("rain-msg", Priority.RAIN_MESSAGE)
SIREN = Request("siren", Priority.ALARM_SIREN)
EVAC = Request("evac", Priority.EVACUATION)
LIVE = Request("live", Priority.LIVE_VOICE)


def test_the_order_of_priorities_is_the_station_s() -> None:
    assert (
        Priority.LIVE_VOICE
        > Priority.EVACUATION
        > Priority.ALARM_SIREN
        > Priority.RAIN_MESSAGE
        > Priority.ROUTINE
    )


def test_first_request_goes_on_air() -> None:
    q = AirQueue()
    assert q.submit(RAIN) == Decision(start=RAIN)
    assert q.on_air == RAIN


def test_a_siren_preempts_a_rain_message_which_resumes_after_it() -> None:
    q = AirQueue()
    q.submit(RAIN)
    assert q.submit(SIREN) == Decision(start=SIREN, stop=RAIN, stop_resumes=True)
    assert q.preempted("rain-msg")
    assert q.finished("siren", now=100.0) == Decision(start=RAIN, resumed=True)
    assert q.on_air == RAIN and q.waiting == []


def test_evacuation_preempts_a_siren_and_live_voice_preempts_evacuation() -> None:
    q = AirQueue()
    q.submit(SIREN)
    assert q.submit(EVAC).stop == SIREN
    assert q.submit(LIVE).stop == EVAC
    assert q.waiting == [EVAC, SIREN]  # highest first
    assert q.finished("live", 0.0).start == EVAC
    assert q.finished("evac", 0.0) == Decision(start=SIREN, resumed=True)


def test_equal_or_lower_priority_waits_in_arrival_order() -> None:
    q = AirQueue()
    q.submit(EVAC)
    second = Request("evac-2", Priority.EVACUATION)
    assert q.submit(second) == Decision(queued=second)
    assert q.submit(RAIN) == Decision(queued=RAIN)
    assert q.submit(SIREN) == Decision(queued=SIREN)
    assert q.waiting == [second, SIREN, RAIN]
    assert q.finished("evac", 0.0) == Decision(start=second, resumed=False)


def test_a_preempted_broadcast_goes_before_a_newer_one_of_its_priority() -> None:
    q = AirQueue()
    q.submit(SIREN)
    q.submit(EVAC)  # the siren is preempted
    later_siren = Request("siren-2", Priority.ALARM_SIREN)
    q.submit(later_siren)
    assert q.finished("evac", 0.0) == Decision(start=SIREN, resumed=True)
    assert q.waiting == [later_siren]


def test_an_expired_request_is_dropped_not_played() -> None:
    q = AirQueue()
    q.submit(EVAC)
    stale = Request("rain-1", Priority.RAIN_MESSAGE, expires_at=60.0)
    fresh = Request("rain-2", Priority.RAIN_MESSAGE, expires_at=600.0)
    q.submit(stale)
    q.submit(fresh)
    assert q.finished("evac", now=120.0) == Decision(start=fresh, dropped=(stale,))


def test_a_preempted_broadcast_that_expired_does_not_resume() -> None:
    q = AirQueue()
    rain = Request("rain", Priority.RAIN_MESSAGE, expires_at=300.0)
    q.submit(rain)
    q.submit(EVAC)
    assert q.finished("evac", now=301.0) == Decision(dropped=(rain,))
    assert q.on_air is None


def test_expire_while_something_plays() -> None:
    q = AirQueue()
    q.submit(EVAC)
    rain = Request("rain", Priority.RAIN_MESSAGE, expires_at=10.0)
    q.submit(rain)
    assert q.expire(now=5.0) == ()
    assert q.expire(now=10.0) == (rain,)
    assert q.waiting == []


def test_cancel_on_air_starts_the_next_and_cancel_waiting_just_removes() -> None:
    q = AirQueue()
    q.submit(EVAC)
    q.submit(SIREN)
    q.submit(RAIN)
    assert q.cancel("rain-msg", 0.0) == Decision()
    assert q.cancel("evac", 0.0) == Decision(start=SIREN, stop=EVAC)
    assert q.waiting == []


def test_mistakes_are_errors_not_silent() -> None:
    q = AirQueue()
    q.submit(EVAC)
    with pytest.raises(ValueError, match="already"):
        q.submit(EVAC)
    with pytest.raises(ValueError, match="not on air"):
        q.finished("siren", 0.0)
    with pytest.raises(ValueError, match="neither"):
        q.cancel("siren", 0.0)
