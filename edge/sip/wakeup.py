"""叫醒 over SIP: an alarm rings the responsible people's phones until one presses 1.

When an alarm is raised or escalated, each tier (``[[sip.wakeup]]``, or the numbers of
the ``[[sat_phone.callout]]`` tiers) is rung through the PBX. Whoever picks up hears the
composed message (espeak-ng, as the broadcasts speak) ``wakeup_plays`` times, each
followed by 确认收到请按1, then has ``wakeup_key_wait_s`` to press it. The first 1 (RFC
4733 or SIP INFO) settles it: who and when go on the alarm (``alarm.wakeup``), the journal
and the metrics, and the other phones stop ringing. No 1 within the tier's time → the
next tier rings. SIP unreachable (not installed, not registered, no call reaching a
phone) → the satellite phone's SMS tiers, as without SIP; nobody answering any tier →
the satellite tiers as well, so the alarm is still in writing on their phones.

Each change of a wake-up is kept in the state store; after a restart a wake-up still
calling rings its tier again until the tier's deadline (the calls it had died with the
station), and one that ended stays as it was.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from broadcast.tts import Speech, SpeechFailed, Voice
from drivers.clock import iso_utc
from drivers.sip_ua import CLOCK_RATE, CallMedia, CallState, Digit, SipCallError
from drivers.tasks import cancel_and_wait
from voice.wakeup import WakeCall, WakeTier, WakeUp

if TYPE_CHECKING:
    import numpy as np

    from edge.alarms import Alarm, Alarms
    from edge.satphone.reports import Reports
    from edge.sip.phone import SipPhone

log = logging.getLogger(__name__)

KIND = "wakeup"
PROMPT = "确认收到请按1。"
THANKS = "已确认，谢谢。"
GAP_S = 1.0
THANKS_WAIT_S = 5.0


def wake_tiers(phone: SipPhone) -> tuple[WakeTier, ...]:
    config = phone.station.config
    assert config.sip is not None
    if config.sip.wakeup:
        return tuple(WakeTier(tuple(t.targets), t.answer_within_s) for t in config.sip.wakeup)
    if config.sat_phone is not None:
        return tuple(WakeTier(tuple(t.numbers), t.answer_within_s)
                     for t in config.sat_phone.callout)
    return ()


def wake_text(station_name: str, alarm: Alarm) -> str:
    return f"{station_name}叫应：{alarm.summary_zh()}。"


class WakeUps:
    """Every alarm's 叫醒 (``station.parts.sip.wakeups``)."""

    def __init__(self, phone: SipPhone, alarms: Alarms, reports: Reports | None) -> None:
        self.phone = phone
        self.station = phone.station
        self.reports = reports
        self.tiers = wake_tiers(phone)
        tts = self.station.config.tts
        self.speech = Speech(self.station.config.station.data_dir / "tts", CLOCK_RATE,
                             Voice(tts.voice, tts.words_per_minute))
        self.alarms = alarms
        self.runs: dict[str, WakeRun] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._saved = self._saved_wakeups()
        if self.tiers:
            alarms.listeners.append(self._on_alarm)
            if reports is not None:
                reports.defer_callout = lambda _alarm: True

    def _saved_wakeups(self) -> dict[str, WakeUp]:
        """Wake-ups of alarms carried over from before a restart."""
        clock = self.station.clock
        carried = [a.id for a in self.alarms.list(open_only=True)]
        return self.station.state.carried(KIND, carried, lambda data: WakeUp.from_json(
            data, datetime.fromisoformat, clock.monotonic(), clock.now()))

    def _on_alarm(self, what: str, alarm: Alarm) -> None:
        if what in ("raised", "escalated"):
            self._run(WakeRun(self, alarm, WakeUp(alarm.id, self.tiers)))
        elif what == "restored" and (wake := self._saved.pop(alarm.id, None)) is not None:
            self.station.restored.setdefault("wakeups", []).append(alarm.id)
            run = WakeRun(self, alarm, wake, resumed=True)
            if wake.state == "calling":
                self._run(run)
            else:
                self.runs[alarm.id] = run  # over already: shown as it ended
        elif what == "cleared":
            self._stop(alarm.id)
            if alarm.id in self.runs:
                self.station.state.delete(KIND, alarm.id)

    def _run(self, run: WakeRun) -> None:
        self._stop(run.alarm.id)
        self.runs[run.alarm.id] = run
        self._tasks[run.alarm.id] = asyncio.get_running_loop().create_task(
            run.run(), name=f"wakeup-{run.alarm.id}")

    def _stop(self, alarm_id: str) -> None:
        task = self._tasks.pop(alarm_id, None)
        if task is not None:
            task.cancel()

    def fall_back(self, alarm: Alarm, reason: str) -> None:
        """The satellite phone's SMS tiers take over (or a fault, with no satellite phone)."""
        self.phone.record("sip.wakeup_fallback", alarm.id, "system", reason=reason,
                          to="satellite" if self.reports is not None else None)
        if self.reports is not None:
            self.reports.start_callout(alarm)
        else:
            self.phone.record("fault.wakeup_unanswered", alarm.id, "system", reason=reason)

    def as_json(self) -> list[dict[str, Any]]:
        return [run.wake.as_json(iso_utc) for run in self.runs.values()]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(("calling", "answered", "unanswered", "unreachable"), 0)
        for run in self.runs.values():
            counts[run.wake.state] += 1
        return counts

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        await cancel_and_wait(tasks)


