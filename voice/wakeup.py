"""叫醒: ring the people responsible until one of them says, by pressing 1, they are awake.

An SMS wakes nobody at night; a ringing phone does. The persons of the first tier are
rung at once; whoever answers hears the alarm and is asked to press 1 (确认收到请按1).
The first 1 settles it: who and when are recorded. When nobody of a tier has pressed 1
within the tier's ``answer_within_s`` — or every call of the tier has ended without it
(busy, declined, hung up) — the next tier is rung. After the last tier the wake-up is
*unanswered*. When no call of a tier even reached a phone (no ringing, a transport error,
408/5xx before any ringing: the county network is down), it is *unreachable*, and the
station falls back to the satellite phone.

Plain data and decisions, no I/O: the caller places the calls each step names and reports
what happened to them. :meth:`WakeUp.as_json` and :meth:`WakeUp.from_json` make it a plain
record, so a state store can keep a wake-up across a restart: the tier's deadline is kept
in wall-clock time too (``deadline_at``), and :meth:`WakeUp.resume` carries on at the
tier where it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

WakeState = Literal["calling", "answered", "unanswered", "unreachable"]
CallOutcome = Literal["dialing", "ringing", "talking", "answered", "no_answer", "busy",
                      "unreachable", "cancelled"]
#: Final SIP statuses that say the network, not the person, failed (when nothing rang).
NETWORK_FAILURES = frozenset({0, 408, 500, 502, 503, 504})
BUSY = frozenset({486, 600, 603})
ANSWER_KEY = "1"


@dataclass(frozen=True, slots=True)
class WakeTier:
    targets: tuple[str, ...]  # telephone numbers or SIP URIs
    answer_within_s: float

    def __post_init__(self) -> None:
        if not self.targets:
            raise ValueError("a wake-up tier needs at least one target")
        if self.answer_within_s <= 0:
            raise ValueError(f"answer_within_s must be > 0, got {self.answer_within_s}")


@dataclass(slots=True)
class WakeCall:
    """One person rung once."""

    tier: int
    target: str
    placed_at: datetime
    outcome: CallOutcome = "dialing"
    rang: bool = False
    connected_at: datetime | None = None
    ended_at: datetime | None = None
    code: int = 0
    reason: str = ""

    @property
    def open(self) -> bool:
        return self.ended_at is None

    def as_json(self, iso: Any) -> dict[str, Any]:
        return {"tier": self.tier, "target": self.target, "placed_at": iso(self.placed_at),
                "outcome": self.outcome, "rang": self.rang,
                "connected_at": iso(self.connected_at) if self.connected_at else None,
                "ended_at": iso(self.ended_at) if self.ended_at else None,
                "code": self.code, "reason": self.reason}


@dataclass
class WakeUp:
    subject: str  # the alarm's id
    tiers: tuple[WakeTier, ...]
    state: WakeState = "calling"
    tier: int = 0  # 1-based once started
    deadline: float | None = None  # clock monotonic end of the current tier
    deadline_at: datetime | None = None  # the same moment in wall-clock time
    calls: list[WakeCall] = field(default_factory=list)
    answered_by: str | None = None
    answered_at: datetime | None = None
    reason: str | None = None  # why unreachable

    def __post_init__(self) -> None:
        if not self.tiers:
            raise ValueError("a wake-up needs at least one tier")

    def start(self, now: float, at: datetime) -> list[WakeCall]:
        if self.tier:
            raise RuntimeError("wake-up already started")
        return self._ring(1, now, at)

    def rang(self, call: WakeCall) -> None:
        call.rang = True
        if call.outcome == "dialing":
            call.outcome = "ringing"

    def connected(self, call: WakeCall, at: datetime) -> None:
        call.rang = True
        call.connected_at = at
        call.outcome = "talking"

    def pressed(self, call: WakeCall, key: str, at: datetime) -> bool:
        """A key from a call; True if it settles the wake-up (the first 1)."""
        if key != ANSWER_KEY or self.state != "calling" or call.connected_at is None:
            return False
        self.state = "answered"
        self.answered_by = call.target
        self.answered_at = at
        self.deadline = self.deadline_at = None
        call.outcome = "answered"
        return True

    def ended(self, call: WakeCall, code: int, reason: str, now: float,
              at: datetime) -> list[WakeCall]:
        """A call ended; the calls of the next tier to place now, if this ends the tier."""
        if not call.open:
            return []
        call.ended_at, call.code, call.reason = at, code, reason
        if call.outcome not in ("answered", "cancelled"):
            call.outcome = _outcome(call, code)
        if self.state != "calling" or call.tier != self.tier:
            return []
        current = [c for c in self.calls if c.tier == self.tier]
        if any(c.open for c in current):
            return []
        if all(c.outcome == "unreachable" for c in current):
            self.state = "unreachable"
            self.deadline = self.deadline_at = None
            self.reason = f"no call of tier {self.tier} reached a phone (SIP {code} {reason})"
            return []
        return self._next(now, at)

    def expire(self, now: float, at: datetime) -> list[WakeCall]:
        """The tier's time ran out: the next tier's calls (the open ones are to be ended)."""
        if self.state != "calling" or self.deadline is None or now < self.deadline:
            return []
        return self._next(now, at)

    def give_up(self, reason: str) -> None:
        """SIP cannot be used at all (not installed, not registered)."""
        self.state = "unreachable"
        self.deadline = self.deadline_at = None
        self.reason = reason

    def cancel(self, call: WakeCall) -> None:
        """The station ends this call (answered elsewhere, tier over, alarm cleared)."""
        if call.open and call.outcome != "answered":
            call.outcome = "cancelled"

    def resume(self, now: float, at: datetime) -> list[WakeCall]:
        """After a restart: the calls that were ringing died with the station, so the
        current tier is rung again until its deadline (already past: the next tier)."""
        if self.state != "calling":
            return []
        for call in self.open_calls():
            self.cancel(call)
            call.ended_at, call.reason = at, "station restarted"
        if self.deadline is not None and now >= self.deadline:
            return self._next(now, at)
        spec = self.tiers[self.tier - 1]
        placed = [WakeCall(self.tier, target, at) for target in spec.targets]
        self.calls += placed
        return placed

    def open_calls(self) -> list[WakeCall]:
        return [c for c in self.calls if c.open]

    def _next(self, now: float, at: datetime) -> list[WakeCall]:
        if self.tier < len(self.tiers):
            return self._ring(self.tier + 1, now, at)
        self.state = "unanswered"
        self.deadline = self.deadline_at = None
        return []

    def _ring(self, tier: int, now: float, at: datetime) -> list[WakeCall]:
        self.tier = tier
        spec = self.tiers[tier - 1]
        self.deadline = now + spec.answer_within_s
        self.deadline_at = at + timedelta(seconds=spec.answer_within_s)
        placed = [WakeCall(tier, target, at) for target in spec.targets]
        self.calls += placed
        return placed

    # -- as a plain record ---------------------------------------------------------------

    def as_json(self, iso: Any) -> dict[str, Any]:
        return {
            "subject": self.subject, "state": self.state, "tier": self.tier,
            "tiers": [{"targets": list(t.targets), "answer_within_s": t.answer_within_s}
                      for t in self.tiers],
            "deadline": self.deadline,
            "deadline_at": iso(self.deadline_at) if self.deadline_at else None,
            "calls": [c.as_json(iso) for c in self.calls],
            "answered_by": self.answered_by,
            "answered_at": iso(self.answered_at) if self.answered_at else None,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], parse: Any, now: float | None = None,
                  at: datetime | None = None) -> WakeUp:
        """The inverse of :meth:`as_json` (``parse`` reads what ``iso`` wrote). Given the
        clock's monotonic ``now`` and wall-clock ``at`` (another process: after a
        restart), the deadline is placed by ``deadline_at``."""
        def when(value: str | None) -> datetime | None:
            return parse(value) if value else None

        deadline_at = when(data.get("deadline_at"))
        deadline = data["deadline"]
        if deadline_at is not None and now is not None and at is not None:
            deadline = now + (deadline_at - at).total_seconds()
        wake = cls(data["subject"],
                   tuple(WakeTier(tuple(t["targets"]), t["answer_within_s"])
                         for t in data["tiers"]),
                   state=data["state"], tier=data["tier"], deadline=deadline,
                   deadline_at=deadline_at,
                   answered_by=data["answered_by"], answered_at=when(data["answered_at"]),
                   reason=data["reason"])
        wake.calls = [WakeCall(c["tier"], c["target"], parse(c["placed_at"]), c["outcome"],
                               c["rang"], when(c["connected_at"]), when(c["ended_at"]),
                               c["code"], c["reason"]) for c in data["calls"]]
        return wake


def _outcome(call: WakeCall, code: int) -> CallOutcome:
    if call.connected_at is not None:
        return "no_answer"  # picked up, never pressed 1
    if code in BUSY:
        return "busy"
    if not call.rang and (code in NETWORK_FAILURES or code >= 500):
        return "unreachable"
    return "no_answer"
