"""Every device-like class shows its live state in ``repr`` and closes idempotently,
as gpiozero's devices do: a log line or a debugger names the pin and what it is doing,
and a shutdown path that closes twice (a fault handler, then the normal stop) is safe.

The Modbus devices (bus, coil, gauge) and the modem are checked beside their own tests,
against the simulators: test_modbus_bus.py, test_rain_modbus_gauge.py, test_modem.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from drivers.clock import ManualClock
from drivers.gpio import open_chip
from edge.outputs import Output
from sensors.modbus_gauge import GaugeEvent
from sensors.pulse_gauge import PulseRainGauge


def test_gpio_output_input_and_chip_show_their_levels_and_close_once(tmp_path: Path) -> None:
    chip = open_chip("mock", clock=ManualClock(), latch_path=tmp_path / "latch.json")
    relay = chip.output(23)
    button = chip.input(17)
    assert repr(relay) == "<GpioOutput GPIO23 active_high=True is_on=False>"
    assert repr(button) == "<GpioInput GPIO17 pull_up=True is_active=False>"
    assert repr(chip) == "<GpioChip mock outputs=[23] on=[] inputs=[17]>"
    relay.drive(True)
    chip.drive_mock_input(17, 0)  # pulled up: a press pulls the pin low
    assert repr(relay) == "<GpioOutput GPIO23 active_high=True is_on=True>"
    assert repr(button) == "<GpioInput GPIO17 pull_up=True is_active=True>"
    assert repr(chip) == "<GpioChip mock outputs=[23] on=[23] inputs=[17]>"
    relay.close()
    relay.close()
    button.close()
    button.close()
    assert repr(relay) == "<GpioOutput GPIO23 closed>"
    assert repr(button) == "<GpioInput GPIO17 closed>"
    chip.close()
    chip.close()
    assert repr(chip) == "<GpioChip mock closed>"
    assert chip.factory.history[-1].level is False, "closing drove the relay OFF first"


async def test_an_output_shows_its_switch_and_on_time_and_closes_once(tmp_path: Path) -> None:
    chip = open_chip("mock", clock=ManualClock(), latch_path=tmp_path / "latch.json")
    try:
        siren = Output("siren-1", "siren", chip.output(16), max_on_s=600.0)
        assert repr(siren) == ("<Output siren-1 (siren) <GpioOutput GPIO16 active_high=True"
                               " is_on=False> wanted=off max_on=600 s cuts=0>")
        siren.request(True, 12.5)
        await siren.switch.set(True)
        assert repr(siren) == ("<Output siren-1 (siren) <GpioOutput GPIO16 active_high=True"
                               " is_on=True> wanted=on since 12.500 max_on=600 s cuts=0>")
        siren.close()
        siren.close()
        assert "<GpioOutput GPIO16 closed>" in repr(siren)
    finally:
        chip.close()


def test_a_pulse_gauge_shows_its_tips_and_refuses_one_after_close() -> None:
    events: list[GaugeEvent] = []
    start = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
    gauge = PulseRainGauge("rg-9", 0.2, start, events.append)
    assert repr(gauge) == "<PulseRainGauge rg-9 tips=0 mm_per_tip=0.2 last_tip=None>"
    gauge.tip(start.replace(minute=1))
    assert repr(gauge) == ("<PulseRainGauge rg-9 tips=1 mm_per_tip=0.2"
                           " last_tip=2026-07-01T08:01:00+00:00>")
    gauge.close()
    gauge.close()
    assert repr(gauge) == "<PulseRainGauge rg-9 closed>"
    with pytest.raises(RuntimeError, match="closed"):
        gauge.tip(start.replace(minute=2))
    assert len(events) == 1, "a tip after close is not counted"
