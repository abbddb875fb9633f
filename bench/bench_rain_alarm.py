"""Threshold crossing in the gauge simulator → siren relay ON, through a whole station.

Run: ``python bench/bench_rain_alarm.py [--trials 20] [--poll-s 1.0]``. A station (mock
GPIO, real clock, file audio) polls the real gauge simulator over a simulated RS-485
line. For each trial a fresh gauge is brought to just under its 立即转移 threshold with
plausible amounts, then the last 0.1 mm is dropped into the simulator at t0; the time
until the siren relay is driven ON is measured. Goal: p99 ≤ one poll interval + 50 ms.
(Polls per second on one bus against the wire limit: ``bench_modbus_poll.py``.)
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.latency import p99, summary  # noqa: E402

SIREN_PIN = 16


def control(address: str, command: str) -> str:
    host, port = address.split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(command.encode() + b"\n")
        return conn.makefile().readline().strip()


def config_text(data_dir: Path, port: str, trials: int, poll_s: float) -> str:
    gauges = "".join(
        f'\n[[rain_gauges]]\nid = "rg-{u}"\nname = "雨量站{u}"\nbus = "rs485"\nunit = {u}\n'
        for u in range(1, trials + 1))
    return f'''
[station]
id = "BENCH"
name = "基准测试站"
data_dir = "{data_dir}"
[sim]
[gpio]
backend = "mock"
[amplifier]
power_relay = 23
warmup_s = 0.0
hold_s = 0.0
zones = {{ all = [24] }}
[audio]
backend = "file"
[self_test]
enabled = false
[[sirens]]
id = "siren-1"
relay = {SIREN_PIN}
[modbus.buses.rs485]
port = "{port}"
poll_interval_s = {poll_s}
timeout_s = 0.2
{gauges}
[[rain_thresholds]]
gauge = "*"
window = "10min"
prepare_mm = 0.45
evacuate_mm = 0.95
'''


async def measure(trials: int, poll_s: float) -> list[float]:
    from drivers.clock import SystemClock
    from edge.config import parse
    from edge.sim.simulators import Simulator
    from edge.station import Station

    latencies = []
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        units = [arg for u in range(1, trials + 1) for arg in ("--unit", str(u))]
        sim = Simulator("modbus_gauge_sim.py", ["--listen", "socket://127.0.0.1:0", "--stdin",
                                                "ignore", "--control", "--rain", "none", *units])
        stack.callback(sim.stop)
        port, _, ctl = sim.address.partition(" control=")
        station = Station(parse(config_text(Path(tmp), port, trials, poll_s)), SystemClock())
        await station.start()
        history = station.gpio.factory.history
        alarms = station.parts.alarms
        try:
            await asyncio.sleep(3 * poll_s)
            for unit in range(1, trials + 1):
                for _ in range(9):  # 0.9 mm, 0.1 mm per poll: plausible rain
                    control(ctl, f"rain {unit} 0.1")
                    await asyncio.sleep(poll_s)
                seen = len(history)
                t0 = time.monotonic()
                control(ctl, f"rain {unit} 0.11")  # 0.1 mm and a hair: no rounding doubt
                deadline = t0 + 10 * poll_s
                while not any(c.pin == SIREN_PIN and c.level for c in history[seen:]):
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"no siren for gauge rg-{unit}")
                    await asyncio.sleep(0.001)
                t_on = next(c.t for c in history[seen:] if c.pin == SIREN_PIN and c.level)
                latencies.append(t_on - t0)
                alarms.acknowledge_all(actor="bench")
                await asyncio.sleep(poll_s)
        finally:
            station.request_stop("bench over")
            await station.stop()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--poll-s", type=float, default=1.0)
    args = parser.parse_args()
    latencies = asyncio.run(measure(args.trials, args.poll_s))
    goal = args.poll_s + 0.05
    print(f"threshold crossing → siren relay ON: {summary(latencies)}; "
          f"goal p99 ≤ {1000 * goal:.0f} ms: {'met' if p99(latencies) <= goal else 'NOT met'}")


if __name__ == "__main__":
    main()
