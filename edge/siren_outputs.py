"""The station's sirens behind one face: GPIO relays and coils on far Modbus modules.

A siren sounds in the cadence of a siren pattern (e.g. 紧急警报 6 s on / 6 s off).
Every switch goes through the output registry (journaled, maximum on-time and chatter
guard enforced). A remote siren's coil is unknown until its module reads it back: the
registry writes it OFF at start and again whenever its module or its line comes back
(the module may have lost power), retrying with backoff while the module is out of
reach -- a fault in health meanwhile. Between switches each coil is read back every
ten seconds or so, so a module that came back without other traffic on its line, or a coil
switched at the module, is noticed and set right. The other sirens still sound.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from broadcast.siren_signals import SirenPattern
from drivers.modbus_bus import ModbusBus
from drivers.modbus_switch import CoilSwitch
from drivers.tasks import cancel_and_wait
from edge.outputs import Output, OutputFailed

if TYPE_CHECKING:
    from edge.station import Station

log = logging.getLogger(__name__)

#: A remote coil is read back between switches this often, or every ``READ_BACK_POLLS``
#: polls of its line when that is longer (a fast simulation's line has no time to spare).
COIL_READ_BACK_S = 10.0
READ_BACK_POLLS = 5


class Sirens:
    def __init__(self, station: Station, buses: dict[str, ModbusBus]) -> None:
        self.station = station
        self.ids: list[str] = []
        min_switch_s = station.config.outputs.min_switch_s.siren_coil
        coils: dict[str, list[tuple[str, int]]] = {}
        for cfg in station.config.sirens:
            self.ids.append(cfg.id)
            if cfg.bus is None:
                continue  # a GPIO relay: claimed (OFF) with every other output at start
            assert cfg.unit is not None and cfg.coil is not None
            switch = CoilSwitch(buses[cfg.bus], cfg.unit, cfg.coil)
            station.outputs.add(Output(cfg.id, "siren", switch, cfg.max_on_s, health_id=cfg.id,
                                       min_switch_s=min_switch_s))
            station.health.register(cfg.id, "siren", f"not confirmed off yet ({switch.where})")
            coils.setdefault(cfg.bus, []).append((cfg.id, cfg.unit))
        for bus_name, on_bus in coils.items():
            buses[bus_name].on_reconnect.append(self._module_back(bus_name, on_bus))
        self._coils = {siren_id: (bus_name, unit) for bus_name, on_bus in coils.items()
                       for siren_id, unit in on_bus}
        self._tasks: list[asyncio.Task[None]] = []
        station.lifecycle.on("ready", "remote-sirens", self._start)
        station.lifecycle.on("stopping", "remote-sirens", self._stop)

    def _start(self) -> None:
        for bus_name in {bus for bus, _unit in self._coils.values()}:
            self._tasks.append(asyncio.create_task(self._read_back(bus_name),
                                                   name=f"coils-{bus_name}"))

    async def _stop(self) -> None:
        await cancel_and_wait(self._tasks)

    async def _read_back(self, bus_name: str) -> None:
        """Forever: read each coil on the line back between switches."""
        outputs, clock = self.station.outputs, self.station.clock
        poll_s = self.station.config.modbus.buses[bus_name].poll_interval_s
        interval = max(READ_BACK_POLLS * poll_s, COIL_READ_BACK_S)
        while True:
            await clock.sleep(interval)
            for siren_id, (bus, _unit) in self._coils.items():
                switch = outputs[siren_id].switch
                if bus == bus_name and isinstance(switch, CoilSwitch):
                    await outputs.read_back(siren_id, switch.read)

    def _module_back(self, bus_name: str,
                     on_bus: list[tuple[str, int]]) -> Callable[[int | None], None]:
        def back(unit: int | None) -> None:
            what = f"{bus_name} open again" if unit is None else f"unit {unit} answers again"
            for siren_id, siren_unit in on_bus:
                if unit is None or unit == siren_unit:
                    self.station.outputs.unconfirmed(siren_id, f"{what}: not confirmed")

        return back

    async def _switch(self, siren_id: str, on: bool, *, reason: str) -> bool:
        outputs, health = self.station.outputs, self.station.health
        try:
            await outputs.set(siren_id, on, actor="alarm", reason=reason)
        except OutputFailed:
            return False
        state = outputs[siren_id].state
        if health.get(siren_id).status != "ok" and state != "unknown":
            health.report(siren_id, "ok", state)
        return True

    async def sound(self, on: bool, *, reason: str) -> list[str]:
        """Every siren ON (or OFF); returns the ones that failed."""
        return [s for s in self.ids if not await self._switch(s, on, reason=reason)]

    async def cadence(self, pattern: SirenPattern) -> None:
        """Sound the pattern's on/off cadence over and over, until cancelled (then OFF)."""
        clock = self.station.clock
        try:
            while True:
                for _ in range(pattern.cycles):
                    await self.sound(True, reason=f"siren {pattern.id}")
                    await clock.sleep(pattern.on_s)
                    await self.sound(False, reason=f"siren {pattern.id} pause")
                    await clock.sleep(max(pattern.off_s, 1.0))
        finally:
            await self.sound(False, reason="siren stopped")
