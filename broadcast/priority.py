"""Who has the loudspeakers: broadcast priority, preemption and resumption.

Highest first: live voice, evacuation order, alarm siren, automatic rain voice message,
test/routine. A request of higher priority than what is on air takes the air at once
(the scheduler fades the other out); an equal or lower one waits. When the broadcast on
air ends, the waiting request of highest priority goes on air — a preempted broadcast
among them, since it was there first — unless its time to live has passed, in which case
it is dropped and reported (a "prepare" message an hour late is worse than silence).

Plain data and decisions, no clock and no I/O: the scheduler passes ``now`` (clock
monotonic seconds) and carries the decisions out.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from enum import IntEnum


class Priority(IntEnum):
    """A larger value preempts a smaller one."""

    ROUTINE = 1  # tests, routine announcements
    RAIN_MESSAGE = 2  # automatic voice message from a rain rule
    ALARM_SIREN = 3  # siren from a rain threshold or a hand alarm
    EVACUATION = 4  # evacuation order (panel, county, SMS)
    LIVE_VOICE = 5  # a person speaking now (call-in, microphone)


@dataclass(frozen=True)
class Request:
    id: str
    priority: Priority
    expires_at: float | None = None  # monotonic; None: waits as long as it takes


@dataclass(frozen=True)
class Decision:
    """What the scheduler must do now.

    ``stop`` is taken off the air (it waits to resume if ``stop_resumes``), ``start`` goes
    on air (``resumed``: it was on air before and was preempted), ``dropped`` waited past
    its expiry and will never play.
    """

    start: Request | None = None
    resumed: bool = False
    stop: Request | None = None
    stop_resumes: bool = False
    queued: Request | None = None
    dropped: tuple[Request, ...] = ()


@dataclass(order=True)
class _Waiting:
    sort_key: tuple[int, int]
    request: Request = field(compare=False)
    preempted: bool = field(compare=False, default=False)


class AirQueue:
    """The request on air and the ones waiting, ordered by priority then arrival."""

    def __init__(self) -> None:
        self._arrival = itertools.count()
        self._on_air: _Waiting | None = None
        self._waiting: list[_Waiting] = []

    @property
    def on_air(self) -> Request | None:
        return self._on_air.request if self._on_air else None

    @property
    def waiting(self) -> list[Request]:
        return [w.request for w in sorted(self._waiting)]

    def preempted(self, request_id: str) -> bool:
        return any(w.request.id == request_id and w.preempted for w in self._waiting)

    def submit(self, request: Request) -> Decision:
        if self._find(request.id) is not None:
            raise ValueError(f"request {request.id!r} is already on air or waiting")
        entry = _Waiting((-request.priority, next(self._arrival)), request)
        current = self._on_air
        if current is None:  # then nothing waits either: finished() starts the next
            self._on_air = entry
            return Decision(start=request)
        if request.priority > current.request.priority:
            current.preempted = True
            self._waiting.append(current)
            self._on_air = entry
            return Decision(start=request, stop=current.request, stop_resumes=True)
        self._waiting.append(entry)
        return Decision(queued=request)

    def finished(self, request_id: str, now: float) -> Decision:
        """The broadcast on air ended (played out, stopped, failed): what plays next."""
        if self._on_air is None or self._on_air.request.id != request_id:
            raise ValueError(f"request {request_id!r} is not on air")
        self._on_air = None
        return self._next(now)

    def cancel(self, request_id: str, now: float) -> Decision:
        """Withdraw a request, on air or waiting."""
        if self._on_air is not None and self._on_air.request.id == request_id:
            ended = self._on_air.request
            self._on_air = None
            nxt = self._next(now)
            return Decision(
                start=nxt.start, resumed=nxt.resumed, stop=ended, dropped=nxt.dropped
            )
        entry = self._find(request_id)
        if entry is None:
            raise ValueError(f"request {request_id!r} is neither on air nor waiting")
        self._waiting.remove(entry)
        return Decision()

    def expire(self, now: float) -> tuple[Request, ...]:
        """Drop waiting requests past their expiry (call now and then while one plays)."""
        return self._drop_expired(now)

    def _next(self, now: float) -> Decision:
        dropped = self._drop_expired(now)
        if not self._waiting:
            return Decision(dropped=dropped)
        entry = min(self._waiting)
        self._waiting.remove(entry)
        self._on_air = entry
        return Decision(start=entry.request, resumed=entry.preempted, dropped=dropped)

    def _drop_expired(self, now: float) -> tuple[Request, ...]:
        expired = [
            w for w in self._waiting
            if w.request.expires_at is not None and w.request.expires_at <= now
        ]
        for w in expired:
            self._waiting.remove(w)
        return tuple(w.request for w in sorted(expired))

    def _find(self, request_id: str) -> _Waiting | None:
        if self._on_air is not None and self._on_air.request.id == request_id:
            return self._on_air
        return next((w for w in self._waiting if w.request.id == request_id), None)
