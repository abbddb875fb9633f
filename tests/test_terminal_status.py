"""Judging a terminal's health from what is known about it (no terminal, no event loop)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sat_phone.terminal_status import Limits, Readings, TerminalFacts, assess

NOW = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)
GOOD = Readings(registration=1, signal_raw=4, signal_bars=4, smsc="+8613800100500",
                updated=NOW)


def test_a_good_terminal_is_ok_and_says_why() -> None:
    assert assess(TerminalFacts(GOOD, NOW)) == ("ok", "registered, signal 4/5")
    assert assess(TerminalFacts(Readings(), NOW)) == ("unknown", "not polled yet")
    smsc_only = Readings(smsc="+8613800100500", updated=NOW)  # read at init, before a poll
    assert assess(TerminalFacts(smsc_only, NOW)) == ("unknown", "not polled yet")


def test_the_worst_problem_sets_the_status_and_every_one_is_named() -> None:
    facts = TerminalFacts(
        GOOD, NOW, send_failures=3, send_error="+CMS ERROR: 500",
        hardware_failure="HARDWARE FAILURE: 3,1", storage=(30, 30),
        stuck_since=[NOW - timedelta(minutes=5), NOW - timedelta(minutes=9)])
    status, detail = assess(facts)
    assert status == "fault"
    assert detail.split("; ") == [
        "terminal reported HARDWARE FAILURE: 3,1",
        "3 SMS sends failed in a row (last: +CMS ERROR: 500)",
        "SIM message storage full (30/30): new messages cannot arrive",
        "2 message(s) stuck on the SIM since 2026-07-01T01:51:00.000Z",
    ]


def test_registration_and_signal() -> None:
    unregistered = TerminalFacts(Readings(registration=2, updated=NOW), NOW,
                                 signal_error="AT+CSQ: +CME ERROR: 30")
    assert assess(unregistered) == ("degraded", "not registered (+CREG stat 2)")
    unknown = TerminalFacts(Readings(registration=1, updated=NOW), NOW,
                            signal_error="AT+CSQ: +CME ERROR: 30")
    assert assess(unknown) == ("degraded", "signal unknown (AT+CSQ: +CME ERROR: 30)")
    one_failure = TerminalFacts(GOOD, NOW, send_failures=1, poll_failures=1)
    assert assess(one_failure)[0] == "ok"  # one failed send or poll can be a passing cloud


def test_an_undecodable_message_and_a_notice_are_shown_for_an_hour() -> None:
    at = NOW - timedelta(minutes=59)
    facts = TerminalFacts(GOOD, NOW, last_undecodable=at, last_notice=(at, "+XTEMP: 71"))
    status, detail = assess(facts)
    assert status == "degraded"
    assert "undecodable SMS received at 2026-07-01T01:01:00.000Z (journaled)" in detail
    assert detail.endswith("terminal said '+XTEMP: 71' at 2026-07-01T01:01:00.000Z")
    later = TerminalFacts(GOOD, NOW + timedelta(minutes=2), last_undecodable=at,
                          last_notice=(at, "+XTEMP: 71"))
    assert assess(later) == ("ok", "registered, signal 4/5")
    notice_only = TerminalFacts(GOOD, NOW, last_notice=(NOW, "+XTEMP: 71"))
    assert assess(notice_only, Limits(hold_s=60))[0] == "ok"
