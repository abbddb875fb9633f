"""The broadcast amplifier: a power relay and zone relays, sequenced as the hardware needs.

Power ON → wait ``warmup_s`` (amplifiers take up to a second to wake, and a missing
lead-in is the commonest complaint against alert players) → zone relays → audio. After
the last broadcast the zones go OFF and the power stays on for ``hold_s``, so a second
broadcast in that time skips the warm-up; then the power goes OFF.

The relays are switched through a :class:`RelayBank` (the station's output registry),
which journals each switch and enforces each relay's maximum on-time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Literal, Protocol

from drivers.clock import Clock

log = logging.getLogger(__name__)

AmplifierState = Literal["off", "warming", "on", "holding"]


class RelayBank(Protocol):
    async def set(self, output_id: str, on: bool, *, actor: str, reason: str) -> None: ...


class UnknownZone(ValueError):
    pass


class Amplifier:
    def __init__(
        self,
        relays: RelayBank,
        clock: Clock,
        *,
        power_relay: str,
        zones: Mapping[str, list[str]],
        warmup_s: float,
        hold_s: float,
        on_state: Callable[[AmplifierState], None] | None = None,
    ) -> None:
        self.relays = relays
        self.clock = clock
        self.power_relay = power_relay
        self.zones = {name: list(relays_) for name, relays_ in zones.items()}
        self.warmup_s = warmup_s
        self.hold_s = hold_s
        self.on_state = on_state
        self.state: AmplifierState = "off"
        self._zone_relays_on: set[str] = set()
        self._hold_task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def check_zones(self, zones: list[str]) -> None:
        """No zone at all is allowed: the amplifier powers up with every loudspeaker off
        (the silent self-test)."""
        unknown = [z for z in zones if z not in self.zones]
        if unknown:
            raise UnknownZone(f"unknown zones {unknown}; known: {sorted(self.zones)}")

    def _set_state(self, state: AmplifierState) -> None:
        if state != self.state:
            self.state = state
            if self.on_state is not None:
                self.on_state(state)

    async def acquire(self, zones: list[str], *, actor: str) -> None:
        """Power on (warming up unless already powered) and select exactly ``zones``."""
        self.check_zones(zones)
        async with self._lock:
            if self._hold_task is not None:
                self._hold_task.cancel()
                self._hold_task = None
            if self.state == "off":
                await self.relays.set(self.power_relay, True, actor=actor, reason="broadcast")
                self._set_state("warming")
                await self.clock.sleep(self.warmup_s)
            wanted = {r for z in zones for r in self.zones[z]}
            for relay in sorted(self._zone_relays_on - wanted):
                await self.relays.set(relay, False, actor=actor, reason="zone deselected")
            for relay in sorted(wanted - self._zone_relays_on):
                await self.relays.set(relay, True, actor=actor, reason="zone selected")
            self._zone_relays_on = wanted
            self._set_state("on")

    async def release(self, *, actor: str) -> None:
        """Zones OFF now; power OFF after ``hold_s`` unless another broadcast comes."""
        async with self._lock:
            await self._zones_off(actor)
            if self.state == "off":
                return
            self._set_state("holding")
            self._hold_task = asyncio.create_task(self._power_off_after_hold(actor))

    async def _zones_off(self, actor: str) -> None:
        for relay in sorted(self._zone_relays_on):
            await self.relays.set(relay, False, actor=actor, reason="broadcast over")
        self._zone_relays_on = set()

    async def _power_off_after_hold(self, actor: str) -> None:
        await self.clock.sleep(self.hold_s)
        async with self._lock:
            self._hold_task = None
            await self.relays.set(self.power_relay, False, actor=actor, reason="hold time over")
            self._set_state("off")

    async def off_now(self, *, actor: str, reason: str) -> None:
        """Everything OFF at once (stop, fault, shutdown)."""
        if self._hold_task is not None:
            self._hold_task.cancel()
            self._hold_task = None
        for relay in sorted(self._zone_relays_on):
            await self.relays.set(relay, False, actor=actor, reason=reason)
        self._zone_relays_on = set()
        await self.relays.set(self.power_relay, False, actor=actor, reason=reason)
        self._set_state("off")

    def forget_relays(self) -> None:
        """The relays were driven OFF behind our back (max on-time cut): say so."""
        self._zone_relays_on = set()
        if self._hold_task is not None:
            self._hold_task.cancel()
            self._hold_task = None
        self._set_state("off")
