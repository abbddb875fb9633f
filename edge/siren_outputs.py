"""The station's sirens behind one face: GPIO relays and coils on far Modbus modules.

A siren sounds in the cadence of a siren pattern (e.g. 紧急警报 6 s on / 6 s off).
Every switch goes through the output registry (journaled, maximum on-time enforced).
A remote siren whose module does not answer is a fault in health; the others still
sound.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from broadcast.siren_signals import SirenPattern
from drivers.modbus_bus import ModbusBus
from drivers.modbus_switch import CoilSwitch
from edge.outputs import Output, OutputFailed

if TYPE_CHECKING:
    from edge.station import Station

log = logging.getLogger(__name__)


class Sirens:
    def __init__(self, station: Station, buses: dict[str, ModbusBus]) -> None:
        self.station = station
        self.ids: list[str] = []
        for cfg in station.config.sirens:
            self.ids.append(cfg.id)
            if cfg.bus is None:
                continue  # a GPIO relay: claimed (OFF) with every other output at start
            assert cfg.unit is not None and cfg.coil is not None
            switch = CoilSwitch(buses[cfg.bus], cfg.unit, cfg.coil)
            station.outputs.add(Output(cfg.id, "siren", switch, cfg.max_on_s, health_id=cfg.id))
            station.health.register(cfg.id, "siren", f"{cfg.bus} unit {cfg.unit} coil {cfg.coil}")
        station.lifecycle.on("ready", "remote-sirens-off", self._remote_off)

    async def _remote_off(self) -> None:
        """Remote coils cannot be driven synchronously at start: switch them OFF now."""
        for cfg in self.station.config.sirens:
            if cfg.bus is not None:
                await self._switch(cfg.id, False, reason="station start")

    async def _switch(self, siren_id: str, on: bool, *, reason: str) -> bool:
        health = self.station.health
        try:
            await self.station.outputs.set(siren_id, on, actor="alarm", reason=reason)
        except OutputFailed:
            return False
        if health.get(siren_id).status != "ok":
            health.report(siren_id, "ok", "on" if on else "off")
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
