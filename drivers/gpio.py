"""GPIO pins through gpiozero: one pin factory, chosen once at start-up.

``lgpio`` drives a real Raspberry Pi. ``mock`` is gpiozero's MockFactory with one
addition that makes it behave like the real chip where it matters for safety: output
levels are *latched* in a state file, as a Pi kernel keeps an output driven after the
owning process dies. A simulated station killed with ``kill -9`` therefore leaves its
relays ON, exactly like the real one, and ``station-edge safe-off`` (a separate
process) must find and switch them OFF.

Every output also keeps a history of (clock time, level) on the injected clock, so a
test checks the order and timing of relay changes exactly.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from gpiozero import DigitalInputDevice, DigitalOutputDevice
from gpiozero.pins.mock import MockFactory, MockPin

from drivers.clock import Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LevelChange:
    t: float
    pin: int
    level: bool


class PinLatch:
    """Output levels kept in a file, surviving the process like a kernel's GPIO latch.

    The file has a fixed size and is overwritten in place with one write, so a pin still
    switches on a full disk (a kernel's latch needs no disk space either) and a ``kill -9``
    never leaves half a file.
    """

    SIZE = 4096

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def read(self) -> dict[int, bool]:
        try:
            raw = json.loads(self.path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        return {int(pin): bool(level) for pin, level in raw.items()}

    def write(self, pin: int, level: bool) -> None:
        with self._lock:
            levels = self.read()
            levels[pin] = level
            text = json.dumps({str(p): v for p, v in sorted(levels.items())}).encode()
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o644)
                try:
                    os.pwrite(fd, text.ljust(self.SIZE), 0)
                finally:
                    os.close(fd)
            except OSError as exc:
                log.error("GPIO latch file %s not written: %s", self.path, exc)


class LatchedMockPin(MockPin):
    """A mock pin whose output level is latched in the factory's state file."""

    def __init__(self, factory: LatchedMockFactory, info: Any) -> None:
        super().__init__(factory, info)  # type: ignore[no-untyped-call]  # gpiozero: no annotations
        self._number = int(info.name.removeprefix("GPIO"))
        latched = factory.latch.read().get(self._number)
        if latched is not None:
            self._state = latched

    def _change_state(self, value: bool) -> bool:
        changed = bool(super()._change_state(value))  # type: ignore[no-untyped-call]  # gpiozero: no annotations
        factory: LatchedMockFactory = self.factory
        if self._function == "output":
            factory.latch.write(self._number, bool(value))
            if changed:
                factory.history.append(LevelChange(factory.clock.monotonic(), self._number, value))
        return changed


class LatchedMockFactory(MockFactory):
    def __init__(self, latch: PinLatch, clock: Clock) -> None:
        self.latch = latch
        self.clock = clock
        self.history: list[LevelChange] = []
        super().__init__(pin_class=LatchedMockPin)  # type: ignore[no-untyped-call]  # gpiozero: no annotations


class Switch(Protocol):
    """An on/off output, whatever drives it (a GPIO relay, a Modbus coil)."""

    @property
    def is_on(self) -> bool:
        """ON, or possibly ON (a level not confirmed counts as ON)."""

    @property
    def state(self) -> bool | None:
        """The confirmed level; ``None`` while it is not known (a remote coil not read back)."""

    async def set(self, on: bool) -> None: ...

    def forget(self) -> None:
        """The level may have changed behind our back: ``state`` is unknown until confirmed."""

    def close(self) -> None:
        """Release the output; closing again does nothing."""


class GpioOutput:
    """One GPIO output (relay or LED), OFF from the moment it is claimed."""

    def __init__(self, device: DigitalOutputDevice, pin: int) -> None:
        self._device = device
        self.pin = pin
        self.closed = False

    def __repr__(self) -> str:
        if self.closed:
            return f"<GpioOutput GPIO{self.pin} closed>"
        return (f"<GpioOutput GPIO{self.pin} active_high={self._device.active_high}"
                f" is_on={self.is_on}>")

    @property
    def is_on(self) -> bool:
        return bool(self._device.value)

    @property
    def state(self) -> bool:
        """A pin's level is what this process drives: always known."""
        return self.is_on

    def drive(self, on: bool) -> None:
        if on:
            self._device.on()
        else:
            self._device.off()

    async def set(self, on: bool) -> None:
        self.drive(on)

    def forget(self) -> None:
        """Nothing to forget: the pin holds the level this process drives."""

    def close(self) -> None:
        """Drive OFF, then release the pin (gpiozero leaves it a floating input); once."""
        if self.closed:
            return
        self.closed = True
        try:
            self._device.off()
        finally:
            self._device.close()


class GpioInput:
    """One GPIO input; raw level changes go to a callback (in gpiozero's thread)."""

    def __init__(self, device: DigitalInputDevice, pin: int) -> None:
        self._device = device
        self.pin = pin
        self.closed = False

    def __repr__(self) -> str:
        if self.closed:
            return f"<GpioInput GPIO{self.pin} closed>"
        return (f"<GpioInput GPIO{self.pin} pull_up={self._device.pull_up}"
                f" is_active={self.is_active}>")

    @property
    def is_active(self) -> bool:
        return bool(self._device.value)

    def on_change(self, callback: Callable[[bool], None]) -> None:
        self._device.when_activated = lambda: callback(True)
        self._device.when_deactivated = lambda: callback(False)

    def close(self) -> None:
        """Release the pin; closing again does nothing."""
        if not self.closed:
            self.closed = True
            self._device.close()


class GpioChip:
    """The station's GPIO: claims outputs (OFF at once) and inputs on one pin factory."""

    def __init__(self, factory: Any) -> None:
        self.factory = factory
        self._outputs: dict[int, GpioOutput] = {}
        self._inputs: dict[int, GpioInput] = {}
        self.closed = False

    def __repr__(self) -> str:
        kind = "mock" if self.is_mock else type(self.factory).__name__
        if self.closed:
            return f"<GpioChip {kind} closed>"
        on = sorted(pin for pin, out in self._outputs.items() if out.is_on)
        return (f"<GpioChip {kind} outputs={sorted(self._outputs)} on={on}"
                f" inputs={sorted(self._inputs)}>")

    def output(self, pin: int, *, active_high: bool = True) -> GpioOutput:
        device = DigitalOutputDevice(
            pin, active_high=active_high, initial_value=False, pin_factory=self.factory
        )
        out = GpioOutput(device, pin)
        self._outputs[pin] = out
        return out

    def input(self, pin: int, *, active_low: bool = True) -> GpioInput:
        """An input with a pull resistor; ``active_low``: a button pulls the pin to ground."""
        device = DigitalInputDevice(pin, pull_up=active_low, pin_factory=self.factory)
        gpio_input = GpioInput(device, pin)
        self._inputs[pin] = gpio_input
        return gpio_input

    @property
    def is_mock(self) -> bool:
        return isinstance(self.factory, MockFactory)

    def mock_pins(self) -> list[dict[str, Any]]:
        """Every claimed pin with its function and electrical level (mock factory only)."""
        rows = []
        for pin in sorted({*self._outputs, *self._inputs}):
            mock = self.factory.pin(pin)
            rows.append({"pin": pin, "function": mock.function, "level": int(bool(mock.state))})
        return rows

    def drive_mock_input(self, pin: int, level: int) -> None:
        if pin not in self._inputs:
            raise KeyError(pin)
        mock = self.factory.pin(pin)
        if level:
            mock.drive_high()
        else:
            mock.drive_low()

    def close(self) -> None:
        """Release every pin, outputs OFF first; every pin is released even if one fails.

        Closing again does nothing."""
        if self.closed:
            return
        self.closed = True
        errors: list[Exception] = []
        items: list[GpioOutput | GpioInput] = [*self._outputs.values(), *self._inputs.values()]
        for item in items:
            try:
                item.close()
            except Exception as exc:  # keep releasing the others, then report
                errors.append(exc)
        self._outputs.clear()
        self._inputs.clear()
        self.factory.close()
        if errors:
            raise ExceptionGroup("some GPIO pins failed to close", errors)


def open_chip(backend: str, *, clock: Clock, latch_path: Path | None = None) -> GpioChip:
    """The pin factory named in config: ``lgpio`` (a Pi) or ``mock`` (simulation, tests)."""
    if backend == "mock":
        if latch_path is None:
            raise ValueError("the mock GPIO backend needs a latch file")
        return GpioChip(LatchedMockFactory(PinLatch(latch_path), clock))
    if backend == "lgpio":
        from gpiozero.pins.lgpio import LGPIOFactory

        return GpioChip(LGPIOFactory())
    raise ValueError(f"unknown GPIO backend {backend!r}")