class WakeRun:
    """One alarm's wake-up: places the calls, plays the message, hears the keys."""

    def __init__(self, owner: WakeUps, alarm: Alarm, wake: WakeUp, *,
                 resumed: bool = False) -> None:
        self.owner = owner
        self.resumed = resumed
        self.phone = owner.phone
        self.clock = owner.station.clock
        self.alarm = alarm
        self.wake = wake
        self.calls: dict[int, WakeCall] = {}
        self.media: dict[int, CallMedia] = {}
        self.to_ring: list[WakeCall] = []
        self.changed = asyncio.Event()
        self._speech: asyncio.Task[np.ndarray] | None = None
        self._thanking: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def run(self) -> None:
        alarm, wake = self.alarm, self.wake
        try:
            if not self.phone.reachable:
                wake.give_up(self.phone.why_not or "not registered with the PBX")
                self._show()
                self.owner.fall_back(alarm, wake.reason or "")
                return
            self._speech = asyncio.get_running_loop().create_task(self._render())
            if self.resumed:
                self.to_ring = wake.resume(self.clock.monotonic(), self.clock.now())
                self.phone.record("sip.wakeup_resumed", alarm.id, "system", tier=wake.tier,
                                  targets=[c.target for c in self.to_ring])
            else:
                self.to_ring = wake.start(self.clock.monotonic(), self.clock.now())
                self.phone.record("sip.wakeup_started", alarm.id, "system",
                                  targets=[c.target for c in self.to_ring])
            self._show()  # on the alarm before the first INVITE leaves
            await self._follow()
            self._finish()
            if self._thanking is not None:
                await self._thanking  # the one who pressed 1 hears the thanks, then BYE
        finally:
            await self._end_all()

    async def _follow(self) -> None:
        wake = self.wake
        while wake.state == "calling":
            if self.to_ring:
                ring, self.to_ring = self.to_ring, []
                if ring[0].tier > 1:
                    self.phone.record("sip.wakeup_escalated", self.alarm.id, "system",
                                      tier=ring[0].tier, targets=[c.target for c in ring])
                for call in ring:
                    await self._place(call)
                self._show()
                continue
            self.changed.clear()
            assert wake.deadline is not None
            timer = asyncio.ensure_future(
                self.clock.sleep(max(0.0, wake.deadline - self.clock.monotonic())))
            changed = asyncio.ensure_future(self.changed.wait())
            try:
                await asyncio.wait([timer, changed], return_when=asyncio.FIRST_COMPLETED)
            finally:
                await cancel_and_wait([timer, changed])
            state: str = wake.state  # read again: it may have changed while we waited
            if state == "calling" and not self.changed.is_set():
                old = wake.open_calls()
                self.to_ring += wake.expire(self.clock.monotonic(), self.clock.now())
                for call in old:
                    await self._end(call)

    def _finish(self) -> None:
        wake, alarm = self.wake, self.alarm
        self._show()
        if wake.state == "answered":
            self.phone.record("sip.wakeup_answered", alarm.id, wake.answered_by or "unknown",
                              tier=wake.tier, answered_at=iso_utc(wake.answered_at)
                              if wake.answered_at else None)
        elif wake.state == "unanswered":
            self.phone.record("sip.wakeup_unanswered", alarm.id, "system",
                              tiers=len(wake.tiers))
            self.owner.fall_back(alarm, "nobody pressed 1")
        elif wake.state == "unreachable":
            self.phone.record("sip.wakeup_unreachable", alarm.id, "system", reason=wake.reason)
            self.owner.fall_back(alarm, wake.reason or "unreachable")

    # -- one call ------------------------------------------------------------------------

    async def _place(self, call: WakeCall) -> None:
        try:
            handle, media = await self.phone.place(call.target, self)
        except (SipCallError, ValueError) as exc:
            self.phone.count("out", "failed")
            self.phone.record("sip.wakeup_call_failed", self.alarm.id, "system",
                              target=call.target, error=str(exc))
            self.to_ring += self.wake.ended(call, 0, str(exc), self.clock.monotonic(),
                                            self.clock.now())
            return
        self.calls[handle] = call
        self.media[handle] = media
        self.phone.record("sip.wakeup_call", self.alarm.id, "system", target=call.target,
                          tier=call.tier, call=handle)

    def on_state(self, event: CallState) -> None:
        call = self.calls.get(event.call)
        if call is None:
            return
        if event.state == "ringing":
            self.wake.rang(call)
        elif event.state == "connected":
            self.wake.connected(call, self.clock.now())
            self._spawn(self._speak(event.call, call))
        elif event.state == "ended":
            self.calls.pop(event.call, None)
            self.media.pop(event.call, None)
            self.to_ring += self.wake.ended(call, event.code, event.reason,
                                            self.clock.monotonic(), self.clock.now())
            self.phone.count("out", call.outcome)
            self.phone.record("sip.wakeup_call_ended", self.alarm.id, call.target,
                              outcome=call.outcome, code=event.code, reason=event.reason)
        self._show()
        self.changed.set()

    def on_digit(self, event: Digit) -> None:
        call = self.calls.get(event.call)
        if call is None:
            return
        self.phone.record("sip.dtmf", self.alarm.id, call.target, digit=event.digit,
                          method=event.method)
        if self.wake.pressed(call, event.digit, self.clock.now()):
            self._thanking = asyncio.get_running_loop().create_task(self._thank(event.call))
            self._show()
            self.changed.set()

    async def _speak(self, handle: int, call: WakeCall) -> None:
        """The message ``wakeup_plays`` times, each with the prompt; then the wait for 1."""
        import numpy as np
        assert self._speech is not None
        try:
            clip = await self._speech
        except SpeechFailed as exc:
            self.phone.record("fault.wakeup_speech", self.alarm.id, "system", error=str(exc))
            clip = np.zeros(0, dtype=np.float32)
        media = self.media.get(handle)
        if media is None:
            return
        gap = np.zeros(round(GAP_S * CLOCK_RATE), dtype=np.float32)
        plays = self.phone.config.wakeup_plays
        for _ in range(plays):
            media.outgoing.push(np.concatenate([clip, gap]))
        media.outgoing.finish()
        await self.clock.sleep(plays * len(clip) / CLOCK_RATE + plays * GAP_S
                               + self.phone.config.wakeup_key_wait_s)
        if handle in self.calls and call.outcome == "talking":
            await self._end(call)

    async def _thank(self, handle: int) -> None:
        media = self.media.get(handle)
        if media is not None:
            media.outgoing.stop(1)
            try:
                media.outgoing.push(await self.owner.speech.speak(THANKS))
            except SpeechFailed:
                pass
            for _ in range(round(THANKS_WAIT_S / 0.05)):  # the media clock is real time
                if media.outgoing.pending == 0:
                    break
                await asyncio.sleep(0.05)
        await self.phone.hang_up(handle)

    async def _render(self) -> np.ndarray:
        text = wake_text(self.phone.station.config.station.name, self.alarm) + PROMPT
        return await self.owner.speech.speak(text)

    async def _end(self, call: WakeCall) -> None:
        self.wake.cancel(call)
        for handle, placed in list(self.calls.items()):
            if placed is call:
                await self.phone.hang_up(handle)

    async def _end_all(self) -> None:
        """Stop ringing whoever still rings (answered elsewhere, over, station stopping)."""
        await cancel_and_wait([*self._tasks, self._speech, self._thanking])
        for handle, call in list(self.calls.items()):
            self.wake.cancel(call)
            await self.phone.hang_up(handle)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _show(self) -> None:
        self.alarm.wakeup = self.wake.as_json(iso_utc)
        self.owner.station.state.put(KIND, self.alarm.id, self.alarm.wakeup)
        self.owner.alarms.save(self.alarm)
