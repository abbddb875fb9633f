"""A coil on a Modbus I/O module as an on/off output (a siren in a far village).

It has the same face as a GPIO relay (``is_on``, ``state``, ``async set``), so the
station's output registry treats both alike. Unlike a GPIO pin, a coil's level is
only known once the module has said so: every write is read back (FC01), and until
a read-back confirms it the state is unknown (``None``). It starts unknown -- a
killed predecessor, a technician or the module's power-on default may have left it
ON -- so nothing ever skips a write because it believes the coil is already off.
"""

from __future__ import annotations

from drivers.modbus_bus import ModbusBus


class CoilMismatch(Exception):
    """The module took the write but reads the coil back at the other level."""


class CoilSwitch:
    def __init__(self, bus: ModbusBus, unit: int, coil: int) -> None:
        self.bus = bus
        self.unit = unit
        self.coil = coil
        self._state: bool | None = None
        self.closed = False

    def __repr__(self) -> str:
        if self.closed:
            state = "closed"
        else:
            state = {True: "on", False: "off", None: "unknown"}[self._state]
        return f"<CoilSwitch {self.bus.name} unit {self.unit} coil {self.coil} {state}>"

    @property
    def where(self) -> str:
        return f"{self.bus.name} unit {self.unit} coil {self.coil}"

    @property
    def state(self) -> bool | None:
        """What the module last read back; ``None``: not confirmed (never read, or lost)."""
        return self._state

    @property
    def is_on(self) -> bool:
        """ON unless confirmed OFF: a coil not read back may be sounding."""
        return self._state is not False

    async def set(self, on: bool) -> None:
        """Write the coil, then read it back; raises unless the module confirms ``on``."""
        if self.closed:
            raise RuntimeError(f"{self!r}: closed")
        self._state = None
        await self.bus.write_coil(self.unit, self.coil, on)
        [read] = await self.bus.read_coils(self.unit, self.coil, 1)
        self._state = read
        if read != on:
            raise CoilMismatch(f"{self.where} reads back {'ON' if read else 'OFF'} after "
                               f"{'ON' if on else 'OFF'} was written")

    async def read(self) -> bool:
        """Read the coil back (FC01): what it is now, whoever set it."""
        self._state = None
        [self._state] = await self.bus.read_coils(self.unit, self.coil, 1)
        return self._state

    def forget(self) -> None:
        """The module may have lost its state (it was out of reach): unknown until read back."""
        self._state = None

    def close(self) -> None:
        """No more switching through this face; closing again does nothing.

        The bus is closed by its owner; a coil cannot be driven synchronously, so OFF is
        the station's job before it closes (``Outputs.all_off``)."""
        self.closed = True
