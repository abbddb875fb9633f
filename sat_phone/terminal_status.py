"""What the satellite terminal's health is, from everything known about it.

A terminal can answer every command and still be useless: not registered, every SMS
refused with ``+CMS ERROR: 500``, a ``HARDWARE FAILURE`` it announced, messages stuck
on its SIM, a full SIM store (new messages cannot arrive), no SMS centre set. Each is a
problem with a severity; the status is the worst of them and the detail names them all,
so health never says ``ok`` while one of them stands. Pure: the modem gathers the facts,
this judges them, and a test judges them without a terminal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from drivers.clock import iso_utc

ModemHealth = Literal["ok", "degraded", "offline", "fault", "unknown"]
REGISTERED = (1, 5)  # 27.007 +CREG stat: 1 home, 5 roaming
_SEVERITY: dict[ModemHealth, int] = {"ok": 0, "unknown": 1, "degraded": 2, "offline": 3,
                                     "fault": 4}


@dataclass(frozen=True, slots=True)
class Readings:
    """The last values the terminal reported (``None``: not known or not supported)."""

    registration: int | None = None  # +CREG stat
    signal_raw: int | None = None  # +CSQ rssi 0-31/99, or Iridium bars 0-5
    signal_bars: int | None = None  # 0-5 on both personalities
    battery_percent: int | None = None
    smsc: str | None = None  # +CSCA ("" when the terminal has none set)
    updated: datetime | None = None

    @property
    def registered(self) -> bool | None:
        return None if self.registration is None else self.registration in REGISTERED


@dataclass(frozen=True, slots=True)
class TerminalFacts:
    """What the modem knows besides the channel's state (judged only when it is ready)."""

    readings: Readings
    now: datetime
    poll_failures: int = 0
    poll_error: str | None = None
    signal_error: str | None = None  # +CSQ refused (Iridium does while unregistered)
    send_failures: int = 0  # SMS sends failed in a row
    send_error: str | None = None
    hardware_failure: str | None = None  # the terminal's own words, until it restarts
    storage: tuple[int, int] | None = None  # SIM messages (used, total)
    stuck_since: list[datetime] = field(default_factory=list)  # per message stuck on the SIM
    last_undecodable: datetime | None = None
    last_notice: tuple[datetime, str] | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    send_failures: int = 2  # in a row before health says so (one can be a passing cloud)
    poll_failures: int = 2
    hold_s: float = 3600.0  # an undecodable message or a notice stays in health this long


def assess(facts: TerminalFacts, limits: Limits = Limits()) -> tuple[ModemHealth, str]:
    """The status and detail of a terminal whose channel is ready."""
    r = facts.readings
    problems: list[tuple[ModemHealth, str]] = []
    if facts.hardware_failure:
        problems.append(("fault", f"terminal reported {facts.hardware_failure}"))
    if facts.poll_failures >= limits.poll_failures:
        problems.append(("degraded", f"poll failing ({facts.poll_failures} in a row: "
                                     f"{facts.poll_error})"))
    if r.updated is None or r.registration is None:
        problems.append(("unknown", "not polled yet"))
    elif not r.registered:
        problems.append(("degraded", f"not registered (+CREG stat {r.registration})"))
    elif r.signal_bars is None:
        problems.append(("degraded", f"signal unknown ({facts.signal_error or 'no reading'})"))
    elif not r.signal_bars:
        problems.append(("degraded", "no signal"))
    if facts.send_failures >= limits.send_failures:
        problems.append(("degraded", f"{facts.send_failures} SMS sends failed in a row "
                                     f"(last: {facts.send_error})"))
    if r.smsc == "":
        problems.append(("degraded", "no SMS centre set (+CSCA empty): SMS cannot be sent"))
    if facts.storage is not None and facts.storage[0] >= facts.storage[1] > 0:
        problems.append(("degraded", f"SIM message storage full ({facts.storage[0]}/"
                                     f"{facts.storage[1]}): new messages cannot arrive"))
    if facts.stuck_since:
        problems.append(("degraded", f"{len(facts.stuck_since)} message(s) stuck on the SIM "
                                     f"since {iso_utc(min(facts.stuck_since))}"))
    hold = timedelta(seconds=limits.hold_s)
    if facts.last_undecodable is not None and facts.now - facts.last_undecodable < hold:
        problems.append(("degraded", f"undecodable SMS received at "
                                     f"{iso_utc(facts.last_undecodable)} (journaled)"))
    status: ModemHealth = max((s for s, _ in problems), key=_SEVERITY.__getitem__,
                              default="ok")
    details = [d for s, d in sorted(problems, key=lambda p: -_SEVERITY[p[0]])]
    if status == "ok":
        details.insert(0, f"registered, signal {r.signal_bars}/5")
    if facts.last_notice is not None and facts.now - facts.last_notice[0] < hold:
        at, text = facts.last_notice
        details.append(f"terminal said {text!r} at {iso_utc(at)}")
    return status, "; ".join(details)
