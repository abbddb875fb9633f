"""The station's GPIO outputs as its configuration names them, claimed OFF at once.

Shared by the daemon (``edge.station``), the bring-up commands and ``safe-off``, which
must start fast (systemd runs it after every stop): this module imports no more than
the config and the GPIO driver.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drivers.clock import Clock
from drivers.gpio import GpioChip, open_chip
from edge.config import Config

#: The mock GPIO's latched levels (a simulated station's relays survive ``kill -9``).
GPIO_LATCH_FILE = "sim-gpio-latch.json"
BUZZER_MAX_ON_S = 900.0


def gpio_latch_path(config: Config) -> Path:
    return config.station.data_dir / GPIO_LATCH_FILE


def open_station_gpio(config: Config, clock: Clock) -> GpioChip:
    return open_chip(config.gpio.backend, clock=clock, latch_path=gpio_latch_path(config))


def output_pins(config: Config) -> dict[str, tuple[str, int, float | None]]:
    """Every configured GPIO output: ``id -> (kind, pin, max_on_s)``."""
    pins: dict[str, tuple[str, int, float | None]] = {}
    amp = config.amplifier
    if amp is not None:
        pins["amplifier.power"] = ("relay", amp.power_relay, amp.max_on_s)
        for pin in sorted({p for zone in amp.zones.values() for p in zone}):
            pins[f"amplifier.zone-{pin}"] = ("zone", pin, amp.max_on_s)
    for siren in config.sirens:
        if siren.relay is not None:
            pins[siren.id] = ("siren", siren.relay, siren.max_on_s)
    for led in ("fault_led", "broadcast_led", "alarm_led"):
        pin = getattr(config.panel, led)
        if pin is not None:
            pins[f"panel.{led}"] = ("led", pin, None)
    if config.panel.buzzer is not None:
        pins["panel.buzzer"] = ("buzzer", config.panel.buzzer, BUZZER_MAX_ON_S)
    return pins


def claim_outputs(config: Config, chip: GpioChip) -> dict[str, tuple[str, Any, float | None]]:
    """Claim every configured GPIO output, OFF at once: ``id -> (kind, output, max_on_s)``."""
    return {output_id: (kind, chip.output(pin), max_on_s)
            for output_id, (kind, pin, max_on_s) in output_pins(config).items()}
