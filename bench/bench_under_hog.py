"""The time-critical paths with both cores saturated by a CPU hog, beside an idle machine.

Run: ``python bench/bench_under_hog.py [--presses 50] [--requests 50] [--trials 5]
[--broadcast-s 20] [--nice -5]``. Needs ``stress-ng`` (scripts/bootstrap.sh installs it).

Each measurement runs three times: on a quiet machine, with ``stress-ng --cpu N`` (N =
the machine's cores, normal priority) started and stopped around it, and with the hog
again while this process runs at ``--nice`` (what ``Nice=`` in systemd/station-edge.service
gives the daemon; a negative value needs root). The measurements are those of
``bench_evacuation_latency.py`` and ``bench_rain_alarm.py`` (stations in this process, real
clock, mock GPIO; audio through PortAudio on ALSA's ``null`` device):

* EVACUATE edge → amplifier power relay ON (the deliberate hold excluded);
* request → first audio frame handed to PortAudio;
* audio underruns during a ``--broadcast-s`` siren broadcast (the 60 s of issue 14 with
  ``--broadcast-s 60``). ALSA's ``null`` device takes audio unpaced, so the callback
  drains the queue faster than real time and counts starvations whatever the load: the
  figure means something only on a paced device (``--machine-alsa``: the machine's own
  ALSA configuration and default device, e.g. a USB sound card on a Pi);
* rain threshold crossing in the gauge simulator → siren relay ON.

Prints p50/p99/max per condition and the ratios hog/quiet of p50 and p99. Figures only.
The first press and request of a run include warming up (a cold library, first
allocations); with few samples p99 is the maximum, so read p50 beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from statistics import median

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.bench_evacuation_latency import (  # noqa: E402
    ALSA_NULL,
    button_to_relay,
    config_text,
    request_to_first_frame,
)
from bench.bench_rain_alarm import measure as threshold_to_siren  # noqa: E402
from bench.latency import p99, summary  # noqa: E402


def ratio(statistic: Callable[[list[float]], float], a: list[float], b: list[float]) -> str:
    return f"{statistic(a) / max(statistic(b), 1e-9):.2f}"


def described(samples: list[float]) -> str:
    """The summary, and which sample was the slowest (the first: a cold start)."""
    slowest = max(range(len(samples)), key=samples.__getitem__)
    return f"{summary(samples)}, slowest #{slowest + 1}"


@contextmanager
def cpu_hog(cores: int) -> Iterator[None]:
    """``stress-ng`` spinning every core at normal priority, stopped on the way out."""
    exe = shutil.which("stress-ng")
    if exe is None:
        raise SystemExit("stress-ng is not installed (scripts/bootstrap.sh installs it)")
    hog = subprocess.Popen([exe, "--cpu", str(cores), "--quiet"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)  # its workers are spinning
        yield
    finally:
        hog.terminate()
        hog.wait(timeout=30)


@contextmanager
def niceness(value: int) -> Iterator[None]:
    before = os.getpriority(os.PRIO_PROCESS, 0)
    os.setpriority(os.PRIO_PROCESS, 0, value)
    try:
        yield
    finally:
        os.setpriority(os.PRIO_PROCESS, 0, before)


async def underruns_during(seconds: float) -> list[float]:
    """Underruns counted by the audio output while a siren plays for ``seconds``."""
    from broadcast.priority import Priority
    from broadcast.program import Program, SirenContent
    from drivers.clock import SystemClock
    from edge.config import parse
    from edge.station import Station

    with tempfile.TemporaryDirectory() as tmp:
        station = Station(parse(config_text(Path(tmp), "sounddevice")), SystemClock())
        await station.start()
        bc = station.parts.broadcasting
        assert bc is not None, "the configuration has an amplifier"
        try:
            before = bc.output.underruns
            broadcast = await bc.service.submit(
                Program(SirenContent("continuous"), chime=False), zones=["all"],
                priority=Priority.EVACUATION, type="drill", source="api", actor="bench")
            await asyncio.sleep(seconds)
            counted = bc.output.underruns - before
            await bc.service.cancel(broadcast.id, actor="bench")
        finally:
            station.request_stop("bench over")
            await station.stop()
    return [float(counted)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=50)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--trials", type=int, default=5, help="threshold crossings")
    parser.add_argument("--broadcast-s", type=float, default=20.0)
    parser.add_argument("--nice", type=int, default=-5, help="the unit's Nice= (root: < 0)")
    parser.add_argument("--machine-alsa", action="store_true",
                        help="play on the machine's default ALSA device, not ALSA null")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    measurements: list[tuple[str, Callable[[], list[float]], bool]] = [
        ("EVACUATE edge → power relay ON", lambda: asyncio.run(button_to_relay(args.presses)),
         True),
        ("request → first audio frame", lambda: asyncio.run(request_to_first_frame(
            args.requests)), True),
        (f"underruns in a {args.broadcast_s:g} s broadcast",
         lambda: asyncio.run(underruns_during(args.broadcast_s)), False),
        ("threshold → siren relay ON", lambda: asyncio.run(threshold_to_siren(args.trials, 1.0)),
         True),
    ]
    with tempfile.TemporaryDirectory() as alsa:
        conf = Path(alsa) / "asoundrc"
        conf.write_text(ALSA_NULL)
        if not args.machine_alsa:
            os.environ["ALSA_CONFIG_PATH"] = str(conf)  # before PortAudio initialises
        print(f"CPU hog: stress-ng --cpu {cores} at nice 0; station at nice 0, then "
              f"{args.nice}", flush=True)
        for name, run, is_latency in measurements:
            quiet = run()
            with cpu_hog(cores):
                hogged = run()
                with niceness(args.nice):
                    favoured = run()
            if is_latency:
                print(f"{name}:\n  quiet          {described(quiet)}\n"
                      f"  hog            {described(hogged)}\n"
                      f"  hog, nice {args.nice:<4} {described(favoured)}\n"
                      f"  ratio hog/quiet p50 {ratio(median, hogged, quiet)}, p99 "
                      f"{ratio(p99, hogged, quiet)}; hog at nice {args.nice}/quiet p50 "
                      f"{ratio(median, favoured, quiet)}, p99 {ratio(p99, favoured, quiet)}",
                      flush=True)
            else:
                sink = "default device" if args.machine_alsa else "ALSA null, unpaced"
                print(f"{name} ({sink}): quiet {quiet[0]:.0f}, hog {hogged[0]:.0f}, "
                      f"hog at nice {args.nice} {favoured[0]:.0f}", flush=True)


if __name__ == "__main__":
    main()
