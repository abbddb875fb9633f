"""``station-edge safe-off``: drive every configured output OFF and exit.

Run by systemd as ``ExecStopPost=`` so the relays go OFF even when the daemon was
killed. It must work from a configuration that no longer validates, too: then every
pin number found under an output key of the raw file is driven OFF, because a relay
left ON is worse than a config error.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from drivers.clock import SystemClock
from drivers.gpio import open_chip
from edge.config import Config, ConfigError, load
from edge.station import GPIO_LATCH_FILE, claim_outputs, open_station_gpio

OUTPUT_KEYS = ("power_relay", "zones", "relay", "fault_led", "broadcast_led", "alarm_led",
               "buzzer")


def raw_output_pins(raw: Any, key: str | None = None) -> set[int]:
    """Every int found under an output key anywhere in a parsed (unvalidated) TOML tree."""
    pins: set[int] = set()
    if isinstance(raw, dict):
        for k, v in raw.items():
            pins |= raw_output_pins(v, k if k in OUTPUT_KEYS else key)
    elif isinstance(raw, list):
        for item in raw:
            pins |= raw_output_pins(item, key)
    elif isinstance(raw, int) and not isinstance(raw, bool) and key is not None and 0 <= raw <= 27:
        pins.add(raw)
    return pins


def safe_off_valid(config: Config) -> list[str]:
    chip = open_station_gpio(config, SystemClock())
    try:
        return sorted(claim_outputs(config, chip))
    finally:
        chip.close()


def safe_off_raw(path: Path) -> list[str]:
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    gpio = raw.get("gpio", {}) if isinstance(raw.get("gpio"), dict) else {}
    backend = gpio.get("backend", "lgpio")
    data_dir = Path(raw.get("station", {}).get("data_dir", "/var/lib/station-edge"))
    chip = open_chip(backend, clock=SystemClock(), latch_path=data_dir / GPIO_LATCH_FILE)
    try:
        pins = sorted(raw_output_pins(raw))
        for pin in pins:
            chip.output(pin)
        return [f"pin {p}" for p in pins]
    finally:
        chip.close()


def safe_off(path: Path) -> tuple[list[str], list[str]]:
    """Returns (what was driven OFF, config problems that forced the raw fallback)."""
    try:
        return safe_off_valid(load(path)), []
    except ConfigError as exc:
        return safe_off_raw(path), exc.problems
