"""Memory and idle CPU of a quiet station, beside the same station at an earlier commit.

Run: ``python bench/bench_idle.py [--minutes 1] [--sample-every M] [--base COMMIT]``.

Two stations, each measured at this tree and at ``--base`` (default: the commit before
issue 14's idle-CPU and memory work), all four daemons at the same time, so all see the
same load on a shared machine (idle daemons are light):

* minimal: three Modbus gauges at 1 s polls on the gauge simulator (``hw-sim``), one
  siren relay, one threshold, mock GPIO, no amplifier, satellite phone or CAP;
* full: ``station-edge run --sim`` (its simulators are child processes, not counted).
  Its data directory has seen one start before the measured one (started until ready,
  then stopped): a station runs with its speech made, and making it on a first start
  decodes audio (numpy, about 18 MiB, for the life of that process).

The base commit is checked out with ``git worktree add`` into a temporary directory and
run with this virtualenv (its ``edge`` package is imported from the checkout). Each
daemon is started as the systemd unit starts it: with the unit's ``Environment=``
(``systemd/station-edge.service``, e.g. ``MALLOC_ARENA_MAX``), the base's with its own
unit's. Prints the daemon's RSS every ``--sample-every`` minutes (a timeline: "flat
over an hour" in one run), after start and after ``--minutes``, its CPU over the run
(% of one core), and the ratios this/base. Figures only.

``--profile``: py-spy (the dev extra; needs ptrace rights, e.g. root) samples a third
minimal station of this tree over the run (sampling costs the sampled process CPU, so it
is not one of the two measured), and prints the shares of the event loop's busy samples
by what ran (the task or callback under ``Handle._run``, or the loop's own overhead).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.bench_startup import cpu_seconds, free_port, rss_kib  # noqa: E402

#: The commit that issue 14's idle-CPU and memory work (branch light) was built on.
BEFORE = "a6adb22"
SETTLE_S = 5.0

MINIMAL = """
[station]
id = "SG-MIN"
name = "最小站"
data_dir = "{data_dir}"
[sim]
time_scale = 1.0
[api]
listen = "127.0.0.1:{port}"
[gpio]
backend = "mock"
[[sirens]]
id = "siren-1"
relay = 16
[[rain_thresholds]]
gauge = "*"
window = "1h"
prepare_mm = 30.0
evacuate_mm = 50.0
[modbus.buses.rs485]
port = "{gauge_port}"
baudrate = 9600
poll_interval_s = 1.0
""" + "".join(f"""
[[rain_gauges]]
id = "rg-{n}"
kind = "modbus"
bus = "rs485"
unit = {n}
scale_mm = 0.1
""" for n in (1, 2, 3))


@dataclass
class Figures:
    rss_kib: list[int]  # at start, then every sample
    cpu_share: float


def unit_environment(tree: Path) -> dict[str, str]:
    """The ``Environment=`` settings of ``tree``'s systemd unit: the daemon is measured
    as systemd starts it."""
    unit = tree / "systemd" / "station-edge.service"
    env: dict[str, str] = {}
    for line in unit.read_text().splitlines() if unit.exists() else []:
        if line.startswith("Environment="):
            for pair in shlex.split(line.removeprefix("Environment=")):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


class Run:
    """One daemon started from ``tree``, measured from ready to stop."""

    def __init__(self, tree: Path, argv: list[str], stack: ExitStack | None) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "edge.cli", *argv], cwd=tree,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, env={**os.environ, **unit_environment(tree)})
        if stack is not None:
            stack.callback(self.stop)
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if " ready: " in line:
                break
        else:
            raise RuntimeError(f"station in {tree} did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)


def speech_made(port: int, timeout_s: float = 180.0) -> None:
    """Wait until the simulated station at ``port`` says its messages are ready."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/health",
                                     headers={"Authorization": "Bearer sim-viewer"})
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with urllib.request.urlopen(request, timeout=10) as answer:
            devices = json.load(answer)["devices"]
        if any(d["id"] == "messages" and d["status"] != "unknown" for d in devices):
            return
        time.sleep(0.5)
    raise RuntimeError("the simulated station's messages were not prepared")


def gauge_simulator(stack: ExitStack) -> str:
    sim = subprocess.Popen(
        [sys.executable, str(REPO / "hw-sim" / "modbus_gauge_sim.py"), "--listen",
         "socket://127.0.0.1:0", "--stdin", "ignore", "--unit", "1", "--unit", "2",
         "--unit", "3"], stdout=subprocess.PIPE, text=True)
    stack.callback(sim.wait, timeout=30)
    stack.callback(sim.terminate)
    assert sim.stdout is not None
    return sim.stdout.readline().split()[1]


def start(kind: str, tree: Path, tmp: Path, stack: ExitStack, n: int) -> Run:
    data_dir = tmp / f"{kind}-{n}"
    port = free_port()
    if kind == "full":
        argv = ["run", "--sim", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data_dir)]
        first = Run(tree, argv, None)  # its first start makes its speech (see above)
        try:
            speech_made(port)
        finally:
            first.stop()
        return Run(tree, argv, stack)
    config = tmp / f"{kind}-{n}.toml"
    config.write_text(MINIMAL.format(data_dir=data_dir, port=port,
                                     gauge_port=gauge_simulator(stack)))
    return Run(tree, ["run", "--config", str(config)], stack)


