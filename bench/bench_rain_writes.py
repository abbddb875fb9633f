"""Bytes the daemon writes to disk: a dry day and a 200 mm/h storm, three gauges at 1 s polls.

Run: ``python bench/bench_rain_writes.py [--seconds 300] [--before REV]``. Two daemons
(``station-edge run --config``, real processes) run side by side: this checkout, and a
worktree of the commit before the write reduction (``--before``, default: the parent of
the commit that added this file). Each polls its own gauge simulator (three gauges on one
simulated RS-485 line, 1 s polls); the simulators are separate processes, not counted.

Each daemon's ``write_bytes`` from ``/proc/PID/io`` (bytes it caused to be written to the
block device) is read after a warm-up, after ``--seconds`` of a dry day, and after
``--seconds`` of 200 mm/h on every gauge; the figures are extrapolated to a day.
Targets (issue 14 part 1): ≤ 20 MB/day dry, at most a few times that in the storm.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
SIM = REPO / "hw-sim" / "modbus_gauge_sim.py"
VIEWER = "bench-viewer"
DAY_S = 86400
WARMUP_S = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def config_text(data_dir: Path, gauge_port: str, listen: str) -> str:
    """A minimal station: three gauges on one line at 1 s polls (keys every version knows)."""
    gauges = "".join(
        f'\n[[rain_gauges]]\nid = "rg-{u}"\nname = "雨量站{u}"\nbus = "rs485"\nunit = {u}\n'
        for u in (1, 2, 3))
    digest = hashlib.sha256(VIEWER.encode()).hexdigest()
    return f'''
[station]
id = "BENCH-W"
name = "写入基准站"
data_dir = "{data_dir}"
[sim]
[api]
listen = "{listen}"
[[api.tokens]]
name = "bench"
role = "viewer"
sha256 = "{digest}"
[gpio]
backend = "mock"
[self_test]
enabled = false
[modbus.buses.rs485]
port = "{gauge_port}"
poll_interval_s = 1.0
timeout_s = 0.3
{gauges}
[[rain_thresholds]]
gauge = "*"
window = "1h"
prepare_mm = 300.0
evacuate_mm = 500.0
'''


class GaugeSimProcess:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(SIM), "--listen", "socket://127.0.0.1:0", "--stdin", "ignore",
             "--control", "--rain", "none", "--unit", "1", "--unit", "2", "--unit", "3"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        words = self.process.stdout.readline().split()
        if not words or words[0] != "READY":
            raise RuntimeError(f"gauge simulator did not start: {words}")
        self.url = words[1]
        self.control = dict(w.split("=", 1) for w in words[2:])["control"]

    def command(self, line: str) -> str:
        host, port = self.control.split(":")
        with socket.create_connection((host, int(port)), timeout=5) as conn:
            conn.sendall(line.encode() + b"\n")
            return conn.makefile().readline().strip()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@dataclass
class Daemon:
    label: str
    checkout: Path
    data_dir: Path
    sim: GaugeSimProcess
    process: subprocess.Popen[bytes]
    base_url: str

    @classmethod
    def start(cls, label: str, checkout: Path, work: Path) -> Daemon:
        sim = GaugeSimProcess()
        data_dir = work / f"data-{label}"
        listen = f"127.0.0.1:{free_port()}"
        config = work / f"config-{label}.toml"
        config.write_text(config_text(data_dir, sim.url, listen), encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(checkout)}
        with open(work / f"{label}.log", "wb") as log:  # the child keeps its own descriptor
            process = subprocess.Popen(
                [sys.executable, "-m", "edge.cli", "run", "--config", str(config)],
                cwd=checkout, env=env, stdout=log, stderr=subprocess.STDOUT)
        return cls(label, checkout, data_dir, sim, process, f"http://{listen}")

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.label}: daemon exited with {self.process.returncode}")
            try:
                reply = httpx.get(f"{self.base_url}/api/v1/health", timeout=2,
                                  headers={"Authorization": f"Bearer {VIEWER}"})
                if reply.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.label}: daemon not ready in {timeout} s")

    def write_bytes(self) -> int:
        with open(f"/proc/{self.process.pid}/io", encoding="ascii") as f:
            fields = dict(line.split(": ") for line in f.read().splitlines())
        return int(fields["write_bytes"])

    def rain_24h(self) -> float:
        reply = httpx.get(f"{self.base_url}/api/v1/rain", timeout=5,
                          headers={"Authorization": f"Bearer {VIEWER}"})
        totals = [g["totals"]["24h"] or 0.0 for g in reply.json()["gauges"]]
        return float(sum(totals))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.sim.stop()


def before_commit(rev: str | None) -> str:
    if rev:
        return rev
    added = subprocess.run(
        ["git", "log", "--diff-filter=A", "--format=%H", "--", "bench/bench_rain_writes.py"],
        cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    if not added:
        raise SystemExit("cannot find the commit that added this benchmark; give --before")
    return f"{added[-1]}^"


def per_day(delta: int, seconds: float) -> float:
    return delta / seconds * DAY_S / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0,
                        help="length of each phase (dry, storm), real seconds")
    parser.add_argument("--before", default=None, help="the commit to compare with")
    args = parser.parse_args()
    rev = before_commit(args.before)
    with tempfile.TemporaryDirectory(dir=REPO.parent) as tmp, ExitStack() as stack:
        work = Path(tmp)
        old = work / "before"
        subprocess.run(["git", "worktree", "add", "--detach", str(old), rev], cwd=REPO,
                       check=True, capture_output=True)
        stack.callback(lambda: subprocess.run(
            ["git", "worktree", "remove", "--force", str(old)], cwd=REPO, capture_output=True))
        daemons = []
        for label, checkout in (("after", REPO), ("before", old)):
            daemon = Daemon.start(label, checkout, work)
            stack.callback(daemon.stop)
            daemons.append(daemon)
        for daemon in daemons:
            daemon.wait_ready()
        time.sleep(WARMUP_S)
        marks = {d.label: [d.write_bytes()] for d in daemons}
        time.sleep(args.seconds)
        for d in daemons:
            marks[d.label].append(d.write_bytes())
            d.sim.command("profile * constant:200")
        time.sleep(args.seconds)
        for d in daemons:
            marks[d.label].append(d.write_bytes())
        rain = {d.label: d.rain_24h() for d in daemons}
        print(f"daemon write_bytes, 3 gauges at 1 s polls, {args.seconds:.0f} s per phase, "
              f"extrapolated to a day (before = {rev}):")
        figures = {}
        for label in ("after", "before"):
            dry0, dry1, storm1 = marks[label]
            figures[label] = (per_day(dry1 - dry0, args.seconds),
                              per_day(storm1 - dry1, args.seconds))
            print(f"  {label:6} dry {figures[label][0]:9.2f} MB/day   "
                  f"200 mm/h storm {figures[label][1]:9.2f} MB/day   "
                  f"(rain counted on 3 gauges: {rain[label]:.1f} mm)")
        for i, phase in enumerate(("dry", "storm")):
            after, before = figures["after"][i], figures["before"][i]
            ratio = after / before if before else float("nan")
            print(f"  {phase:5} after/before = {ratio:.4f}")
        print(f"  target: dry ≤ 20 MB/day: {'met' if figures['after'][0] <= 20 else 'NOT met'}")
        shutil.rmtree(work / "data-before", ignore_errors=True)


if __name__ == "__main__":
    main()
