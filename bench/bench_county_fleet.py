"""A county of fifty stations on this machine: what it costs and how fast the county learns.

Run: ``python bench/bench_county_fleet.py [--stations 50] [--idle-s 60] [--time-scale 1]``
(about ten minutes: start-up, a settling and an idle minute, and the 3-minute ``for:``).
It starts a fleet (county/fleet.py: ``station-edge run --sim`` processes with their
simulators, Prometheus scraping every 15 s with the shipped rules and their real ``for:``
durations, Alertmanager with the shipped routes) and prints:

* start-up time of the whole fleet;
* resident memory and CPU while idle, of the stations, their simulators, Prometheus and
  Alertmanager;
* Prometheus's scrape duration per station (p50 / p99 over the idle period);
* ``station-county status`` over every station;
* one station killed: seconds until ``StationDown`` is firing in Alertmanager, and until
  the county's webhook has it (measured while the next items run);
* ``station-county cap push`` to every station, and its results;
* ``station-county spot-check --all``, answered at every live station by a simulated duty
  officer 1–5 s after the prompt: its wall time and results.

Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.latency import summary  # noqa: E402
from county.fleet import OPERATOR, VIEWER, Fleet, FleetSettings, plan  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
BEIJING = timezone(timedelta(hours=8))


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def roles(fleet: Fleet) -> dict[str, list[int]]:
    """The fleet's processes by what they are."""
    out: dict[str, list[int]] = {"stations": [], "simulators": [], "prometheus": [],
                                 "alertmanager": []}
    station_pids = {p.pid for k, p in fleet.processes.items() if k in fleet.stations}
    for pid in fleet.pids():
        if pid in station_pids:
            out["stations"].append(pid)
        elif pid == fleet.processes["prometheus"].pid:
            out["prometheus"].append(pid)
        elif pid == fleet.processes["alertmanager"].pid:
            out["alertmanager"].append(pid)
        else:
            out["simulators"].append(pid)
    return out


