"""The duty-room buzzer: several things may want it at once, one task drives it.

A spot check waiting for its answer and an alarm nobody has acknowledged yet (with
``[panel] buzzer_on_alarm``) each *want* the buzzer; it beeps (on/off pulses) while
anything wants it and is OFF otherwise, so the end of a spot check never silences an
alarm's buzzing. When it starts and stops, and for what, is journaled once; the pulses
themselves are not (like a blinking LED), so the journal is not flooded.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from drivers.tasks import cancel_and_wait

if TYPE_CHECKING:
    from edge.alarms import Alarm, Alarms
    from edge.station import Station

OUTPUT = "panel.buzzer"
ON_S = 0.6
OFF_S = 0.6


class Buzzer:
    def __init__(self, station: Station) -> None:
        self.station = station
        self.fitted = OUTPUT in station.outputs
        self.wanted_by: dict[str, str] = {}  # reason key -> why, in words for the journal
        self._wanted = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        station.lifecycle.on("stopping", "buzzer", self._stop, first=True)

    def want(self, key: str, why: str) -> None:
        """Beep for ``key`` (e.g. ``alarm:a1``) until :meth:`release` of the same key."""
        if not self.fitted or key in self.wanted_by:
            return
        if not self.wanted_by:
            self.station.journal.record("buzzer.started", OUTPUT, "system", why=why, key=key)
        self.wanted_by[key] = why
        self._wanted.set()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="buzzer")

    def release(self, key: str) -> None:
        if self.wanted_by.pop(key, None) is not None and not self.wanted_by:
            self._wanted.clear()
            self.station.journal.record("buzzer.stopped", OUTPUT, "system", key=key)

    async def _run(self) -> None:
        outputs, clock = self.station.outputs, self.station.clock
        try:
            while True:
                await self._wanted.wait()
                await outputs.set(OUTPUT, True, actor="buzzer", reason="beep", quiet=True)
                await clock.sleep(ON_S)
                await outputs.set(OUTPUT, False, actor="buzzer", reason="beep", quiet=True)
                await clock.sleep(OFF_S)
        finally:
            await outputs.set(OUTPUT, False, actor="buzzer", reason="stopping", quiet=True)

    async def _stop(self) -> None:
        self.wanted_by.clear()
        if self._task is not None:
            await cancel_and_wait([self._task])


class AlarmBuzzer:
    """``[panel] buzzer_on_alarm``: an active (unacknowledged) alarm beeps the buzzer."""

    def __init__(self, buzzer: Buzzer, alarms: Alarms) -> None:
        self.buzzer = buzzer
        alarms.listeners.append(self._on_alarm)

    def _on_alarm(self, what: str, alarm: Alarm) -> None:
        key = f"alarm:{alarm.id}"
        if alarm.state == "active" and what in ("raised", "escalated", "restored"):
            self.buzzer.want(key, f"alarm {alarm.id} ({alarm.level}) not acknowledged")
        elif alarm.state != "active":
            self.buzzer.release(key)
