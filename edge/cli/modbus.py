"""``station-edge modbus poll|scan``: one gauge's raw registers, or who answers on a line.

Directly on the line's port when the daemon is stopped (the same driver and settings
the daemon uses); through the daemon's bus when it runs (``POST
/api/v1/modbus/{bus}/read``, admin), so a probe never collides with the daemon's polls.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from edge.cli.console import CommandFailed, Console
from edge.cli.target import DaemonApi, Direct, add_config_option, add_token_option, station_target
from edge.config import Config
from edge.modbus_probe import (
    ERROR_WORDS,
    FUNCTION_CODES,
    ProbeResult,
    decode_gauge,
    gauge_on,
    parse_units,
)

Probe = Callable[[int, str, int, int], Awaitable[ProbeResult]]
Job = Callable[[Config, Probe], Coroutine[Any, Any, int]]


def register(sub: Any) -> None:
    modbus = sub.add_parser("modbus", help="Modbus RTU lines: poll one unit, scan for units")
    actions = modbus.add_subparsers(dest="action", required=True)
    poll = actions.add_parser("poll", help="read one unit: raw values, decoded value, timing")
    poll.add_argument("bus", help="a line of [modbus.buses], e.g. rs485")
    poll.add_argument("unit", type=int, help="the device's unit address (1-247)")
    poll.add_argument("--function", choices=sorted(FUNCTION_CODES), default=None,
                      help="default: what the config reads from this unit, else holding")
    poll.add_argument("--register", type=int, default=None, help="first address (default 0)")
    poll.add_argument("--count", type=int, default=None, help="how many (default: 1)")
    poll.add_argument("--repeat", type=int, default=1, help="poll this many times (default 1)")
    poll.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    poll.set_defaults(handler=_poll)
    scan = actions.add_parser("scan", help="ask every unit address who is there")
    scan.add_argument("bus")
    scan.add_argument("--units", default="1-247", help="e.g. 1-20,100 (default 1-247)")
    scan.add_argument("--function", choices=sorted(FUNCTION_CODES), default="holding")
    scan.add_argument("--register", type=int, default=0)
    scan.add_argument("--timeout", type=float, default=None,
                      help="seconds to wait for each unit (default: the line's timeout_s; "
                           "ignored through the daemon)")
    scan.set_defaults(handler=_scan)
    for parser in (poll, scan):
        add_config_option(parser)
        add_token_option(parser)


def _bus_config(config: Config, bus: str) -> Any:
    if bus not in config.modbus.buses:
        known = ", ".join(config.modbus.buses) or "(none)"
        raise CommandFailed(f"no Modbus line {bus!r} in [modbus.buses]; lines: {known}")
    return config.modbus.buses[bus]


def _describe_line(name: str, cfg: Any, timeout_s: float) -> str:
    return (f"line {name}: {cfg.port}, {cfg.baudrate} baud 8{cfg.parity}{cfg.stopbits}, "
            f"timeout {timeout_s:g} s")


def _run_with_probe(args: argparse.Namespace, console: Console, timeout_s: float | None,
                    job: Job) -> int:
    """Run ``job`` with a probe on this command's own bus, or through the daemon's."""
    with station_target(args, console) as target:
        cfg = _bus_config(target.config, args.bus)
        if isinstance(target, DaemonApi):
            console.step(_describe_line(args.bus, cfg, cfg.timeout_s) + " (the daemon's bus)")
            api = target

            async def through_daemon(unit: int, function: str, address: int,
                                     count: int) -> ProbeResult:
                body = {"unit": unit, "function": function, "register": address,
                        "count": count}
                reply = await asyncio.to_thread(api.post, f"/api/v1/modbus/{args.bus}/read",
                                                body)
                return ProbeResult.from_json(reply)

            return asyncio.run(job(target.config, through_daemon))
        return asyncio.run(_direct(target, args.bus, cfg, timeout_s, console, job))


async def _direct(target: Direct, name: str, cfg: Any, timeout_s: float | None,
                  console: Console, job: Job) -> int:
    from drivers.serial_line import PortProblem, check_port
    from edge.modbus_lines import make_bus
    from edge.modbus_probe import probe

    try:
        check_port(cfg.port, cfg.baudrate)
    except PortProblem as exc:
        raise CommandFailed(str(exc)) from None
    bus = make_bus(name, cfg, timeout_s)
    console.step(_describe_line(name, cfg, bus.timeout_s))
    try:
        return await job(target.config,
                         lambda unit, function, address, count:
                         probe(bus, unit, function, address, count))
    finally:
        await bus.close()


def _poll_defaults(config: Config, bus: str, unit: int) -> tuple[str, int, int, str]:
    """(function, address, count, what) the config reads from this unit."""
    gauge = gauge_on(config, bus, unit)
    if gauge is not None:
        return gauge.function, gauge.register_address, gauge.width // 16, \
            f"rain gauge {gauge.id} {gauge.name}".strip()
    for siren in config.sirens:
        if siren.bus == bus and siren.unit == unit and siren.coil is not None:
            return "coils", siren.coil, 1, f"siren {siren.id} {siren.name}".strip()
    for alarm in config.hand_alarms:
        if alarm.bus == bus and alarm.unit == unit and alarm.discrete_input is not None:
            return "discrete", alarm.discrete_input, 1, f"hand alarm {alarm.id}"
    return "holding", 0, 1, "not in the config"


def _poll(args: argparse.Namespace) -> int:
    console = Console()
    if not 1 <= args.unit <= 247:
        raise CommandFailed(f"a unit address is 1-247, got {args.unit}")
    if args.repeat < 1:
        raise CommandFailed("--repeat must be at least 1")

    async def job(config: Config, probe: Probe) -> int:
        function, address, count, what = _poll_defaults(config, args.bus, args.unit)
        function = args.function or function
        address = address if args.register is None else args.register
        count = count if args.count is None else args.count
        console.step(f"unit {args.unit} ({what}): {function} {address}, count {count}")
        results = []
        for n in range(args.repeat):
            if n:
                await asyncio.sleep(args.interval)
            result = await probe(args.unit, function, address, count)
            results.append(result)
            _print_result(config, args.bus, result, console, n + 1 if args.repeat > 1 else None)
        return _summary(results, console)

    return _run_with_probe(args, console, None, job)


def _print_result(config: Config, bus: str, result: ProbeResult, console: Console,
                  number: int | None) -> None:
    head = f"poll {number}: " if number else ""
    if result.values is None:
        console.step(f"{head}unit {result.unit}: {result.error} "
                     f"[{result.error_kind}] after {result.rtt_ms:.0f} ms")
        return
    if result.function in ("coils", "discrete"):
        raw = ", ".join("1 (on)" if v else "0 (off)" for v in result.values)
    else:
        raw = ", ".join(f"{v} (0x{v:04X})" for v in result.values)
    console.step(f"{head}unit {result.unit} answered in {result.rtt_ms:.0f} ms: {raw}")
    gauge = gauge_on(config, bus, result.unit)
    if gauge is not None and result.function == gauge.function \
            and result.address == gauge.register_address and result.count == gauge.width // 16:
        counter, mm = decode_gauge(gauge, result.values)
        console.detail(f"{gauge.id}: counter {counter} × {gauge.scale_mm:g} mm = {mm:g} mm "
                       f"({gauge.width}-bit, word order {gauge.word_order})")


def _summary(results: list[ProbeResult], console: Console) -> int:
    failed = [r for r in results if r.error_kind is not None]
    if len(results) > 1:
        rtts = [r.rtt_ms for r in results if r.error_kind is None]
        timing = (f"; round trip min {min(rtts):.0f} / median {statistics.median(rtts):.0f} / "
                  f"max {max(rtts):.0f} ms") if rtts else ""
        counted = Counter(str(r.error_kind) for r in failed)
        errors = ", ".join(f"{k} {n}" for k, n in sorted(counted.items())) or "none"
        console.step(f"{len(results)} polls: {len(results) - len(failed)} answered; "
                     f"errors by kind: {errors}{timing}")
    if failed:
        kinds = sorted({str(r.error_kind) for r in failed})
        words = "; ".join(f"{k}: {ERROR_WORDS[k]}" for k in kinds)
        raise CommandFailed(f"{len(failed)} of {len(results)} polls failed ({words})")
    return 0


def _scan(args: argparse.Namespace) -> int:
    console = Console()
    try:
        units = parse_units(args.units)
    except ValueError as exc:
        raise CommandFailed(str(exc)) from None

    async def job(config: Config, probe: Probe) -> int:
        configured = _configured_units(config, args.bus)
        found: list[int] = []
        async with console.ticking(f"scanning {len(units)} unit addresses") as progress:
            for i, unit in enumerate(units, start=1):
                progress.detail = f"unit {unit} ({i} of {len(units)}), {len(found)} found"
                result = await probe(unit, args.function, args.register, 1)
                if result.error_kind == "port":
                    raise CommandFailed(result.error or "the port failed")
                if not result.answered:
                    continue
                found.append(unit)
                said = (f"{args.function} {args.register} = {result.values[0]}"
                        if result.values else f"{result.error}, so a device is there")
                where = configured.get(unit, "not in the config")
                console.step(f"unit {unit} answers in {result.rtt_ms:.0f} ms ({said}) — {where}")
        silent = {u: w for u, w in configured.items() if u in units and u not in found}
        for unit, what in silent.items():
            console.step(f"unit {unit} ({what}) is in the config but did not answer")
        if not found:
            raise CommandFailed(f"no unit answered on {args.bus} (units {args.units}): check "
                                "A/B wiring, baud rate, parity, power and termination")
        console.step(f"found {len(found)} unit(s): {', '.join(map(str, found))}")
        if silent:
            raise CommandFailed(f"configured unit(s) {', '.join(map(str, silent))} did not "
                                "answer: check their address switches, power and wiring")
        return 0

    return _run_with_probe(args, console, args.timeout, job)


def _configured_units(config: Config, bus: str) -> dict[int, str]:
    units: dict[int, str] = {}
    for kind, items in (("rain gauge", config.rain_gauges), ("siren", config.sirens),
                        ("hand alarm", config.hand_alarms)):
        for item in items:
            if item.bus == bus and item.unit is not None:
                units.setdefault(item.unit, f"{kind} {item.id}")
    return units
