"""Hand alarms (手动报警按钮): a GPIO input, or a discrete input on a far Modbus module.

A press must be held ``hold_s`` to raise an alarm (a brush does nothing). A remote
input is polled over its RS-485 line; a module that stops answering is ``offline`` in
health (logged once), and its input keeps its last known level.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from drivers.modbus_bus import BusError, ModbusBus
from drivers.tasks import cancel_and_wait
from edge.alarms import Alarms
from edge.panel_buttons import HoldButton

if TYPE_CHECKING:
    from edge.config import HandAlarmConfig
    from edge.station import Station

OFFLINE_AFTER_FAILURES = 3


class HandAlarms:
    def __init__(self, station: Station, alarms: Alarms, buses: dict[str, ModbusBus]) -> None:
        self.station = station
        self.alarms = alarms
        self.buses = buses
        self._buttons: list[HoldButton] = []
        self._tasks: list[asyncio.Task[None]] = []
        for cfg in station.config.hand_alarms:
            station.on_input(cfg.id, self._handler(cfg))
            if cfg.bus is not None:
                station.health.register(cfg.id, "hand_alarm", "not read yet")
        station.lifecycle.on("ready", "remote-hand-alarms", self._start)
        station.lifecycle.on("stopping", "hand-alarms", self._stop)

    def _handler(self, cfg: HandAlarmConfig) -> Callable[[bool, float], None]:
        name = cfg.name or cfg.id

        def held() -> None:
            self.alarms.hand_alarm(cfg.id, name, True)

        station = self.station
        hold = HoldButton(station.clock, max(cfg.hold_s, 0.0), on_hold=held,
                          unsettled=lambda: station.unsettled_input(cfg.id))
        self._buttons.append(hold)

        def changed(active: bool, began: float) -> None:
            hold.changed(active, began)
            if not active:
                self.alarms.hand_alarm(cfg.id, name, False)

        return changed

    def _start(self) -> None:
        for cfg in self.station.config.hand_alarms:
            if cfg.bus is not None:
                self._tasks.append(asyncio.create_task(self._poll(cfg), name=f"poll-{cfg.id}"))
            elif cfg.id in self.station.inputs and not self.station.inputs[cfg.id].active:
                # An alarm restored from before a restart: its button is up now (a remote
                # input says so at its first poll).
                self.alarms.hand_alarm(cfg.id, cfg.name or cfg.id, False)

    async def _poll(self, cfg: HandAlarmConfig) -> None:
        assert cfg.bus is not None and cfg.unit is not None and cfg.discrete_input is not None
        bus, health, clock = self.buses[cfg.bus], self.station.health, self.station.clock
        interval = self.station.config.modbus.buses[cfg.bus].poll_interval_s
        level: bool | None = None
        failures = 0
        while True:
            try:
                [now_level] = await bus.read_discrete_inputs(cfg.unit, cfg.discrete_input, 1)
            except BusError as exc:
                failures += 1
                if failures >= OFFLINE_AFTER_FAILURES:
                    health.report(cfg.id, "offline", f"no reply for {failures} polls: {exc}")
            else:
                failures = 0
                health.report(cfg.id, "ok", "pressed" if now_level else "idle")
                if now_level != level:
                    level = now_level
                    self.station.input_changed(cfg.id, now_level, clock.monotonic())
            await clock.sleep(interval)

    async def _stop(self) -> None:
        for button in self._buttons:
            button.close()
        await cancel_and_wait(self._tasks)
