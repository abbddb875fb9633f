"""``station-edge safe-off``: drive every output OFF -- GPIO pins and remote coils -- and exit.

Run by systemd as ``ExecStopPost=`` so the relays and sirens go OFF even when the
daemon was killed (a Pi kernel keeps GPIO outputs driven; a Modbus I/O module keeps
its coils). It works from anything: what it drives is found by
:mod:`edge.safe_off_sources` (the given file, the daemon's last good copy, the raw
text). It never prints a traceback, and exits non-zero only when an output could not
be driven OFF, saying which one and why.

A coil is written OFF and read back, again and again until the module confirms it or
``timeout_s`` has passed (every coil gets one attempt at least, so the whole run is
bounded by ``timeout_s`` plus one line timeout per coil). A port that cannot even be
opened (the USB adapter is gone) is given up after ``PORT_ATTEMPTS`` tries: waiting
would only delay the restart that follows. Lines are driven side by side.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path

from drivers.clock import SystemClock
from drivers.gpio import open_chip
from drivers.modbus_bus import ModbusBus, PortUnavailable
from drivers.modbus_switch import CoilSwitch
from edge.gpio_outputs import GPIO_LATCH_FILE
from edge.safe_off_sources import DEFAULT_DATA_DIR, Coil, Line, Targets, gather

DEFAULT_TIMEOUT_S = 5.0
RETRY_PAUSE_S = 0.2
PORT_ATTEMPTS = 3


@dataclass
class Outcome:
    off: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def add(self, other: Outcome) -> None:
        self.off += other.off
        self.failed += other.failed


def drive_pins(targets: Targets) -> Outcome:
    """Claim every output pin OFF, then release it (OFF, as gpiozero leaves it)."""
    outcome = Outcome()
    pins = targets.output_pins()
    if not pins:
        return outcome
    backend = targets.backend or "lgpio"
    latch = (targets.data_dir or DEFAULT_DATA_DIR) / GPIO_LATCH_FILE
    try:
        chip = open_chip(backend, clock=SystemClock(), latch_path=latch)
    except Exception as exc:  # lgpio and gpiozero raise their own types
        outcome.failed += [f"{name} (pin {pin}): the GPIO chip ({backend}) cannot be opened: "
                           f"{type(exc).__name__}: {exc}" for pin, name in pins.items()]
        return outcome
    try:
        for pin, name in pins.items():
            try:
                chip.output(pin)
            except Exception as exc:
                outcome.failed.append(f"{name} (pin {pin}): {type(exc).__name__}: {exc}")
            else:
                outcome.off.append(f"{name} (pin {pin})")
    finally:
        try:
            chip.close()
        except Exception as exc:  # every pin was driven OFF before its release failed
            outcome.failed.append(f"releasing the GPIO pins: {exc}")
    return outcome


async def _drive_line(line: Line, coils: Iterable[Coil], deadline: float) -> Outcome:
    outcome = Outcome()
    pending = list(coils)
    try:
        bus = ModbusBus(line.port, baudrate=line.baudrate, parity=line.parity,
                        stopbits=line.stopbits, timeout_s=line.timeout_s, name=line.name)
        try:
            while pending:
                outcome.add(await _drive_coil(bus, line, pending[0], deadline))
                pending.pop(0)
        finally:
            await bus.close()
    except Exception as exc:  # whatever the line does, each coil not driven is reported
        outcome.failed += [f"{coil} on {line.port}: {type(exc).__name__}: {exc}"
                           for coil in pending]
    return outcome


async def _drive_coil(bus: ModbusBus, line: Line, coil: Coil, deadline: float) -> Outcome:
    """One coil OFF and read back, retried until ``deadline`` (one attempt at least)."""
    loop = asyncio.get_running_loop()
    switch = CoilSwitch(bus, coil.unit, coil.coil)
    attempts = 0
    while True:
        attempts += 1
        try:
            await switch.set(False)
        except Exception as exc:  # no reply, refused, port missing: try again
            port_gone = isinstance(exc, PortUnavailable) and attempts >= PORT_ATTEMPTS
            if loop.time() + RETRY_PAUSE_S < deadline and not port_gone:
                await asyncio.sleep(RETRY_PAUSE_S)
                continue
            return Outcome(failed=[f"{coil} on {line.port}: {exc} ({attempts} attempts)"])
        return Outcome(off=[f"{coil}, read back"])


def _one_line(loop: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
    """An error inside the serial transport's callbacks: one line, never a traceback (the
    coil it concerns is reported NOT OFF by its own attempt)."""
    exc = context.get("exception")
    what = f"{type(exc).__name__}: {exc}" if exc is not None else context.get("message")
    print(f"safe-off: {what}", file=sys.stderr, flush=True)


async def drive_coils(targets: Targets, timeout_s: float) -> Outcome:
    """Every coil OFF and read back; the lines side by side."""
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_one_line)
    deadline = loop.time() + timeout_s
    coils = sorted(targets.coils.values(), key=lambda c: (c.line.port, c.unit, c.coil))
    lines = [(group[0].line, group) for _port, found in groupby(coils, lambda c: c.line.port)
             if (group := list(found))]
    outcome = Outcome()
    for result in await asyncio.gather(*(_drive_line(line, group, deadline)
                                         for line, group in lines)):
        outcome.add(result)
    return outcome


def safe_off(config_path: Path, data_dir: Path | None = None,
             timeout_s: float = DEFAULT_TIMEOUT_S) -> tuple[Outcome, list[str]]:
    """Drive OFF everything found; returns what happened and where the outputs were found."""
    targets, notes = gather(config_path, data_dir)
    outcome = drive_pins(targets)
    if targets.coils:
        outcome.add(asyncio.run(drive_coils(targets, timeout_s)))
    return outcome, notes


def run(config_path: Path, data_dir: Path | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S) -> int:
    """The command: report each output, exit 1 when one could not be driven OFF."""
    out, err = sys.stdout, sys.stderr
    try:
        outcome, notes = safe_off(config_path, data_dir, timeout_s)
    except Exception as exc:  # never a traceback: say it in one line, and fail
        print(f"safe-off: failed: {type(exc).__name__}: {exc}", file=err, flush=True)
        return 2
    for note in notes:
        print(note, file=err)
    print("OFF: " + (", ".join(outcome.off) or "(no outputs found)"), file=out, flush=True)
    for failure in outcome.failed:
        print(f"NOT OFF: {failure}", file=err)
    err.flush()
    return 1 if outcome.failed else 0
