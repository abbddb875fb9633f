"""What an alarm does, until it is acknowledged (rules of the station, configurable).

* 准备转移 (prepare): the gauge and its total spoken, then the prepare message, at
  the priority of an automatic rain message; the alarm LED lights.
* 立即转移 (evacuate) and a hand alarm: the sirens sound in their cadence and the
  loudspeakers play the siren signal, then the spoken cause and the evacuate message,
  over and over at alarm-siren priority, until the alarm is acknowledged or
  ``alarms.max_on_s`` has passed (then it stops, journaled as a fault).
* An alarm restored after a restart acts again as if just raised, unless it was
  acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from broadcast.priority import Priority
from broadcast.program import MessageContent, Program, SirenContent, TextContent
from broadcast.record import Broadcast, BroadcastSource
from broadcast.siren_signals import DEFAULT_PATTERNS
from edge.alarms import Alarm, Alarms
from edge.background import Background
from edge.siren_outputs import Sirens

if TYPE_CHECKING:
    from edge.broadcasting import Broadcasting
    from edge.station import Station

log = logging.getLogger(__name__)

RETRY_AFTER_FAILED_BROADCAST_S = 5.0


class AlarmResponder:
    def __init__(self, station: Station, alarms: Alarms, sirens: Sirens,
                 broadcasting: Broadcasting | None) -> None:
        self.station = station
        self.alarms = alarms
        self.sirens = sirens
        self.broadcasting = broadcasting
        self.config = station.config.alarms
        self.pattern = DEFAULT_PATTERNS[self.config.siren_pattern]
        self._loops: dict[str, asyncio.Task[None]] = {}
        self._background = Background(station.journal, "alarm")
        alarms.listeners.append(self._on_alarm)
        station.lifecycle.on("stopping", "alarm-actions", self._stop_all, first=True)

    def sounding(self) -> list[str]:
        """The alarms whose sirens sound now (their evacuate loop runs)."""
        return [alarm_id for alarm_id, loop in self._loops.items() if not loop.done()]

    def _on_alarm(self, what: str, alarm: Alarm) -> None:
        if what in ("raised", "escalated") or (what == "restored" and alarm.state == "active"):
            if alarm.level == "evacuate":
                self._start_loop(alarm)
            elif alarm.level == "prepare":
                self._spawn(self._prepare(alarm))
        elif what in ("acknowledged", "cleared"):
            self._spawn(self._stop_loop(alarm.id))
        self._spawn(self._update_alarm_led())

    # -- prepare -----------------------------------------------------------------------------

    async def _prepare(self, alarm: Alarm) -> None:
        if self.broadcasting is None:
            return
        intro = Program(TextContent(alarm.summary_zh() + "。"), chime=True)
        message = Program(MessageContent(self.config.prepare_message), repeat=2, chime=False)
        for program in (intro, message):
            if alarm.state != "active":  # acknowledged (or cleared) while the intro went out
                return
            await self._submit(alarm, program, Priority.RAIN_MESSAGE)

    # -- evacuate ------------------------------------------------------------------------------

    def _start_loop(self, alarm: Alarm) -> None:
        if alarm.id in self._loops and not self._loops[alarm.id].done():
            return
        self._loops[alarm.id] = asyncio.get_running_loop().create_task(
            self._evacuate_loop(alarm), name=f"alarm-{alarm.id}")

    async def _evacuate_loop(self, alarm: Alarm) -> None:
        clock = self.station.clock
        started = clock.monotonic()
        cadence = asyncio.create_task(self.sirens.cadence(self.pattern))
        message = (self.config.hand_alarm_message if alarm.kind == "hand_alarm"
                   else self.config.evacuate_message)
        try:
            while clock.monotonic() - started < self.config.max_on_s:
                if self.broadcasting is None:
                    await clock.sleep(self.config.max_on_s)
                    break
                results = []
                for program in (
                    Program(SirenContent(self.pattern.id)),
                    Program(TextContent(alarm.summary_zh() + "，请立即转移！"), chime=False),
                    Program(MessageContent(message), chime=False),
                ):
                    broadcast = await self._submit(alarm, program, Priority.ALARM_SIREN)
                    results.append((await self.broadcasting.service.wait_final(broadcast.id)).state)
                if "done" not in results:
                    await clock.sleep(RETRY_AFTER_FAILED_BROADCAST_S)
            else:
                self.station.journal.record("fault.alarm_max_on_time", alarm.id, "system",
                                            max_on_s=self.config.max_on_s)
        finally:
            cadence.cancel()
            await asyncio.gather(cadence, return_exceptions=True)

    async def _submit(self, alarm: Alarm, program: Program, priority: Priority) -> Broadcast:
        assert self.broadcasting is not None
        source: BroadcastSource = "hand_alarm" if alarm.kind == "hand_alarm" else "rain_rule"
        return await self.broadcasting.service.submit(
            program, zones=sorted(self.broadcasting.amplifier.zones), priority=priority,
            type="emergency", source=source, actor=alarm.source,
            labels={"alarm": alarm.id},
        )

    async def _stop_loop(self, alarm_id: str) -> None:
        loop = self._loops.pop(alarm_id, None)
        if loop is not None:
            loop.cancel()
            await asyncio.gather(loop, return_exceptions=True)
        if self.broadcasting is not None:
            # Every broadcast of this alarm still active, found by its label: one its loop
            # was submitting when it was cancelled is queued all the same (the service
            # makes a request whole), and its id never came back to the loop.
            service = self.broadcasting.service
            for broadcast in service.list(active=True):
                if broadcast.labels.get("alarm") == alarm_id:
                    await service.cancel(broadcast.id, actor="alarm", reason="alarm acknowledged")

    async def _update_alarm_led(self) -> None:
        if "panel.alarm_led" not in self.station.outputs:
            return
        active = any(a.state == "active" for a in self.alarms.list(open_only=True))
        await self.station.outputs.set("panel.alarm_led", active, actor="alarm",
                                       reason="alarm active" if active else "no active alarm")

    async def _stop_all(self) -> None:
        for alarm_id in list(self._loops):
            loop = self._loops.pop(alarm_id)
            loop.cancel()
            await asyncio.gather(loop, return_exceptions=True)
        await self._background.cancel_all()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._background.spawn(coro)
