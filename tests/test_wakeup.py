"""叫醒 as plain data: tiers, answers, escalation, unreachable, the record round trip; SIP
addresses; DTMF keys that arrive both ways."""

from __future__ import annotations

from datetime import UTC, datetime

from drivers.clock import iso_utc
from drivers.sip_ua import KeyPresses
from voice.addresses import Callers, dialled_number, parse_address
from voice.wakeup import WakeTier, WakeUp

T0 = datetime(2026, 7, 1, tzinfo=UTC)
TIERS = (WakeTier(("+8613800000002", "sip:b@pbx"), 60.0), WakeTier(("+8613800000003",), 60.0))


def test_the_first_1_from_a_connected_call_answers() -> None:
    wake = WakeUp("a1", TIERS)
    first, second = wake.start(0.0, T0)
    assert [c.target for c in (first, second)] == ["+8613800000002", "sip:b@pbx"]
    assert not wake.pressed(first, "1", T0), "not picked up yet"
    wake.connected(first, T0)
    assert not wake.pressed(first, "2", T0)
    assert wake.pressed(first, "1", T0)
    assert (wake.state, wake.answered_by, wake.answered_at) == ("answered", first.target, T0)
    assert wake.expire(999.0, T0) == []


def test_no_answer_in_time_rings_the_next_tier_then_gives_up() -> None:
    wake = WakeUp("a1", TIERS)
    wake.start(0.0, T0)
    assert wake.expire(59.0, T0) == []
    [third] = wake.expire(60.0, T0)
    assert (wake.tier, third.target) == (2, "+8613800000003")
    wake.rang(third)
    assert wake.ended(third, 480, "Temporarily Unavailable", 70.0, T0) == []
    assert wake.state == "unanswered" and third.outcome == "no_answer"


def test_every_call_of_a_tier_ended_unanswered_moves_on_at_once() -> None:
    wake = WakeUp("a1", TIERS)
    first, second = wake.start(0.0, T0)
    wake.rang(first)
    assert wake.ended(first, 486, "Busy Here", 1.0, T0) == []
    wake.rang(second)
    [third] = wake.ended(second, 603, "Decline", 2.0, T0)
    assert first.outcome == "busy" and third.tier == 2


def test_no_call_reaching_a_phone_is_unreachable() -> None:
    wake = WakeUp("a1", TIERS)
    first, second = wake.start(0.0, T0)
    wake.ended(first, 503, "Connection refused", 0.1, T0)
    wake.ended(second, 408, "Request Timeout", 0.2, T0)
    assert wake.state == "unreachable" and "tier 1" in (wake.reason or "")


def test_the_record_survives_a_round_trip() -> None:
    wake = WakeUp("a1", TIERS)
    first, _ = wake.start(0.0, T0)
    wake.connected(first, T0)
    wake.pressed(first, "1", T0)
    record = wake.as_json(iso_utc)
    again = WakeUp.from_json(record, datetime.fromisoformat)
    assert again.as_json(iso_utc) == record


def test_addresses() -> None:
    callers = Callers(["sip:chief@county.example", "13800000001"],
                      lambda n: "".join(c for c in n if c.isdigit()).removeprefix("86"))
    assert callers.allows('"Chief" <sip:chief@County.example:5060;transport=tcp>;tag=x')
    assert callers.allows("<sip:+8613800000001@pbx>")
    assert not callers.allows("sip:stranger@county.example")
    assert parse_address("garbage") is None
    assert dialled_number("<sip:913800000009@10.0.0.2>", "9") == "13800000009"
    assert dialled_number("<sip:13800000009@10.0.0.2>", "9") is None


def test_a_key_sent_both_ways_counts_once() -> None:
    keys = KeyPresses(window_s=1.0)
    # PIN 2468, each key as RFC 4733 and (a little later) as SIP INFO
    reports = [(0.0, "2", "rfc4733"), (0.03, "2", "sip_info"), (0.3, "4", "rfc4733"),
               (0.32, "4", "sip_info"), (0.6, "6", "sip_info"), (0.61, "6", "rfc4733"),
               (0.9, "8", "rfc4733"), (0.95, "8", "sip_info")]
    assert "".join(d for at, d, m in reports if keys.is_new(d, m, at)) == "2468"
    # 1 pressed twice, the INFOs lagging behind both telephone-events: still two presses
    keys = KeyPresses(window_s=1.0)
    reports = [(5.0, "1", "rfc4733"), (5.2, "1", "rfc4733"), (5.3, "1", "sip_info"),
               (5.5, "1", "sip_info")]
    assert [keys.is_new(d, m, at) for at, d, m in reports] == [True, True, False, False]
    # one method alone is never an echo; a report too late to be an echo is a new press
    assert keys.is_new("3", "sip_info", 9.0) and keys.is_new("3", "sip_info", 9.1)
    assert keys.is_new("7", "rfc4733", 10.0) and keys.is_new("7", "sip_info", 11.0)