def loop_shares(raw: Path) -> list[tuple[str, float]]:
    """py-spy's raw stacks of the event loop's thread, by what the loop was running."""
    busy: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [frame.split(" (")[0] for frame in stack.split(";")]
        if "Handle._run" in frames:
            busy[frames[frames.index("Handle._run") + 1] if frames[-1] != "Handle._run"
                 else "Handle._run"] += int(count)
        elif "BaseEventLoop._run_once" in frames and "EpollSelector.select" not in frames:
            busy["(the loop: timers, ready queue)"] += int(count)
    total = sum(busy.values()) or 1
    return [(what, n / total) for what, n in busy.most_common(8)]


def sample_times(minutes: float, every: float | None) -> list[float]:
    """Minutes after start at which RSS is read: every ``every`` minutes, and the end."""
    times = [0.0]
    while every and times[-1] + every < minutes - 1e-9:
        times.append(times[-1] + every)
    return [*times, minutes] if minutes > 0 else times


def measure(stations: list[tuple[str, Path]], tmp: Path, minutes: float,
            sample_every: float | None, profile: bool = False) -> list[Figures]:
    """Every station at once: RSS at each sample time, CPU over the whole run."""
    with ExitStack() as stack:
        profiled = stations[:1] if profile else []  # one more: sampling costs its CPU
        runs = [start(kind, tree, tmp, stack, n)
                for n, (kind, tree) in enumerate(stations + profiled)]
        time.sleep(SETTLE_S)
        pids = [run.proc.pid for run in runs[:len(stations)]]
        rss: list[list[int]] = [[] for _ in pids]
        cpu0 = [cpu_seconds(pid) for pid in pids]
        t0 = time.monotonic()
        raw = tmp / "minimal.pyspy"
        spy = subprocess.Popen(
            [str(Path(sys.executable).parent / "py-spy"), "record", "--pid",
             str(runs[-1].proc.pid),
             "--duration", str(int(60 * minutes)), "--rate", "200", "--format", "raw",
             "-o", str(raw)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ) if profile else None
        print(f"{'RSS, MiB':>10} " + " ".join(f"{kind + ' ' + label:>14}" for kind, label in
                                             (("min", "this"), ("min", "base"),
                                              ("full", "this"), ("full", "base"))
                                             [:len(stations)]), flush=True)
        for at in sample_times(minutes, sample_every):
            time.sleep(max(0.0, t0 + 60 * at - time.monotonic()))
            for i, pid in enumerate(pids):
                rss[i].append(rss_kib(pid))
            print(f"{at:7.1f} min " + " ".join(f"{r[-1] / 1024:14.1f}" for r in rss),
                  flush=True)
        elapsed = time.monotonic() - t0
        if spy is not None:
            spy.wait(timeout=60)
            print("profile of this tree's minimal station (event loop's busy samples):")
            for what, share in loop_shares(raw):
                print(f"  {100 * share:5.1f} %  {what}")
        return [Figures(rss[i], (cpu_seconds(pid) - cpu0[i]) / elapsed)
                for i, pid in enumerate(pids)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--sample-every", type=float, default=None, metavar="MINUTES",
                        help="print every daemon's RSS this often (default: start and end)")
    parser.add_argument("--base", default=BEFORE)
    parser.add_argument("--profile", action="store_true", help="py-spy the minimal station")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        base = tmp / "base"
        subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(base), args.base],
                       cwd=REPO, check=True)
        try:
            print(f"this tree: {unit_environment(REPO) or 'no unit environment'}; "
                  f"{args.base}: {unit_environment(base) or 'no unit environment'}")
            stations = [("minimal", REPO), ("minimal", base), ("full", REPO), ("full", base)]
            figures = measure(stations, tmp, args.minutes, args.sample_every, args.profile)
            for kind, (this, before) in (("minimal", figures[:2]), ("full", figures[2:])):
                print(f"{kind} station ({args.minutes:g} min idle; this tree vs {args.base}):")
                for label, a, b in (
                    ("RSS after start", this.rss_kib[0], before.rss_kib[0]),
                    (f"RSS after {args.minutes:g} min", this.rss_kib[-1], before.rss_kib[-1]),
                    ("RSS growth", this.rss_kib[-1] - this.rss_kib[0],
                     before.rss_kib[-1] - before.rss_kib[0]),
                ):
                    ratio = f", ratio {a / b:.2f}" if label != "RSS growth" else ""
                    print(f"  {label:22} {a / 1024:6.1f} MiB vs {b / 1024:6.1f} MiB{ratio}")
                print(f"  {'idle CPU':22} {100 * this.cpu_share:6.3f} %  vs "
                      f"{100 * before.cpu_share:6.3f} %  of one core, ratio "
                      f"{this.cpu_share / max(before.cpu_share, 1e-9):.2f}", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=REPO,
                           check=False)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
