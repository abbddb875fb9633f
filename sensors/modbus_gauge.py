"""A tipping-bucket rain gauge on an RS-485 Modbus line.

The gauge reports its cumulative counter; this class reads it through the shared
:class:`drivers.modbus_bus.ModbusBus`, turns consecutive readings into rain or
data gaps (:mod:`sensors.counter`), and keeps the gauge's health. It journals
nothing and decides nothing about warnings: it hands every event to ``on_event``
and the daemon journals, archives and feeds the windows.

Restart: the daemon persists the last reading (``last``, raw counter and time)
and passes it back to the constructor, so rain that fell while the station was
down is counted once and only once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from drivers.clock import Clock
from drivers.modbus_bus import BusError, ModbusBus
from sensors.counter import CounterOutcome, counter_step


@dataclass(frozen=True)
class CounterClear:
    """How to zero the counter: write ``value`` to holding register ``register`` (FC06)."""

    register: int
    value: int


@dataclass(frozen=True)
class RegisterMap:
    """Where and how a gauge model keeps its cumulative counter."""

    function: str = "holding"   # "holding" (FC03) or "input" (FC04)
    register: int = 0
    width: int = 16             # 16 or 32 bits
    word_order: str = "big"     # 32-bit: "big" = high word first, "little" = low word first
    scale_mm: float = 0.1       # mm per count
    clear: CounterClear | None = None

    def __post_init__(self) -> None:
        if self.function not in ("holding", "input"):
            raise ValueError(f"function must be holding or input, got {self.function!r}")
        if self.width not in (16, 32):
            raise ValueError(f"width must be 16 or 32, got {self.width}")
        if self.word_order not in ("big", "little"):
            raise ValueError(f"word_order must be big or little, got {self.word_order!r}")
        if not 0 <= self.register <= 0xFFFF - (self.width // 16 - 1):
            raise ValueError(f"register must be 0..65535, got {self.register}")
        if self.scale_mm <= 0:
            raise ValueError(f"scale_mm must be > 0, got {self.scale_mm}")

    @property
    def registers(self) -> int:
        return self.width // 16

    def decode(self, words: list[int]) -> int:
        if self.width == 16:
            return words[0]
        high, low = words if self.word_order == "big" else words[::-1]
        return (high << 16) | low


class GaugeState(StrEnum):
    UNKNOWN = "unknown"
    OK = "ok"
    OFFLINE = "offline"


@dataclass(frozen=True)
class GaugeStatus:
    state: GaugeState
    since: datetime
    detail: str


@dataclass(frozen=True)
class CounterReading:
    """A raw counter value and when it was read (what the daemon persists)."""

    raw: int
    at: datetime


@dataclass(frozen=True)
class RainIncrement:
    """A good reading: ``mm`` fell between ``since`` and ``at`` (0 is a valid amount).

    ``outcome`` is RAIN or WRAP, or None for the first reading with nothing to
    compare to (the baseline: ``mm`` is 0 and ``since`` is None).
    """

    gauge_id: str
    at: datetime
    mm: float
    raw: int
    since: datetime | None
    outcome: CounterOutcome | None


@dataclass(frozen=True)
class DataGap:
    """A reading that cannot be turned into rain (a reset or an implausible jump).

    The rain between ``since`` and ``at`` is unknown; nothing is counted. ``raw``
    becomes the new reference.
    """

    gauge_id: str
    at: datetime
    kind: CounterOutcome
    previous_raw: int
    raw: int
    since: datetime
    detail: str


@dataclass(frozen=True)
class StatusChange:
    gauge_id: str
    previous: GaugeStatus
    status: GaugeStatus


GaugeEvent = RainIncrement | DataGap | StatusChange


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
        offline_after: int = 3,
        last: CounterReading | None = None,
        on_event: Callable[[GaugeEvent], None] | None = None,
    ) -> None:
        if not 1 <= unit <= 247:
            raise ValueError(f"unit must be 1..247, got {unit}")
        if offline_after < 1:
            raise ValueError(f"offline_after must be >= 1, got {offline_after}")
        if last is not None and not 0 <= last.raw < 1 << register_map.width:
            raise ValueError(f"last counter {last.raw} does not fit {register_map.width} bits")
        self.gauge_id = gauge_id
        self.bus = bus
        self.unit = unit
        self.map = register_map
        self.offline_after = offline_after
        self._clock = clock
        self._on_event = on_event or (lambda event: None)
        self.last = last
        self.failures = 0
        self.status = GaugeStatus(GaugeState.UNKNOWN, clock.now(), "not read yet")
        self.closed = False

    def __repr__(self) -> str:
        where = f"{self.gauge_id} unit {self.unit} on {self.bus.name}"
        if self.closed:
            return f"<ModbusRainGauge {where} closed>"
        counter = self.last.raw if self.last is not None else None
        return (f"<ModbusRainGauge {where} {self.status.state.value}"
                f" counter={counter} failures={self.failures}>")

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
        """Read the counter once; None if the gauge did not answer."""
        if self.closed:
            raise RuntimeError(f"{self!r}: closed")
        try:
            raw = await self._read_raw()
        except BusError as exc:
            self._failed(str(exc))
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

    async def clear_counter(self) -> RainIncrement | DataGap | None:
        """Credit what the counter holds, then zero it (needs ``register_map.clear``).

        Rain tipped between the final read and the write (milliseconds) is lost.
        Raises BusError if the gauge does not answer; the counter is then unchanged
        or zero, and the next reading tells which.
        """
        if self.map.clear is None:
            raise ValueError(f"gauge {self.gauge_id} has no clear command")
        event = await self.poll()
        if event is None:
            raise BusError(f"gauge {self.gauge_id}: no reply before clearing", self.unit)
        await self.bus.write_register(self.unit, self.map.clear.register, self.map.clear.value)
        self.last = CounterReading(0, self._clock.now())
        return event

    async def _read_raw(self) -> int:
        read = (
            self.bus.read_holding_registers
            if self.map.function == "holding"
            else self.bus.read_input_registers
        )
        return self.map.decode(await read(self.unit, self.map.register, self.map.registers))

    def _take(self, raw: int, at: datetime) -> RainIncrement | DataGap:
        previous, self.last = self.last, CounterReading(raw, at)
        self.failures = 0
        self._set_status(GaugeState.OK, "answering")
        if previous is None:
            return self._emit(RainIncrement(self.gauge_id, at, 0.0, raw, None, None))
        elapsed = max(0.0, (at - previous.at).total_seconds())
        step = counter_step(
            previous.raw, raw, width=self.map.width, scale_mm=self.map.scale_mm, elapsed_s=elapsed
        )
        if step.is_gap:
            detail = (
                f"counter {previous.raw} -> {raw} in {elapsed:.1f} s"
                f" ({step.outcome.value}, nothing counted)"
            )
            return self._emit(
                DataGap(self.gauge_id, at, step.outcome, previous.raw, raw, previous.at, detail)
            )
        return self._emit(RainIncrement(self.gauge_id, at, step.mm, raw, previous.at, step.outcome))

    def _failed(self, detail: str) -> None:
        self.failures += 1
        if self.failures >= self.offline_after and self.status.state is not GaugeState.OFFLINE:
            self._set_status(GaugeState.OFFLINE, f"no reply for {self.failures} polls: {detail}")

    def _set_status(self, state: GaugeState, detail: str) -> None:
        if self.status.state is state:
            return
        previous = self.status
        self.status = GaugeStatus(state, self._clock.now(), detail)
        self._on_event(StatusChange(self.gauge_id, previous, self.status))

    def _emit(self, event: RainIncrement | DataGap) -> RainIncrement | DataGap:
        self._on_event(event)
        return event
