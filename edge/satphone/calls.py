"""Voice calls on the satellite phone, and the call-in live broadcast.

An incoming call from a ``whitelist`` number (``+CLIP``) is answered (``ATA``) when
``answer_calls`` is on and the station has loudspeakers; any other caller, a caller
without a number, and a locked-out caller are refused (``ATH``) and journaled. Once
answered, the call audio (the phone's sound-card output, read by an
:mod:`drivers.audio_input` backend) goes through a DTMF detector: the caller keys the
``pin`` (optionally ended by ``#``) within ``pin_entry_s``. A wrong PIN (counted with
the SMS commands' wrong PINs) or none in time is refused and hung up. The right PIN
puts the call audio on the air as a live broadcast at the highest priority
(``Priority.LIVE_VOICE``) on every zone, until the caller hangs up (``NO CARRIER``, or
the call is gone from ``+CLCC``), the broadcast is stopped (then the call is hung up),
or ``call_max_s`` has passed.

An operator may also place a call (``ATD<number>;``) and hang up through the API.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from broadcast.priority import Priority
from broadcast.program import LiveContent, Program
from drivers.audio_input import AudioInput, AudioInputError, AudioInputSettings, make_input
from drivers.clock import iso_utc
from drivers.tasks import cancel_and_wait
from sat_phone.at_channel import AtCommandError, AtError
from sat_phone.at_parser import Line
from sat_phone.calls import PinEntry, call_urc, parse_clcc
from sat_phone.dtmf import DtmfDetector, DtmfLimits
from sat_phone.numbers import NumberList

if TYPE_CHECKING:
    import numpy as np

    from broadcast.record import Broadcast
    from edge.broadcasting import Broadcasting
    from edge.satphone.phone import SatPhone

log = logging.getLogger(__name__)

CALL_AUDIO_RATE = 8000
ANSWER_TIMEOUT_S = 60.0  # ATD/ATA over a geostationary link
CHECK_EVERY_S = 5.0  # +CLCC while a call is up
ACTIVE = ("answering", "pin", "live", "dialing", "connected")


class CallInError(Exception):
    """A call cannot be placed or ended now (409 for the API)."""


@dataclass
class Call:
    id: str
    direction: str  # "in" or "out"
    number: str | None
    state: str  # ringing answering pin live dialing connected refused ended
    started: datetime
    answered: datetime | None = None
    ended: datetime | None = None
    reason: str | None = None
    broadcast: str | None = None
    rings: int = 0

    def as_json(self) -> dict[str, Any]:
        def iso(moment: datetime | None) -> str | None:
            return iso_utc(moment) if moment else None

        return {"id": self.id, "direction": self.direction, "number": self.number,
                "state": self.state, "started": iso(self.started),
                "answered": iso(self.answered), "ended": iso(self.ended),
                "reason": self.reason, "broadcast": self.broadcast}


class CallAudio:
    """The live source of a call-in broadcast: blocks handed over by the call.

    Live voice must stay live: audio that piles up while the loudspeakers cannot take it
    (the amplifier warming up, the attention chime) is dropped down to ``max_lag_s``
    (None: nothing is dropped, for a source that is not paced in real time) when the
    broadcast asks for more, so the listeners never lag the speaker by the
    chime's length for the rest of the call.
    """

    def __init__(self, rate: int, max_lag_s: float | None = None) -> None:
        self.rate = rate
        self.max_lag = round(max_lag_s * rate) if max_lag_s is not None else None
        self.dropped_frames = 0
        self._queue: asyncio.Queue[np.ndarray | None] = asyncio.Queue()
        self._queued = 0

    def put(self, block: np.ndarray) -> None:
        if len(block):
            self._queue.put_nowait(block)
            self._queued += len(block)

    def finish(self) -> None:
        self._queue.put_nowait(None)

    async def blocks(self) -> AsyncIterator[np.ndarray]:
        while (block := await self._take()) is not None:
            yield block

    async def _take(self) -> np.ndarray | None:
        block = await self._queue.get()
        while block is not None:
            self._queued -= len(block)
            if self.max_lag is None or self._queued <= self.max_lag or self._queue.empty():
                return block
            self.dropped_frames += len(block)
            block = self._queue.get_nowait()
        return None


class Calls:
    def __init__(self, phone: SatPhone, broadcasting: Broadcasting | None) -> None:
        self.phone = phone
        self.station = phone.station
        self.broadcasting = broadcasting
        config = phone.config
        self.whitelist = NumberList(config.whitelist)
        self.guard = phone.commands.guard
        self.audio_settings = AudioInputSettings(
            backend=config.audio_input, rate=CALL_AUDIO_RATE, device=config.audio_device,
            socket_path=config.audio_socket)
        self.call: Call | None = None
        self.history: deque[dict[str, Any]] = deque(maxlen=50)
        self.listeners: list[Callable[[Call], None]] = []
        #: Who takes an incoming call that is not a call-in (the duty-room SIP phone,
        #: edge.sip.desk); returns False when it cannot (busy).
        self.desk_route: Callable[[Call], bool] | None = None
        self._numbers = itertools.count(1)
        self._audio: AudioInput | None = None
        self._live: CallAudio | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._call_tasks: set[asyncio.Task[Any]] = set()
        phone.channel.add_urc_listener(self._on_urc)
        if broadcasting is not None:
            broadcasting.listeners.append(self._on_broadcast)

    def as_json(self) -> dict[str, Any] | None:
        return self.call.as_json() if self.call else None

    # -- the terminal says ----------------------------------------------------------------

    def _on_urc(self, line: Line) -> None:
        urc = call_urc(line.text)
        if urc is None:
            return
        call = self.call
        if urc.signal == "ended":
            if call is not None:
                self._end(call, urc.value or "ended")
            return
        if urc.signal == "ring":
            if call is None:
                call = self._new("in", None, "ringing")
                self.phone.record("satphone.call_incoming", "sat_phone", "unknown")
            call.rings += 1
            if call.state == "ringing" and call.number is None and call.rings >= 2:
                self._refuse(call, "no caller id")
        elif call is not None and call.direction == "in" and call.number is None:
            call.number = urc.value
            self._screen(call)

    def _screen(self, call: Call) -> None:
        assert call.number is not None
        config = self.phone.config
        call_in = config.answer_calls and self.broadcasting is not None and config.pin is not None
        if not (call_in and call.number in self.whitelist) and self._to_desk(call):
            return
        if not call_in:
            self._refuse(call, "call-in disabled")
        elif call.number not in self.whitelist:
            self._refuse(call, "not whitelisted")
        elif self.guard.locked(call.number, self.station.clock.monotonic()):
            self._refuse(call, "locked out")
        else:
            self._spawn(self._answer(call), per_call=True)

    def _to_desk(self, call: Call) -> bool:
        if self.desk_route is None or not self.desk_route(call):
            return False
        self.phone.record("satphone.call_to_desk", "sat_phone", call.number or "unknown",
                          call=call.id)
        return True

    async def answer_for_desk(self, call: Call) -> None:
        """The desk phone picked up: answer the satellite call (raises AtError)."""
        await self.phone.channel.command("ATA", timeout_s=ANSWER_TIMEOUT_S)
        call.answered = self.station.clock.now()
        self.phone.record("satphone.call_answered", "sat_phone", call.number or "unknown",
                          call=call.id, by="desk phone")
        self._set(call, "connected")
        self._spawn(self._check(call), per_call=True)

    # -- incoming ---------------------------------------------------------------------------

    async def _answer(self, call: Call) -> None:
        self._set(call, "answering")
        try:
            await self.phone.channel.command("ATA", timeout_s=ANSWER_TIMEOUT_S)
        except AtError as exc:
            self._end(call, f"answer failed: {exc}")
            return
        audio = make_input(self.audio_settings)
        try:
            await audio.open()
        except AudioInputError as exc:
            self.phone.record("fault.satphone_audio_input", "sat_phone", "system", error=str(exc))
            await self._hang_up(call, "no call audio")
            return
        if call.state == "ended":  # hung up while we opened the audio
            await audio.close()
            return
        self._audio = audio
        call.answered = self.station.clock.now()
        self.phone.record("satphone.call_answered", "sat_phone", call.number or "unknown",
                       call=call.id)
        self._set(call, "pin")
        self._spawn(self._pin_deadline(call), per_call=True)
        self._spawn(self._check(call), per_call=True)
        await self._listen(call, audio)

    async def _listen(self, call: Call, audio: AudioInput) -> None:
        """The one reader of the call audio: DTMF first, then the live broadcast."""
        detector = DtmfDetector(DtmfLimits(rate=audio.rate))
        entry = PinEntry(self.phone.config.pin or "")
        while (block := await audio.read()) is not None and call.state != "ended":
            if call.state == "live" and self._live is not None:
                self._live.put(block)
                continue
            for key in detector.feed(block):
                verdict = entry.press(key)
                if verdict is True:
                    await self._go_live(call, audio)
                    break
                if verdict is False:
                    self._wrong_pin(call, "wrong pin")
                    return

    async def _pin_deadline(self, call: Call) -> None:
        await self.station.clock.sleep(self.phone.config.pin_entry_s)
        if call.state == "pin":
            self._wrong_pin(call, "no pin in time")

    def _wrong_pin(self, call: Call, reason: str) -> None:
        number = call.number or ""
        locked = self.guard.failed(number, self.station.clock.monotonic())
        self._refuse(call, reason + (" (now locked out)" if locked else ""))

    async def _go_live(self, call: Call, audio: AudioInput) -> None:
        assert self.broadcasting is not None and call.number is not None
        self.guard.succeeded(call.number)
        self.phone.record("satphone.call_pin_accepted", "sat_phone", call.number,
                                    call=call.id)
        live = self._live = CallAudio(audio.rate)
        self._set(call, "live")
        service = self.broadcasting.service
        try:
            broadcast = await service.submit(
                Program(LiveContent(call.number, live)),
                zones=sorted(self.broadcasting.amplifier.zones), priority=Priority.LIVE_VOICE,
                type="emergency", source="phone", actor=call.number, labels={"call": call.id})
        except Exception as exc:
            log.exception("call-in broadcast refused")
            await self._hang_up(call, f"broadcast refused: {exc}")
            return
        call.broadcast = broadcast.id
        self.phone.record("satphone.call_live", "sat_phone", call.number,
                                    call=call.id, broadcast=broadcast.id)
        self._spawn(self._max_time(call), per_call=True)

    async def _max_time(self, call: Call) -> None:
        await self.station.clock.sleep(self.phone.config.call_max_s)
        if call.state == "live":
            await self._hang_up(call, "maximum call time")

    def _on_broadcast(self, kind: str, broadcast: Broadcast) -> None:
        call = self.call
        if (call is not None and call.state == "live" and call.broadcast == broadcast.id
                and not broadcast.active):
            self._spawn(self._hang_up(call, f"broadcast {broadcast.state}"))

    # -- outgoing ---------------------------------------------------------------------------

    async def place(self, number: str, *, actor: str) -> Call:
        if self.call is not None:
            raise CallInError(f"a call is already {self.call.state}")
        call = self._new("out", number, "dialing")
        self.phone.record("satphone.call_placed", "sat_phone", actor, number=number,
                                    call=call.id)
        try:
            await self.phone.channel.command(f"ATD{number};", timeout_s=ANSWER_TIMEOUT_S)
        except AtError as exc:
            self._end(call, f"dial failed: {exc}")
            return call
        self._spawn(self._check(call), per_call=True)
        return call

    async def hang_up(self, *, actor: str) -> Call:
        call = self.call
        if call is None:
            raise CallInError("no call")
        self.phone.record("satphone.hang_up", "sat_phone", actor, call=call.id)
        await self._hang_up(call, f"hung up by {actor}")
        return call

    # -- the call's end ---------------------------------------------------------------------

    async def _check(self, call: Call) -> None:
        """Poll ``+CLCC``: the end of a call whose ``NO CARRIER`` went astray."""
        while call.state in ACTIVE:
            await self.station.clock.sleep(CHECK_EVERY_S)
            try:
                response = await self.phone.channel.command("AT+CLCC", prefix="+CLCC:")
            except AtCommandError as exc:
                if exc.kind in ("no_carrier", "busy", "no_answer"):
                    self._end(call, exc.kind)
                continue
            except AtError:
                continue
            listed = [c for c in (parse_clcc(line.text) for line in response.lines) if c]
            if not listed:
                self._end(call, "call gone")
            elif call.direction == "out" and listed[0].state == "active":
                self._set(call, "connected")

    def _refuse(self, call: Call, reason: str) -> None:
        self.phone.record("satphone.call_refused", "sat_phone", call.number or "unknown",
                                    call=call.id, reason=reason)
        call.state = "refused"
        self._spawn(self._hang_up(call, f"refused: {reason}"))

    async def _hang_up(self, call: Call, reason: str) -> None:
        try:
            await self.phone.channel.command("ATH")
        except AtError as exc:
            log.warning("ATH failed: %s", exc)
        self._end(call, reason)

    def _end(self, call: Call, reason: str) -> None:
        if call.state == "ended":
            return
        call.state, call.ended, call.reason = "ended", self.station.clock.now(), reason
        audio, self._audio = self._audio, None
        live, self._live = self._live, None
        if live is not None:
            if audio is not None:
                live.put(audio.take_pending())  # what the caller said before hanging up
            live.finish()
        if audio is not None:
            self._spawn(audio.close())
        for task in list(self._call_tasks):
            if task is not asyncio.current_task():
                task.cancel()
        self.phone.record("satphone.call_ended", "sat_phone", call.number or "unknown",
                                    call=call.id, reason=reason, broadcast=call.broadcast)
        self.history.append(call.as_json())
        if self.call is call:
            self.call = None
        self._notify(call)

    # -- bookkeeping ------------------------------------------------------------------------

    def _new(self, direction: str, number: str | None, state: str) -> Call:
        now = self.station.clock.now()
        call = Call(f"c{now:%Y%m%d%H%M%S}-{next(self._numbers)}", direction, number, state, now)
        self.call = call
        self._notify(call)
        return call

    def _set(self, call: Call, state: str) -> None:
        if call.state not in ("ended", "refused"):
            call.state = state
            self._notify(call)

    def _notify(self, call: Call) -> None:
        for listener in self.listeners:
            try:
                listener(call)
            except Exception:
                log.exception("call listener failed")

    def _spawn(self, coro: Coroutine[Any, Any, Any], *, per_call: bool = False) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if per_call:
            self._call_tasks.add(task)
            task.add_done_callback(self._call_tasks.discard)

    async def close(self) -> None:
        call = self.call
        if call is not None:
            self._end(call, "station stopping")
        await cancel_and_wait(self._tasks)
