"""A coil on a Modbus I/O module as an on/off output (a siren in a far village).

It has the same face as a GPIO relay (``is_on``, ``async set``), so the station's
output registry treats both alike. ``is_on`` is what the module last confirmed; when
the module does not answer, ``set`` raises and the state is unknown until it does.
"""

from __future__ import annotations

from drivers.modbus_bus import ModbusBus


class CoilSwitch:
    def __init__(self, bus: ModbusBus, unit: int, coil: int) -> None:
        self.bus = bus
        self.unit = unit
        self.coil = coil
        self._on = False
        self.closed = False

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"is_on={self._on}"
        return f"<CoilSwitch {self.bus.name} unit {self.unit} coil {self.coil} {state}>"

    @property
    def is_on(self) -> bool:
        return self._on

    async def set(self, on: bool) -> None:
        if self.closed:
            raise RuntimeError(f"{self!r}: closed")
        if on:
            self._on = True  # counts as ON (for the max on-time) even if the write fails
        await self.bus.write_coil(self.unit, self.coil, on)
        self._on = on

    def close(self) -> None:
        """No more switching through this face; closing again does nothing.

        The bus is closed by its owner; a coil cannot be driven synchronously, so OFF is
        the station's job before it closes (``Outputs.all_off``)."""
        self.closed = True