def county(fleet: Fleet, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    """``station-county`` with its defaults (16 requests in flight, 10 s timeout)."""
    program = Path(sys.executable).with_name("station-county")
    started = time.monotonic()
    result = subprocess.run([str(program), "--stations", str(fleet.workdir / "stations.toml"),
                             *args], capture_output=True, text=True)
    return time.monotonic() - started, result


def report(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def results(rows: list[dict[str, str]]) -> dict[str, int]:
    """How many stations per result, and (for the ones that failed) why."""
    counts: dict[str, int] = {}
    for row in rows:
        key = row["result"]
        if key in ("unreachable", "unknown"):
            key += f" ({(row.get('detail') or row.get('reason') or '')[:60]})"
        counts[key] = counts.get(key, 0) + 1
    return counts


def cap_alert(path: Path) -> None:
    now = datetime.now(BEIJING).replace(microsecond=0)
    text = (REPO / "tests" / "cap_examples" / "cn_rainstorm_red.xml").read_text()
    for old, new in (("42112741600000_20250715080500_0", f"42112741600000_{now:%Y%m%d%H%M%S}_0"),
                     ("2025-07-15T08:05:00+08:00", now.isoformat()),
                     ("2025-07-15T20:00:00+08:00", (now + timedelta(days=1)).isoformat())):
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")


class DutyOfficers:
    """At every live station, someone answers a spot check 1–5 s after noticing it (they
    look every 2 s, like a panel's prompt noticed across the duty room)."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = urls
        self.thread = threading.Thread(target=lambda: asyncio.run(self._all()), name="duty")
        self.thread.start()

    async def _all(self) -> None:
        async with httpx.AsyncClient(trust_env=False, timeout=30) as http:
            await asyncio.gather(*(self._one(http, url) for url in self.urls))

    async def _one(self, http: httpx.AsyncClient, url: str) -> None:
        while not await self._waiting(http, url):  # noqa: ASYNC110 (polls another process)
            await asyncio.sleep(2.0)
        await asyncio.sleep(random.uniform(1, 5))
        while True:
            try:
                await http.post(f"{url}/api/v1/checkins/answer", headers=Fleet.auth(OPERATOR))
                return
            except httpx.HTTPError as exc:
                print(f"duty officer at {url}: {exc!r}; pressing again", file=sys.stderr)

    @staticmethod
    async def _waiting(http: httpx.AsyncClient, url: str) -> bool:
        try:
            reply = await http.get(f"{url}/api/v1/checkins", headers=Fleet.auth(VIEWER))
        except httpx.HTTPError:
            return False
        return any(c["state"] == "waiting" for c in reply.json()["checkins"])

    def join(self) -> None:
        self.thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=50)
    parser.add_argument("--settle-s", type=float, default=30.0,
                        help="wait this long after start-up before measuring idle")
    parser.add_argument("--idle-s", type=float, default=60.0)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--scrape-interval", default="15s")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="county-fleet-") as tmp:
        workdir = args.workdir or Path(tmp)
        stations = plan(args.stations, workdir)
        fleet = Fleet(workdir, stations, FleetSettings(
            time_scale=args.time_scale, scrape_interval=args.scrape_interval,
            evaluation_interval=args.scrape_interval, start_at_once=10, ready_timeout_s=300))
        started = time.monotonic()
        print(f"load average before (the machine is shared): {os.getloadavg()}", flush=True)
        with fleet:
            print(f"{len(stations)} stations, Prometheus and Alertmanager ready in "
                  f"{time.monotonic() - started:.1f} s", flush=True)
            measure(fleet, args)
            print(f"load average at the end: {os.getloadavg()}")


def measure(fleet: Fleet, args: argparse.Namespace) -> None:
    time.sleep(args.settle_s)  # the last stations prepare their speech after being ready
    procs = roles(fleet)
    cpu0 = {role: sum(cpu_s(p) for p in pids) for role, pids in procs.items()}
    time.sleep(args.idle_s)
    rss = {role: sum(rss_kib(p) for p in pids) / 1024 for role, pids in procs.items()}
    cpu = {role: 100 * (sum(cpu_s(p) for p in pids) - cpu0[role]) / args.idle_s
           for role, pids in procs.items()}
    n = len(fleet.stations)
    print(f"memory (RSS): total {sum(rss.values()):.0f} MiB = stations {rss['stations']:.0f} "
          f"({rss['stations'] / n:.1f} each) + simulators {rss['simulators']:.0f} "
          f"+ Prometheus {rss['prometheus']:.0f} + Alertmanager {rss['alertmanager']:.0f}")
    print(f"CPU while idle over {args.idle_s:.0f} s (% of one core): total "
          f"{sum(cpu.values()):.1f} = stations {cpu['stations']:.1f} + simulators "
          f"{cpu['simulators']:.1f} + Prometheus {cpu['prometheus']:.1f} + Alertmanager "
          f"{cpu['alertmanager']:.1f}")
    samples = [float(v) for series in fleet.query(
        f'scrape_duration_seconds{{job="station-edge"}}[{int(args.idle_s)}s]')
        for _, v in series["values"]]
    slow = sum(1 for v in samples if v > 1.0)
    print(f"scrape duration per station while idle: {summary(samples)}; over 1 s: {slow}")
    wall, result = county(fleet, "status")
    print(f"station-county status, {n} stations: {wall:.2f} s (exit {result.returncode})")

    victim = list(fleet.stations)[-1]
    killed = time.monotonic()
    fleet.kill(victim)

    alert_file = fleet.workdir / "bench-alert.xml"
    cap_alert(alert_file)
    wall, result = county(fleet, "cap", "push", str(alert_file), "--csv",
                          str(fleet.workdir / "cap.csv"))
    print(f"station-county cap push to {n} stations: {wall:.2f} s, "
          f"{results(report(fleet.workdir / 'cap.csv'))}")

    live = [s.url for s in fleet.stations.values() if s.id != victim]
    officers = DutyOfficers(live)
    wall, result = county(fleet, "spot-check", "--all", "--csv", str(fleet.workdir / "spot.csv"))
    officers.join()
    rows = report(fleet.workdir / "spot.csv")
    answered = [float(r["response_s"]) for r in rows if r["response_s"]]
    print(f"station-county spot-check --all, {n} stations, answered 1-5 s after the prompt: "
          f"{wall:.2f} s, {results(rows)}; response as the stations measured it: "
          f"median {statistics.median(answered):.1f} s, max {max(answered):.1f} s")

    fleet.wait_for_alert("StationDown", 900, station=victim)
    print(f"station {victim} killed -> StationDown firing in Alertmanager: "
          f"{time.monotonic() - killed:.1f} s (scrape every {args.scrape_interval}, for: 3m)")
    while not any(a["labels"].get("station") == victim for note in fleet.notifications
                  for a in note["alerts"]):
        time.sleep(0.5)
    print(f"  … and at the county's webhook: {time.monotonic() - killed:.1f} s")


if __name__ == "__main__":
    main()
