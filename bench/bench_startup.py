"""Start-up time to ready, memory after start, and idle CPU of a simulated station.

Run: ``python bench/bench_startup.py [--runs 3] [--idle-s 60]``. Each run starts
``station-edge run --sim`` in a fresh data directory, measures the time until
``GET /api/v1/health`` answers ``ok``, the resident memory of the daemon (and of its
simulator children) once ready, and the CPU it uses while idle. Prints figures only.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                out.append(int(entry))
    return out


def one_run(idle_s: float) -> tuple[float, int, int, float]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "edge.cli", "run", "--sim", "--listen", f"127.0.0.1:{port}",
             "--data-dir", str(Path(tmp) / "data")],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            while True:
                try:
                    reply = httpx.get(f"http://127.0.0.1:{port}/api/v1/health",
                                      headers={"Authorization": "Bearer sim-viewer"}, timeout=1)
                    if reply.status_code == 200 and reply.json()["status"] == "ok":
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() - started > 60:
                    raise RuntimeError("station did not become ready")
                time.sleep(0.02)
            ready_s = time.monotonic() - started
            time.sleep(2)
            rss = rss_kib(proc.pid)
            rss_children = sum(rss_kib(c) for c in children(proc.pid))
            cpu0 = cpu_seconds(proc.pid)
            time.sleep(idle_s)
            idle_cpu = (cpu_seconds(proc.pid) - cpu0) / idle_s
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    return ready_s, rss, rss_children, idle_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle-s", type=float, default=60.0)
    args = parser.parse_args()
    results = []
    for n in range(args.runs):
        print(f"run {n + 1}/{args.runs} …", flush=True)
        results.append(one_run(args.idle_s))
    ready = [r[0] for r in results]
    print(f"start-up to ready (health ok): median {statistics.median(ready):.2f} s, "
          f"max {max(ready):.2f} s over {len(ready)} runs")
    rss = statistics.median(r[1] for r in results) / 1024
    sims = statistics.median(r[2] for r in results) / 1024
    print(f"daemon RSS after start: median {rss:.1f} MiB (+ simulators {sims:.1f} MiB)")
    print(f"idle CPU over {args.idle_s:.0f} s: median "
          f"{100 * statistics.median(r[3] for r in results):.2f} % of one core")


if __name__ == "__main__":
    main()
