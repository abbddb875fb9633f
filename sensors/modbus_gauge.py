"""A tipping-bucket rain gauge on an RS-485 Modbus line.

The gauge reports its cumulative counter; this class reads it through the shared
:class:`drivers.modbus_bus.ModbusBus`, turns consecutive good readings into rain or
data gaps (:mod:`sensors.counter`), and keeps the gauge's health with hysteresis
(:mod:`sensors.gauge_health`). It journals nothing and decides nothing about warnings:
it hands every event to ``on_event`` and the daemon journals, archives and feeds the
windows.

A gauge that says it is broken -- a fault in its status register, or an error value
in place of its counter -- is ``fault``: its reading is not used, and the last good
reading stays the reference. What is knowable about the rain during a fault: if the
gauge's counter kept counting, the first good reading after it carries the fault's
rain, in total (its timing inside the fault is not known); if the counter went back,
it is a reset (a gap); if it stood still, nothing is counted, and nothing can be.
The same holds for an outage (polls without a reply).

Restart: the daemon persists the last reading (``last``, raw counter and time) and
passes it back to the constructor, so rain that fell while the station was down is
counted once and only once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from drivers.clock import Clock
from drivers.modbus_bus import BusError, ModbusBus
from sensors.counter import CounterOutcome, Plausibility, counter_step
from sensors.gauge_events import (
    CounterReading,
    DataGap,
    GaugeEvent,
    GaugeState,
    GaugeStatus,
    RainIncrement,
    StatusChange,
)
from sensors.gauge_health import HealthHysteresis
from sensors.gauge_models import GENERIC_PLAUSIBILITY
from sensors.register_map import RegisterMap, decode_words


class ModbusRainGauge:
    """One gauge at ``unit`` on ``bus``."""

    def __init__(
        self,
        gauge_id: str,
        bus: ModbusBus,
        unit: int,
        register_map: RegisterMap,
        clock: Clock,
        *,
        plausibility: Plausibility = GENERIC_PLAUSIBILITY,
        offline_after: int = 3,
        online_after: int = 2,
        last: CounterReading | None = None,
        on_event: Callable[[GaugeEvent], None] | None = None,
    ) -> None:
        if not 1 <= unit <= 247:
            raise ValueError(f"unit must be 1..247, got {unit}")
        if last is not None and not 0 <= last.raw < register_map.modulus:
            raise ValueError(f"last counter {last.raw} does not fit the counter's range")
        self.gauge_id = gauge_id
        self.bus = bus
        self.unit = unit
        self.map = register_map
        self.plausibility = plausibility
        self.health = HealthHysteresis(offline_after, online_after)
        self._clock = clock
        self._on_event = on_event or (lambda event: None)
        self.last = last          # the last good reading: the reference for the next step
        self.missed = 0           # polls since ``last`` without a good reading
        self.polled_at: datetime | None = None  # when the last poll ended, whatever it got
        self.status = GaugeStatus(GaugeState.UNKNOWN, clock.now(), "not read yet")
        self.closed = False

    def __repr__(self) -> str:
        where = f"{self.gauge_id} unit {self.unit} on {self.bus.name}"
        if self.closed:
            return f"<ModbusRainGauge {where} closed>"
        counter = self.last.raw if self.last is not None else None
        return (f"<ModbusRainGauge {where} {self.status.state.value}"
                f" counter={counter} failures={self.health.failures}>")

    @property
    def failures(self) -> int:
        return self.health.failures

    def close(self) -> None:
        """No more polls (the bus is its owner's to close); closing again does nothing."""
        self.closed = True

    def is_fresh(self, max_age_s: float) -> bool:
        """True if the gauge is ok and was read within ``max_age_s`` (else: stale)."""
        return (
            self.status.state is GaugeState.OK
            and self.last is not None
            and self._clock.now() - self.last.at <= timedelta(seconds=max_age_s)
        )

    async def poll(self) -> RainIncrement | DataGap | None:
        """Read the gauge once; None if it did not answer or said it is broken."""
        if self.closed:
            raise RuntimeError(f"{self!r}: closed")
        try:
            return await self._poll()
        finally:
            self.polled_at = self._clock.now()

    async def _poll(self) -> RainIncrement | DataGap | None:
        try:
            fault = await self._read_status_fault()
            raw = None if fault else await self._read_raw()
        except BusError as exc:
            self.missed += 1
            self._changed(self.health.failed(),
                          f"no reply for {self.health.failures} polls: {exc}")
            return None
        if raw is not None:
            fault = self.map.counter_fault(raw)
        if fault or raw is None:
            self.missed += 1
            self._changed(self.health.faulty(), f"sensor fault: {fault}")
            return None
        return self._take(raw, self._clock.now())

    async def run(self, interval_s: float) -> None:
        """Poll every ``interval_s`` until cancelled (a slow poll skips missed turns)."""
        if interval_s <= 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s}")
        next_at = self._clock.monotonic()
        while True:
            await self.poll()
            now = self._clock.monotonic()
            next_at += interval_s
            if next_at <= now:
                next_at = now + interval_s - (now - next_at) % interval_s
            await self._clock.sleep(next_at - now)

    async def _read_status_fault(self) -> str | None:
        status = self.map.status
        if status is None:
            return None
        read = (self.bus.read_holding_registers if status.function == "holding"
                else self.bus.read_input_registers)
        words = await read(self.unit, status.register, status.registers)
        return status.fault(decode_words(words, status.width, self.map.word_order))

    async def _read_raw(self) -> int:
        read = (
            self.bus.read_holding_registers
            if self.map.function == "holding"
            else self.bus.read_input_registers
        )
        return self.map.decode(await read(self.unit, self.map.register, self.map.registers))

    def _take(self, raw: int, at: datetime) -> RainIncrement | DataGap:
        previous, self.last = self.last, CounterReading(raw, at)
        missed, self.missed = self.missed, 0
        state = self.health.answered()
        self._changed(state, "answering" if previous is None
                      else f"answering again ({self.health.good} good replies in a row)")
        if previous is None:
            return self._emit(RainIncrement(self.gauge_id, at, 0.0, raw, None, None))
        if at < previous.at:
            # A board without a real-time clock can boot with a time older than the one
            # stored: what the counter moved cannot be placed in time, so it is not booked.
            detail = (f"the station's clock went back {(previous.at - at).total_seconds():.0f} s"
                      f" since the last reading: counter {previous.raw} -> {raw}, nothing counted")
            return self._emit(DataGap(self.gauge_id, at, CounterOutcome.UNTIMED, previous.raw,
                                      raw, previous.at, detail))
        elapsed = (at - previous.at).total_seconds()
        step = counter_step(
            previous.raw, raw, modulus=self.map.modulus, scale_mm=self.map.scale_mm,
            elapsed_s=elapsed, plausibility=self.plausibility, across_outage=missed > 0,
        )
        if step.is_gap:
            across = f" across {missed} missed polls" if missed else ""
            detail = (f"counter {previous.raw} -> {raw} in {elapsed:.1f} s{across}"
                      f" ({step.outcome.value}, nothing counted)")
            return self._emit(
                DataGap(self.gauge_id, at, step.outcome, previous.raw, raw, previous.at, detail)
            )
        return self._emit(RainIncrement(self.gauge_id, at, step.mm, raw, previous.at,
                                        step.outcome, missed))

    def _changed(self, state: GaugeState | None, detail: str) -> None:
        if state is None or state is self.status.state:
            return
        previous = self.status
        self.status = GaugeStatus(state, self._clock.now(), detail)
        self._on_event(StatusChange(self.gauge_id, previous, self.status))

    def _emit(self, event: RainIncrement | DataGap) -> RainIncrement | DataGap:
        self._on_event(event)
        return event
