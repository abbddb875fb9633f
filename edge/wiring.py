"""Where each device of a config is wired: BCM number, header pin, level, relay channel.

The config names BCM numbers (what the software uses); a technician with a screwdriver
counts physical pins on the 40-pin header. Inputs (buttons, hand alarms, pulse gauges)
use the internal pull-up and are active when pulled to ground; relays, sirens, LEDs and
the buzzer are active-high outputs. Relay channels are numbered in the order below, a
suggestion for labelling the relay board so the table and the cabinet agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.config import Config

#: BCM number → physical pin on the Raspberry Pi 40-pin header.
HEADER_PIN = {2: 3, 3: 5, 4: 7, 17: 11, 27: 13, 22: 15, 10: 19, 9: 21, 11: 23, 0: 27, 5: 29,
              6: 31, 13: 33, 19: 35, 26: 37, 14: 8, 15: 10, 18: 12, 23: 16, 24: 18, 25: 22,
              8: 24, 7: 26, 1: 28, 12: 32, 16: 36, 20: 38, 21: 40}
GROUND_PINS = (6, 9, 14, 20, 25, 30, 34, 39)

PANEL_NAMES = {
    "evacuate_button": "EVACUATE button (立即转移)",
    "stop_button": "STOP button (停止)",
    "ack_button": "ACK button (确认)",
    "fault_led": "fault LED (故障灯)",
    "broadcast_led": "broadcast LED (广播灯)",
    "alarm_led": "alarm LED (报警灯)",
    "buzzer": "buzzer (蜂鸣器)",
}


@dataclass(frozen=True)
class WiredPin:
    bcm: int
    device_id: str  # as the station names it: an output id, or an input's id
    device: str  # in words
    key: str  # the config key that names the pin
    direction: str  # "input" or "output"
    relay_channel: int | None = None

    @property
    def header_pin(self) -> int:
        return HEADER_PIN[self.bcm]

    @property
    def active(self) -> str:
        if self.direction == "input":
            return "low (pull-up; switch to GND)"
        return "high"

    @property
    def label(self) -> str:
        return f"BCM{self.bcm} (pin {self.header_pin})"


def _named(item_id: str, name: str) -> str:
    return f"{item_id} {name}".strip()


def wired_pins(config: Config) -> list[WiredPin]:
    """Every GPIO pin of the config, outputs that switch power first (relay channels)."""
    relays: list[tuple[int, str, str, str]] = []
    amp = config.amplifier
    if amp is not None:
        relays.append((amp.power_relay, "amplifier.power", "amplifier power relay (功放电源)",
                       "amplifier.power_relay"))
        seen: set[int] = set()
        for zone, pins in amp.zones.items():
            for i, pin in enumerate(pins):
                if pin in seen:
                    continue
                seen.add(pin)
                zones = ", ".join(z for z, ps in amp.zones.items() if pin in ps)
                relays.append((pin, f"amplifier.zone-{pin}", f"zone relay (广播分区: {zones})",
                               f"amplifier.zones.{zone}[{i}]"))
    for i, siren in enumerate(config.sirens):
        if siren.relay is not None:
            relays.append((siren.relay, siren.id, f"siren relay {_named(siren.id, siren.name)}",
                           f"sirens[{i}].relay"))
    rows = [WiredPin(pin, device_id, device, key, "output", channel)
            for channel, (pin, device_id, device, key) in enumerate(relays, start=1)]
    for field, device in PANEL_NAMES.items():
        pin = getattr(config.panel, field)
        if pin is not None:
            direction = "input" if field.endswith("_button") else "output"
            rows.append(WiredPin(pin, f"panel.{field}", device, f"panel.{field}", direction))
    for i, alarm in enumerate(config.hand_alarms):
        if alarm.pin is not None:
            rows.append(WiredPin(alarm.pin, alarm.id,
                                 f"hand alarm {_named(alarm.id, alarm.name)}",
                                 f"hand_alarms[{i}].pin", "input"))
    for i, gauge in enumerate(config.rain_gauges):
        if gauge.kind == "pulse" and gauge.pin is not None:
            device = f"rain gauge reed contact {_named(gauge.id, gauge.name)}"
            rows.append(WiredPin(gauge.pin, gauge.id, device, f"rain_gauges[{i}].pin", "input"))
    return rows


def wiring_rows(config: Config) -> list[list[str]]:
    return [[str(p.bcm), str(p.header_pin), p.device, p.key, p.direction, p.active,
             f"K{p.relay_channel}" if p.relay_channel else "—"] for p in wired_pins(config)]


WIRING_HEADER = ["BCM", "header pin", "device", "config key", "direction", "active",
                 "relay channel"]


def markdown_table(config: Config) -> str:
    lines = ["| " + " | ".join(WIRING_HEADER) + " |",
             "|" + "---|" * len(WIRING_HEADER)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |"
              for row in wiring_rows(config)]
    return "\n".join(lines)


def serial_wiring(config: Config) -> list[tuple[str, str, str]]:
    """(device, where, settings) of what hangs on serial lines and Modbus buses."""
    rows: list[tuple[str, str, str]] = []
    for name, bus in config.modbus.buses.items():
        rows.append((f"Modbus line {name}", bus.port,
                     f"{bus.baudrate} baud 8{bus.parity}{bus.stopbits}"))
    for gauge in config.rain_gauges:
        if gauge.kind == "modbus":
            rows.append((_named(gauge.id, gauge.name), f"{gauge.bus} unit {gauge.unit}",
                         f"{gauge.function} register {gauge.register_address}, "
                         f"{gauge.width}-bit, {gauge.scale_mm:g} mm/count"))
    for siren in config.sirens:
        if siren.bus is not None:
            rows.append((_named(siren.id, siren.name), f"{siren.bus} unit {siren.unit}",
                         f"coil {siren.coil}"))
    for alarm in config.hand_alarms:
        if alarm.bus is not None:
            rows.append((_named(alarm.id, alarm.name), f"{alarm.bus} unit {alarm.unit}",
                         f"discrete input {alarm.discrete_input}"))
    if config.sat_phone is not None:
        phone = config.sat_phone
        rows.append(("satellite phone (卫星电话)", phone.port,
                     f"{phone.baudrate} baud, {phone.personality}"))
    if config.amplifier is not None:
        rows.append(("amplifier audio (sound card out)", f"{config.audio.device!r}",
                     f"{config.audio.backend}, {config.audio.sample_rate} Hz"))
    return rows
