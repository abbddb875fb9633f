"""叫应 (call-and-respond): the people responsible must say they got the alarm.

The persons of the first tier are messaged; if none of them answers (``1`` / ``收到``)
within that tier's ``answer_within_s``, the next tier is messaged as well, and so on.
Anyone already messaged may still answer. When the last tier's time runs out the
callout is *unanswered* (the station journals it; people must be phoned). Plain
state: the caller passes the times and sends the messages each step names.

:meth:`Callout.record` and :meth:`Callout.from_record` make it a plain record that
survives a restart: the deadline is kept in wall-clock time (``deadline_at``), since the
clock's monotonic time starts afresh with each process.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sat_phone.numbers import NumberList

CalloutState = Literal["calling", "answered", "unanswered"]


@dataclass(frozen=True, slots=True)
class Tier:
    numbers: tuple[str, ...]
    answer_within_s: float

    def __post_init__(self) -> None:
        if not self.numbers:
            raise ValueError("a callout tier needs at least one number")
        if self.answer_within_s <= 0:
            raise ValueError(f"answer_within_s must be > 0, got {self.answer_within_s}")


@dataclass(frozen=True, slots=True)
class CalloutStep:
    """Message these numbers now (tier is 1-based)."""

    tier: int
    numbers: tuple[str, ...]


class Callout:
    def __init__(self, subject: str, tiers: list[Tier] | tuple[Tier, ...]) -> None:
        if not tiers:
            raise ValueError("a callout needs at least one tier")
        self.subject = subject
        self.tiers = tuple(tiers)
        self.state: CalloutState = "calling"
        self.tier = 0  # 1-based once started
        self.deadline: float | None = None
        self.deadline_at: datetime | None = None  # the same moment, in wall-clock time
        self.messaged: list[dict[str, Any]] = []
        self.answered_by: str | None = None
        self.answered_at: datetime | None = None
        self._reached = NumberList(())

    @property
    def calling(self) -> bool:
        """Still waiting for an answer; asked afresh after ``expire`` or ``answer``."""
        return self.state == "calling"

    def start(self, now: float, at: datetime) -> CalloutStep:
        if self.tier:
            raise RuntimeError("callout already started")
        return self._call(1, now, at)

    def expire(self, now: float, at: datetime) -> CalloutStep | None:
        """The deadline passed: the next tier to message, or None (answered or exhausted)."""
        if self.state != "calling" or self.deadline is None or now < self.deadline:
            return None
        if self.tier < len(self.tiers):
            return self._call(self.tier + 1, now, at)
        self.state = "unanswered"
        self.deadline = self.deadline_at = None
        return None

    def answer(self, number: str, at: datetime) -> bool:
        """``number`` answered; True if that settles this callout."""
        if self.state != "calling" or number not in self._reached:
            return False
        self.state = "answered"
        self.answered_by = number
        self.answered_at = at
        self.deadline = self.deadline_at = None
        return True

    def reached(self, number: str) -> bool:
        return number in self._reached

    def _call(self, tier: int, now: float, at: datetime) -> CalloutStep:
        self.tier = tier
        spec = self.tiers[tier - 1]
        self.deadline = now + spec.answer_within_s
        self.deadline_at = at + timedelta(seconds=spec.answer_within_s)
        self.messaged.append({"tier": tier, "numbers": list(spec.numbers), "at": at})
        self._reached = NumberList([n for t in self.tiers[:tier] for n in t.numbers])
        return CalloutStep(tier, spec.numbers)

    def as_json(self, iso: Any) -> dict[str, Any]:
        return {
            "state": self.state, "tier": self.tier, "tiers": len(self.tiers),
            "messaged": [{**m, "at": iso(m["at"])} for m in self.messaged],
            "answered_by": self.answered_by,
            "answered_at": iso(self.answered_at) if self.answered_at else None,
        }

    # -- as a plain record -------------------------------------------------------------

    def record(self, iso: Any) -> dict[str, Any]:
        """Everything needed to carry on after a restart (``iso`` writes a datetime)."""
        return {
            "subject": self.subject, "state": self.state, "tier": self.tier,
            "tiers": [{"numbers": list(t.numbers), "answer_within_s": t.answer_within_s}
                      for t in self.tiers],
            "deadline_at": iso(self.deadline_at) if self.deadline_at else None,
            "messaged": [{**m, "at": iso(m["at"])} for m in self.messaged],
            "answered_by": self.answered_by,
            "answered_at": iso(self.answered_at) if self.answered_at else None,
        }

    @classmethod
    def from_record(cls, data: dict[str, Any], parse: Any, now: float,
                    at: datetime) -> Callout:
        """The inverse of :meth:`record`, at monotonic ``now`` / wall-clock ``at``: the
        deadline falls where ``deadline_at`` says (already past: the next ``expire``)."""
        callout = cls(data["subject"], [Tier(tuple(t["numbers"]), t["answer_within_s"])
                                        for t in data["tiers"]])
        callout.state = data["state"]
        callout.tier = data["tier"]
        callout.messaged = [{**m, "at": parse(m["at"])} for m in data["messaged"]]
        callout.answered_by = data["answered_by"]
        callout.answered_at = parse(data["answered_at"]) if data["answered_at"] else None
        if data["deadline_at"]:
            callout.deadline_at = parse(data["deadline_at"])
            callout.deadline = now + (callout.deadline_at - at).total_seconds()
        callout._reached = NumberList([n for t in callout.tiers[:callout.tier]
                                       for n in t.numbers])
        return callout
