"""SIP call-in broadcast: a whitelisted caller keys the PIN and speaks live on the zones.

Exactly the satellite call-in (:mod:`edge.satphone.calls`) over SIP: a caller from
``[sip] callin_whitelist`` (a SIP URI or a number) is answered; the keys (RFC 4733 or SIP
INFO, as PJSIP reports them) go through the same :class:`~sat_phone.calls.PinEntry`
within ``pin_entry_s``; wrong PINs count in the same lock-out as the satellite phone's
(one guard per caller). The right PIN puts the call audio on ``callin_zones`` (default
every zone) at live-voice priority through the broadcast scheduler — preempting whatever
plays — until the caller hangs up, the broadcast is stopped (then the call is ended) or
``call_max_s`` has passed. Everything is journaled under ``sip.callin_*``.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from broadcast.priority import Priority
from broadcast.program import LiveContent, Program
from drivers.clock import iso_utc
from drivers.sip_ua import CLOCK_RATE, CallMedia, CallState, Digit, Incoming
from edge.satphone.calls import CallAudio
from sat_phone.calls import PinEntry
from sat_phone.commands import PinGuard

#: RTP arrives in real time: what piles up during warm-up and chime is dropped to this.
MAX_LAG_S = 0.1

if TYPE_CHECKING:
    import numpy as np

    from broadcast.record import Broadcast
    from edge.broadcasting import Broadcasting
    from edge.satphone.phone import SatPhone
    from edge.sip.phone import SipPhone


@dataclass
class CallIn:
    id: str
    caller: str
    handle: int
    state: str  # pin live ended
    started: datetime
    ended: datetime | None = None
    reason: str | None = None
    broadcast: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "caller": self.caller, "state": self.state,
                "started": iso_utc(self.started),
                "ended": iso_utc(self.ended) if self.ended else None,
                "reason": self.reason, "broadcast": self.broadcast}


class SipCallIn:
    """The incoming-call route for whitelisted callers (``station.parts.sip.callin``)."""

    def __init__(self, phone: SipPhone, broadcasting: Broadcasting,
                 satphone: SatPhone | None) -> None:
        self.phone = phone
        self.clock = phone.station.clock
        self.broadcasting = broadcasting
        self.config = phone.config
        self.callers = phone.callers(self.config.callin_whitelist)
        self.guard = (satphone.commands.guard if satphone is not None
                      else PinGuard(3, window_s=1800.0, lockout_s=1800.0))
        self.calls: dict[int, _CallInRun] = {}
        self.history: list[dict[str, Any]] = []
        self._numbers = itertools.count(1)
        broadcasting.listeners.append(self._on_broadcast)

    def wants(self, event: Incoming) -> bool:
        return self.callers.allows(event.remote)

    def take(self, event: Incoming) -> _CallInRun:
        now = self.clock.now()
        call = CallIn(f"s{now:%Y%m%d%H%M%S}-{next(self._numbers)}",
                      self.callers.who(event.remote), event.call, "pin", now)
        run = _CallInRun(self, call)
        self.calls[event.call] = run
        run.spawn(run.answer())
        return run

    def as_json(self) -> dict[str, Any]:
        return {"calls": [r.call.as_json() for r in self.calls.values()],
                "recent": self.history[-20:]}

    def _on_broadcast(self, kind: str, broadcast: Broadcast) -> None:
        for run in list(self.calls.values()):
            if run.call.broadcast == broadcast.id and not broadcast.active:
                run.spawn(run.end(f"broadcast {broadcast.state}"))


class _CallInRun:
    def __init__(self, owner: SipCallIn, call: CallIn) -> None:
        self.owner = owner
        self.phone = owner.phone
        self.call = call
        self.entry = PinEntry(owner.config.pin or "")
        self.media: CallMedia | None = None
        self.live: CallAudio | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def record(self, kind: str, **data: Any) -> None:
        self.phone.record(kind, "sip", self.call.caller, call=self.call.id, **data)

    async def answer(self) -> None:
        owner, call = self.owner, self.call
        if owner.guard.locked(call.caller, owner.clock.monotonic()):
            await self._refuse("locked out", code=403)
            return
        self.media = await self.phone.answer(call.handle)
        self.media.on_audio = self._heard
        self.record("sip.callin_answered")
        self.spawn(self._deadline(owner.config.pin_entry_s, "pin", "no pin in time"))

    def on_digit(self, event: Digit) -> None:
        if self.call.state != "pin":
            return
        verdict = self.entry.press(event.digit)
        if verdict is True:
            self.owner.guard.succeeded(self.call.caller)
            self.spawn(self._go_live())
        elif verdict is False:
            locked = self.owner.guard.failed(self.call.caller, self.owner.clock.monotonic())
            self.spawn(self._refuse("wrong pin" + (" (now locked out)" if locked else "")))

    def on_state(self, event: CallState) -> None:
        if event.state == "ended":
            self._ended(f"caller hung up ({event.code} {event.reason})".strip())

    def _heard(self, pcm: np.ndarray) -> None:
        if self.live is not None:
            self.live.put(pcm)

    async def _go_live(self) -> None:
        owner, call = self.owner, self.call
        self.record("sip.callin_pin_accepted")
        self.live = CallAudio(CLOCK_RATE, max_lag_s=MAX_LAG_S)
        call.state = "live"
        amplifier = owner.broadcasting.amplifier
        zones = owner.config.callin_zones or sorted(amplifier.zones)
        try:
            broadcast = await owner.broadcasting.service.submit(
                Program(LiveContent(call.caller, self.live)), zones=list(zones),
                priority=Priority.LIVE_VOICE, type="emergency", source="phone",
                actor=call.caller, labels={"sip_call": call.id})
        except Exception as exc:
            await self.end(f"broadcast refused: {exc}")
            return
        call.broadcast = broadcast.id
        self.record("sip.callin_live", broadcast=broadcast.id, zones=list(zones))
        self.spawn(self._deadline(owner.config.call_max_s, "live", "maximum call time"))

    async def _deadline(self, seconds: float, state: str, reason: str) -> None:
        await self.owner.clock.sleep(seconds)
        if self.call.state == state:
            await self.end(reason)

    async def _refuse(self, reason: str, code: int = 603) -> None:
        self.record("sip.callin_refused", reason=reason)
        await self.end(reason, code)

    async def end(self, reason: str, code: int = 603) -> None:
        if self.call.state == "ended":
            return
        self._ended(reason)
        await self.phone.hang_up(self.call.handle, code)

    def _ended(self, reason: str) -> None:
        call = self.call
        if call.state == "ended":
            return
        call.state, call.ended, call.reason = "ended", self.owner.clock.now(), reason
        if self.live is not None:
            self.live.finish()
        self.phone.count("in", "live" if call.broadcast else "ended")
        self.record("sip.callin_ended", reason=reason, broadcast=call.broadcast)
        self.owner.calls.pop(call.handle, None)
        self.owner.history.append(call.as_json())
        for task in list(self._tasks):
            if task is not asyncio.current_task():
                task.cancel()

    def spawn(self, coro: Any) -> None:
        task = self.phone.background.spawn(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
