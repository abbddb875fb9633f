"""Polls per second on one RS-485 line at 9600 baud, against the wire's own limit.

The gauge simulator runs with wire timing: a frame takes its bytes x 11 bits / baud,
and a slave answers 3.5 characters after the request has gone by. The wire limit
of one read is (request + reply bytes + 2 x 3.5 characters of silence) x 11 / baud;
the ratio of achieved polls to that limit says how much of the line the master's
own turnaround (pymodbus, the lock, the flush, the event loop) costs.
Goal: ratio >= 0.8.

    python bench/bench_modbus_poll.py [--seconds 5] [--baud 9600] [--units 4]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drivers.modbus_bus import BusError, ModbusBus  # noqa: E402

SIM = ROOT / "hw-sim" / "modbus_gauge_sim.py"
BITS_PER_CHAR = 11


def wire_s(request: int, reply: int, baud: int) -> float:
    return (request + reply + 2 * 3.5) * BITS_PER_CHAR / baud


async def poll_round_robin(
    bus: ModbusBus, units: list[tuple[int, int]], seconds: float
) -> tuple[int, int, float]:
    loop = asyncio.get_running_loop()
    ok = failed = 0
    started = loop.time()
    while loop.time() - started < seconds:
        for unit, count in units:
            try:
                await bus.read_holding_registers(unit, 0, count)
                ok += 1
            except BusError:
                failed += 1
    return ok, failed, loop.time() - started


async def measure(url: str, baud: int, units: list[tuple[int, int]], seconds: float) -> float:
    bus = ModbusBus(url, baudrate=baud, timeout_s=0.2, quiet_s=0.1)
    try:
        await poll_round_robin(bus, units, 0.5)  # warm up
        ok, failed, elapsed = await poll_round_robin(bus, units, seconds)
        per_round = sum(wire_s(8, 5 + 2 * count, baud) for _, count in units)
        limit = len(units) / per_round
        achieved = ok / elapsed
        print(f"line: {baud} baud, {len(units)} units (u16/u32 alternating), {elapsed:.1f} s")
        print(f"polls: {ok} ok, {failed} failed")
        print(f"achieved: {achieved:.1f} polls/s; wire limit: {limit:.1f} polls/s")
        print(f"ratio: {achieved / limit:.3f} (goal >= 0.8)")

        ok, rounds, elapsed = await poll_round_robin(bus, [*units, (200, 1)], seconds)
        round_s = elapsed / rounds
        print(f"with a dead unit: {ok / elapsed:.1f} live polls/s; a round costs "
              f"{round_s * 1000:.0f} ms = live wire {per_round * 1000:.0f} ms "
              f"+ dead unit {(round_s - per_round) * 1000:.0f} ms "
              f"(timeout {bus.timeout_s * 1000:.0f} ms + quiet {bus.quiet_s * 1000:.0f} ms)")
        return achieved / limit
    finally:
        await bus.close()


def main(seconds: float, baud: int, n_units: int) -> int:
    specs = []
    units = []
    for i in range(1, n_units + 1):
        width = 32 if i % 2 == 0 else 16
        specs += ["--unit", f"{i},width={width}"]
        units.append((i, width // 16))
    sim = subprocess.Popen(
        [sys.executable, str(SIM), "--listen", "socket://127.0.0.1:0", "--baud", str(baud),
         "--wire-timing", *specs],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert sim.stdin is not None and sim.stdout is not None
    try:
        url = sim.stdout.readline().split()[1]
        ratio = asyncio.run(measure(url, baud, units, seconds))
        return 0 if ratio >= 0.8 else 1
    finally:
        sim.stdin.close()
        sim.wait(timeout=5)
        sim.stdout.close()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--baud", type=int, default=9600)
    p.add_argument("--units", type=int, default=4)
    a = p.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    sys.exit(main(a.seconds, a.baud, a.units))
