"""``station-edge devices`` (every configured device, its wiring, its live state) and
``station-edge wiring`` (the GPIO wiring table of the config).

``devices`` asks the running daemon for its health and outputs; with the daemon stopped
it looks itself: GPIO input levels, one read of each Modbus device, the satellite
terminal's registration and signal, whether ``[audio] device`` opens.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from edge.cli.console import CommandFailed, Console, table
from edge.cli.target import DaemonApi, Direct, add_config_option, add_token_option, station_target
from edge.config import Config

HEADER = ["DEVICE", "KIND", "WIRED TO", "STATUS", "DETAIL"]


def register(sub: Any) -> None:
    devices = sub.add_parser("devices", help="every configured device, its wiring, its state")
    add_config_option(devices)
    add_token_option(devices)
    devices.set_defaults(handler=_devices)
    wiring = sub.add_parser("wiring", help="the GPIO wiring table of the config")
    add_config_option(wiring)
    wiring.add_argument("--markdown", action="store_true", help="as a Markdown table")
    wiring.set_defaults(handler=_wiring)


def _wiring(args: argparse.Namespace) -> int:
    from edge.cli.target import load_config
    from edge.wiring import GROUND_PINS, WIRING_HEADER, markdown_table, serial_wiring, wiring_rows

    console = Console()
    config = load_config(args.config, console, announce=not args.markdown)
    if args.markdown:
        console.line(markdown_table(config))
        return 0
    for line in table(wiring_rows(config), WIRING_HEADER):
        console.line(line)
    console.line(f"ground (GND) pins: {', '.join(map(str, GROUND_PINS))}")
    for line in table([list(r) for r in serial_wiring(config)], ["DEVICE", "ON", "SETTINGS"]):
        console.line(line)
    return 0


def device_wiring(config: Config) -> dict[str, str]:
    """Device id (as health names it) → where it is wired."""
    from edge.wiring import wired_pins

    pins = {p.key: p.label for p in wired_pins(config)}
    wired: dict[str, str] = {}
    amp = config.amplifier
    if amp is not None:
        zones = "; ".join(f"{z} " + ",".join(f"BCM{p}" for p in ps) for z, ps in amp.zones.items())
        wired["amplifier"] = f"power {pins['amplifier.power_relay']}; zones {zones}"
        wired["audio"] = f"[audio] device {config.audio.device!r} ({config.audio.backend})"
    for i, siren in enumerate(config.sirens):
        wired[siren.id] = pins.get(f"sirens[{i}].relay") or \
            f"{siren.bus} unit {siren.unit} coil {siren.coil}"
    for i, alarm in enumerate(config.hand_alarms):
        wired[alarm.id] = pins.get(f"hand_alarms[{i}].pin") or \
            f"{alarm.bus} unit {alarm.unit} input {alarm.discrete_input}"
    for i, gauge in enumerate(config.rain_gauges):
        wired[gauge.id] = pins.get(f"rain_gauges[{i}].pin") or \
            f"{gauge.bus} unit {gauge.unit} {gauge.function} {gauge.register_address}"
    for key in ("evacuate_button", "stop_button", "ack_button"):
        if f"panel.{key}" in pins:
            wired[f"panel.{key}"] = pins[f"panel.{key}"]
    if config.sat_phone is not None:
        wired["sat_phone"] = f"{config.sat_phone.port} {config.sat_phone.baudrate} baud"
    return wired


def _devices(args: argparse.Namespace) -> int:
    console = Console()
    with station_target(args, console) as target:
        wiring = device_wiring(target.config)
        if isinstance(target, DaemonApi):
            rows = _from_daemon(target, wiring)
        else:
            rows = asyncio.run(_look_directly(target, wiring, console))
    for line in table(rows, HEADER):
        console.line(line)
    bad = [f"{r[0]} ({r[3]}: {r[4]})" for r in rows if r[3] not in ("ok", "idle", "—")]
    if bad:
        raise CommandFailed(f"{len(bad)} device(s) not ok: " + "; ".join(bad))
    return 0


def _from_daemon(api: DaemonApi, wiring: dict[str, str]) -> list[list[str]]:
    from edge.cli.offline import output_ids

    health = api.get("/api/v1/health")
    outputs = {o["id"]: o for o in api.get("/api/v1/outputs")["outputs"]}
    rows = [[d["id"], d["kind"], wiring.get(d["id"], "—"), d["status"], d["detail"]]
            for d in health["devices"]]
    known = {r[0] for r in rows}
    where = output_ids(api.config)
    for output_id, output in outputs.items():
        if output_id not in known:
            rows.append([output_id, output["kind"], where.get(output_id, "—"), "ok",
                         output["state"]])
    return rows


async def _look_directly(target: Direct, wiring: dict[str, str],
                         console: Console) -> list[list[str]]:
    config = target.config
    rows = _gpio_inputs(config, wiring)
    async with console.ticking("asking the Modbus devices"):
        rows += await _modbus_devices(config, wiring)
    if config.sat_phone is not None:
        rows.append(await _terminal(config, wiring, console))
    if config.amplifier is not None:
        rows.append(_audio(config, wiring))
    rows += _outputs(config)
    return rows


def _outputs(config: Config) -> list[list[str]]:
    """GPIO outputs are not switched by looking: ``test output ID`` switches one."""
    from edge.cli.offline import output_ids

    remote = {s.id for s in config.sirens if s.bus is not None}
    return [[output_id, "output", where, "—", "not driven while the daemon is stopped"]
            for output_id, where in output_ids(config).items() if output_id not in remote]


def _gpio_inputs(config: Config, wiring: dict[str, str]) -> list[list[str]]:
    from drivers.clock import SystemClock
    from edge.cli.offline import open_gpio
    from edge.wiring import wired_pins

    inputs = [p for p in wired_pins(config) if p.direction == "input"]
    if not inputs:
        return []
    try:
        chip = open_gpio(config, SystemClock())
    except CommandFailed as exc:
        return [["gpio", "gpio", config.gpio.backend, "fault", str(exc)]]
    rows = []
    try:
        for wired in inputs:
            level = chip.input(wired.bcm, active_low=True)
            state = "pressed (pulled low)" if level.is_active else "released (high)"
            kind = "button" if wired.device_id.startswith("panel.") else "input"
            rows.append([wired.device_id, kind, wired.label, "ok", state])
    finally:
        chip.close()
    return rows


async def _modbus_devices(config: Config, wiring: dict[str, str]) -> list[list[str]]:
    from drivers.serial_line import PortProblem, check_port
    from edge.modbus_lines import make_bus
    from edge.modbus_probe import probe

    rows = []
    for name, cfg in config.modbus.buses.items():
        on_bus: list[tuple[str, str, int, str, int, int]] = []
        for g in config.rain_gauges:
            if g.bus == name and g.unit is not None:
                on_bus.append((g.id, "rain_gauge", g.unit, g.function, g.register_address,
                               g.width // 16))
        for s in config.sirens:
            if s.bus == name and s.unit is not None and s.coil is not None:
                on_bus.append((s.id, "siren", s.unit, "coils", s.coil, 1))
        for a in config.hand_alarms:
            if a.bus == name and a.unit is not None and a.discrete_input is not None:
                on_bus.append((a.id, "hand_alarm", a.unit, "discrete", a.discrete_input, 1))
        try:
            check_port(cfg.port, cfg.baudrate)
        except PortProblem as exc:
            rows += [[d, k, wiring[d], "offline", str(exc)] for d, k, *_ in on_bus]
            continue
        bus = make_bus(name, cfg)
        try:
            for device_id, kind, unit, function, address, count in on_bus:
                result = await probe(bus, unit, function, address, count)
                if result.error_kind is None:
                    rows.append([device_id, kind, wiring[device_id], "ok",
                                 f"answers in {result.rtt_ms:.0f} ms: {result.values}"])
                else:
                    rows.append([device_id, kind, wiring[device_id], "offline",
                                 f"{result.error} [{result.error_kind}]"])
        finally:
            await bus.close()
    return rows


async def _terminal(config: Config, wiring: dict[str, str], console: Console) -> list[str]:
    from edge.cli.modem import Ask, direct_session
    from sat_phone.terminal_info import describe_registration, info_queries

    assert config.sat_phone is not None
    found: list[str] = []

    async def job(phone: Any, ask: Ask) -> int:
        creg = await ask("AT+CREG?", 10.0)
        found.append(describe_registration([v.removeprefix("+CREG:") for v in creg.lines]))
        signal = next(q for q in info_queries(phone.personality) if q.label == "signal")
        answer = await ask(signal.command, signal.timeout_s)
        values = [v[len(signal.prefix or ""):].strip() for v in answer.lines]
        found.append(f"signal {signal.describe(values)}")
        return 0

    try:
        await direct_session(config.sat_phone, console, job)
    except CommandFailed as exc:
        return ["sat_phone", "sat_phone", wiring["sat_phone"], "offline", str(exc)]
    return ["sat_phone", "sat_phone", wiring["sat_phone"], "ok", "; ".join(found)]


def _audio(config: Config, wiring: dict[str, str]) -> list[str]:
    if config.audio.backend != "sounddevice":
        return ["audio", "audio", wiring["audio"], "ok", "file backend (no sound card)"]
    from drivers.audio_devices import resolve_output

    try:
        found = resolve_output(config.audio.device)
    except ValueError as exc:
        return ["audio", "audio", wiring["audio"], "fault", str(exc)]
    return ["audio", "audio", wiring["audio"], "ok", f"#{found.index} {found.name}"]
