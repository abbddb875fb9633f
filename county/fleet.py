"""A county on one machine: N simulated stations, a real Prometheus with the shipped rules,
and Alertmanager — for the tests, the benchmark and a demonstration.

Run ``python -m county.fleet --stations 5`` (from a source checkout: the stations are
``station-edge run --sim``, whose simulators live in ``hw-sim/``); it prints where
everything listens and the ``station-county`` command to use, and stops all of it on
Ctrl-C. Everything binds 127.0.0.1.

Each station has its own id (``SIM-001`` …), port, data directory and CAP area: three
in five are townships of county 421127, the others of its neighbour 421128. Every
``rain_every``-th station has rain falling on its first gauge and every
``fault_every``-th a silent second gauge (through the gauge simulator's control port).
Prometheus scrapes them all with the rules of ``docs/county/rules.yml`` (their ``for:``
durations optionally shortened, for a test that cannot wait minutes), and sends alerts
to Alertmanager configured by ``docs/county/alertmanager.yml``, whose webhook
notifications arrive at a small receiver here (:attr:`Fleet.notifications`).

Like the county tool, the fleet imports nothing of the station's code: it starts the
``station-edge`` program and talks to it over HTTP.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "docs" / "county"
VIEWER, OPERATOR = "sim-viewer", "sim-operator"
COUNTY, NEIGHBOUR = "421127", "421128"
PR_SET_PDEATHSIG = 1


#: Starts of a station whose planned port another program took first.
PORT_ATTEMPTS = 3


class PortTaken(Exception):
    """A process exited because another program held its port."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """A fleet left behind by a killed test run would hold ports and memory."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass(frozen=True)
class FleetStation:
    id: str
    name: str
    area: str
    port: int
    data_dir: Path
    rain: str | None = None   # gauge simulator profile for unit 1, e.g. "constant:40"
    fault: str | None = None  # gauge simulator fault for unit 2, e.g. "silence"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def plan(count: int, workdir: Path, *, rain_every: int = 4, fault_every: int = 7,
         rain: str = "constant:20") -> list[FleetStation]:
    """``count`` stations: ids, ports, data directories, areas, rain and faults."""
    home = max(1, round(count * 0.6))
    out = []
    for n in range(1, count + 1):
        county, township = (COUNTY, 100 + n) if n <= home else (NEIGHBOUR, 100 + n - home)
        out.append(FleetStation(
            id=f"SIM-{n:03d}", name=f"模拟应急站{n:03d}", area=f"{county}{township:03d}",
            port=free_port(), data_dir=workdir / f"station-{n:03d}",
            rain=rain if rain_every and n % rain_every == 0 else None,
            fault="silence" if fault_every and n % fault_every == 0 else None))
    return out


class WebhookReceiver:
    """Where Alertmanager's notifications arrive: kept in order, for a test to read."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append({"path": self.path, **json.loads(body or b"{}")})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="fleet-webhook",
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@dataclass(frozen=True)
class FleetSettings:
    """How the fleet runs: its stations' time scale, Prometheus's pace, the rules' ``for:``."""

    time_scale: float = 1.0
    scrape_interval: str = "15s"
    evaluation_interval: str = "15s"
    alert_for: str | None = None  # every rule's ``for:`` replaced by this (tests, demos)
    start_at_once: int = 8  # stations started together (start-up is CPU-bound)
    ready_timeout_s: float = 120.0


class Fleet:
    """Start with :meth:`start` (or ``with Fleet(...) as fleet``), stop with :meth:`stop`."""

    def __init__(self, workdir: Path, stations: list[FleetStation],
                 settings: FleetSettings | None = None) -> None:
        self.workdir = workdir
        self.stations = {s.id: s for s in stations}
        self.settings = settings or FleetSettings()
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: list[Any] = []
        # no kept-alive sockets: a test that asks the fleet something leaves nothing open
        self.http = httpx.Client(trust_env=False, timeout=10,
                                 limits=httpx.Limits(max_keepalive_connections=0))
        self.prometheus_url = ""
        self.alertmanager_url = ""
        self.webhook: WebhookReceiver | None = None

    def __enter__(self) -> Fleet:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- starting ----------------------------------------------------------------------

    def start(self) -> None:
        """Alertmanager and Prometheus start while the stations do (Prometheus takes its
        first targets only after a few seconds); the rules are loaded once every station
        has been scraped, so none is reported down for still starting."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.write_station_list()
        self.webhook = WebhookReceiver()
        self._start_alertmanager()
        self._start_prometheus()
        pending = list(self.stations.values())
        while pending:
            at_once = self.settings.start_at_once
            batch, pending = pending[:at_once], pending[at_once:]
            for station in batch:
                self._spawn_station(station)
            for station in batch:
                self._await_ready(station)
        for station in self.stations.values():
            if station.rain:
                self.gauge(station.id, f"profile 1 {station.rain}")
            if station.fault:
                self.gauge(station.id, f"fault 2 {station.fault}")
        self._await_http(f"{self.alertmanager_url}/-/ready", "alertmanager")
        self._await_http(f"{self.prometheus_url}/-/ready", "prometheus")
        self.wait_for_scrapes()
        self._load_rules()

    def _program(self, name: str) -> list[str]:
        if name == "station-edge":
            beside = Path(sys.executable).with_name("station-edge")
            return [str(beside)] if beside.exists() else [sys.executable, "-m", "edge.cli"]
        found = shutil.which(name)
        if found is None:
            raise FileNotFoundError(f"{name} is not installed (see scripts/bootstrap.sh)")
        return [found]

    def _spawn(self, key: str, args: list[str]) -> None:
        log = open(self.workdir / f"{key}.log", "wb")  # closed in stop()
        self.logs.append(log)
        self.processes[key] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                               cwd=REPO, preexec_fn=_die_with_parent)

    def _spawn_station(self, s: FleetStation) -> None:
        self._spawn(s.id, [*self._program("station-edge"), "run", "--sim",
                           "--listen", f"127.0.0.1:{s.port}", "--data-dir", str(s.data_dir),
                           "--time-scale", str(self.settings.time_scale), "--station-id", s.id,
                           "--station-name", s.name, "--area-code", s.area])

    def _await_ready(self, s: FleetStation) -> None:
        """Until the station answers as itself. A port found free when the fleet was
        planned may be taken by another program before the station binds it: the station
        then exits saying so (and whatever holds the port may answer in its place), and
        is started again on another port, the station list and Prometheus's targets with
        it."""
        for _ in range(PORT_ATTEMPTS - 1):
            try:
                self._await_http(f"{s.url}/api/v1/health", s.id, self.settings.ready_timeout_s,
                                 headers=self.auth(), answers_as=s.id)
                return
            except PortTaken:
                self.processes.pop(s.id).wait()
                s = self.stations[s.id] = replace(s, port=free_port())
                self.write_station_list()
                self._write_targets()
                self._spawn_station(s)
        self._await_http(f"{s.url}/api/v1/health", s.id, self.settings.ready_timeout_s,
                         headers=self.auth(), answers_as=s.id)

    def write_station_list(self) -> Path:
        """The county's station list for ``station-county`` (the simulator tokens)."""
        path = self.workdir / "stations.toml"
        lines = ['[county]\nname = "模拟县"\ncode = "421127"\n\n[defaults]\n'
                 f'token = "{VIEWER}"\noperator_token = "{OPERATOR}"\n']
        for s in self.stations.values():
            lines.append(f'\n[[stations]]\nid = "{s.id}"\nname = "{s.name}"\nurl = "{s.url}"\n'
                         f'area = "{s.area}"\n')
        path.write_text("".join(lines), encoding="utf-8")
        return path

    def _start_alertmanager(self) -> None:
        assert self.webhook is not None
        config = (SHIPPED / "alertmanager.yml").read_text(encoding="utf-8")
        config = re.sub(r"http://127\.0\.0\.1:9099", self.webhook.url, config)
        path = self.workdir / "alertmanager.yml"
        path.write_text(config, encoding="utf-8")
        self.alertmanager_url = self._spawn_server(
            "alertmanager", "prometheus-alertmanager", path, "--storage.path",
            "--cluster.listen-address=")  # no gossip port: one Alertmanager, 127.0.0.1 only

    def _spawn_server(self, key: str, program: str, config: Path, data_flag: str,
                      *extra: str) -> str:
        """Prometheus or Alertmanager on a free port of 127.0.0.1; its base URL."""
        port = free_port()
        self._spawn(key, [*self._program(program), f"--config.file={config}",
                          f"{data_flag}={self.workdir / (key + '-data')}",
                          f"--web.listen-address=127.0.0.1:{port}", *extra, "--log.level=warn"])
        return f"http://127.0.0.1:{port}"

    def rules_text(self) -> str:
        """The shipped rules, their ``for:`` shortened when the fleet was told to."""
        rules = (SHIPPED / "rules.yml").read_text(encoding="utf-8")
        shortened = self.settings.alert_for
        if shortened is not None:
            rules = re.sub(r"^(\s+for:\s*)\S+", rf"\g<1>{shortened}", rules, flags=re.M)
        return rules

    def _prometheus_config(self, rule_files: list[str]) -> Path:
        am = self.alertmanager_url.removeprefix("http://")
        config = {
            "global": {"scrape_interval": self.settings.scrape_interval,
                       "evaluation_interval": self.settings.evaluation_interval},
            "rule_files": rule_files,
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [am]}]}]},
            "scrape_configs": [{
                "job_name": "station-edge", "metrics_path": "/metrics",
                "scrape_timeout": self.settings.scrape_interval,
                "authorization": {"type": "Bearer", "credentials": VIEWER},
                "file_sd_configs": [{"files": ["targets.json"]}]}],
        }
        path = self.workdir / "prometheus.yml"
        path.write_text(json.dumps(config, indent=1), encoding="utf-8")  # JSON is YAML
        return path

    def _write_targets(self) -> None:
        """Prometheus's file of stations to scrape (it reads it again when it changes)."""
        targets = [{"targets": [f"127.0.0.1:{s.port}"], "labels": {"station": s.id,
                                                                   "area": s.area}}
                   for s in self.stations.values()]
        (self.workdir / "targets.json").write_text(json.dumps(targets), encoding="utf-8")

    def _start_prometheus(self) -> None:
        self._write_targets()
        path = self._prometheus_config(rule_files=[])
        # Alerts are sent again every evaluation, not after Prometheus's default minute:
        # the rules' reload restarts the search for Alertmanager, and a first send made
        # before it is found again is dropped (seen: alerts firing at 10 s, received at 70 s)
        self.prometheus_url = self._spawn_server(
            "prometheus", "prometheus", path, "--storage.tsdb.path", "--web.enable-lifecycle",
            f"--rules.alert.resend-delay={self.settings.evaluation_interval}")

    def _load_rules(self) -> None:
        (self.workdir / "rules.yml").write_text(self.rules_text(), encoding="utf-8")
        self._prometheus_config(rule_files=["rules.yml"])
        self.http.post(f"{self.prometheus_url}/-/reload").raise_for_status()
        groups = self.http.get(f"{self.prometheus_url}/api/v1/rules").json()["data"]["groups"]
        if not groups:
            raise RuntimeError("Prometheus did not load the rules")

    def _await_http(self, url: str, key: str, timeout_s: float = 60.0,
                    headers: dict[str, str] | None = None, answers_as: str | None = None
                    ) -> None:
        """Until ``url`` answers 200 (with ``answers_as``: a health whose station is that,
        not another program's answer on a port it took); the process's log in the error if
        it never does, :class:`PortTaken` if it exited because its port was taken."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.processes[key].poll() is None:
            try:
                reply = self.http.get(url, headers=headers, timeout=2)
                if reply.status_code == 200 and (
                        answers_as is None or reply.json()["station"]["id"] == answers_as):
                    return
            except (httpx.HTTPError, ValueError, KeyError, TypeError):
                pass
            time.sleep(0.1)
        log = (self.workdir / f"{key}.log").read_text(errors="replace")[-2000:]
        if self.processes[key].poll() is not None and "Address already in use" in log:
            raise PortTaken(f"{key}: {url}")
        raise RuntimeError(f"{key} did not become ready:\n{log}")

    # -- acting on it ------------------------------------------------------------------

    @staticmethod
    def auth(token: str = VIEWER) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def gauge(self, station_id: str, command: str) -> str:
        """One command to the station's gauge simulator (hw-sim/README.md); its reply."""
        devices = json.loads((self.stations[station_id].data_dir / "sim-devices.json")
                             .read_text(encoding="utf-8"))
        host, _, port = devices["gauge_control"].rpartition(":")
        with socket.create_connection((host, int(port)), timeout=5) as conn:
            conn.sendall(command.encode() + b"\n")
            reply = conn.makefile().readline().strip()
        if not reply.startswith("OK"):
            raise RuntimeError(f"gauge simulator of {station_id}: {command!r} -> {reply}")
        return reply

    def kill(self, station_id: str) -> None:
        """``kill -9`` the station (its simulators die with it)."""
        process = self.processes[station_id]
        process.kill()
        process.wait()

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant PromQL query; its result vector."""
        reply = self.http.get(f"{self.prometheus_url}/api/v1/query", params={"query": expr})
        body = reply.json()
        if body.get("status") != "success":
            raise RuntimeError(f"query {expr!r} failed: {body}")
        return list(body["data"]["result"])

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert Alertmanager holds (active, suppressed or not)."""
        return list(self.http.get(f"{self.alertmanager_url}/api/v2/alerts").json())

    def wait_for_alert(self, alertname: str, timeout_s: float, **labels: str) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            for alert in self.alerts():
                got = alert["labels"]
                if got.get("alertname") == alertname and all(got.get(k) == v
                                                             for k, v in labels.items()):
                    return alert
            if time.monotonic() > deadline:
                seen = [(r["metric"].get("station"), r["value"][1])
                        for r in self.query('up{job="station-edge"}')]
                rules = [(r["metric"]["alertname"], r["metric"].get("alertstate"))
                         for r in self.query(f'ALERTS{{alertname="{alertname}"}}')]
                raise TimeoutError(f"no {alertname} {labels} in Alertmanager after "
                                   f"{timeout_s:g} s; Prometheus: up {seen}, ALERTS {rules}; "
                                   f"Alertmanager holds {self.alerts()}")
            time.sleep(0.2)

    def wait_for_scrapes(self, timeout_s: float = 60.0) -> None:
        """Until Prometheus holds two good scrapes of every station (a rate needs two)."""
        deadline = time.monotonic() + timeout_s
        expr = 'sum_over_time(up{job="station-edge"}[5m]) >= 2 and up{job="station-edge"} == 1'
        while time.monotonic() < deadline:
            up = self.query(expr)
            if len(up) == len(self.stations):
                return
            time.sleep(0.2)
        raise TimeoutError(f"Prometheus scraped only {len(up)} of {len(self.stations)}")

    @property
    def notifications(self) -> list[dict[str, Any]]:
        return list(self.webhook.received) if self.webhook else []

    # -- stopping ----------------------------------------------------------------------

    def stop(self) -> None:
        """SIGTERM everything at once, then wait (SIGKILL what outlives 30 s)."""
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()
        if self.webhook is not None:
            self.webhook.close()
            self.webhook = None
        for log in self.logs:
            log.close()
        self.logs.clear()
        self.http.close()

    def pids(self) -> Iterator[int]:
        """Every process of the fleet: stations, their simulators, Prometheus, Alertmanager."""
        for process in self.processes.values():
            if process.poll() is None:
                yield process.pid
                try:
                    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
                    yield from map(int, children.read_text().split())
                except OSError:
                    pass


@contextmanager
def until_interrupted() -> Iterator[None]:
    """Ctrl-C or SIGTERM ends the block (and so stops the fleet in order)."""
    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, interrupt)
    try:
        yield
    except KeyboardInterrupt:
        print("\nstopping …", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="模拟县 a county of simulated stations, "
                                                 "Prometheus and Alertmanager on 127.0.0.1")
    parser.add_argument("--stations", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=Path("var/fleet"))
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--scrape-interval", default="15s")
    parser.add_argument("--alert-for", help="shorten every rule's for: to this (e.g. 10s)")
    parser.add_argument("--rain-every", type=int, default=4)
    parser.add_argument("--fault-every", type=int, default=7)
    args = parser.parse_args(argv)
    stations = plan(args.stations, args.workdir, rain_every=args.rain_every,
                    fault_every=args.fault_every)
    fleet = Fleet(args.workdir, stations, FleetSettings(
        time_scale=args.time_scale, scrape_interval=args.scrape_interval,
        evaluation_interval=args.scrape_interval, alert_for=args.alert_for))
    with until_interrupted(), fleet:
        print(f"{len(stations)} stations, e.g. {stations[0].url} (tokens {VIEWER}, {OPERATOR})")
        print(f"Prometheus   {fleet.prometheus_url}")
        print(f"Alertmanager {fleet.alertmanager_url}")
        print(f"station-county --stations {args.workdir / 'stations.toml'} status")
        print("Ctrl-C (or SIGTERM) stops everything.", flush=True)
        signal.pause()
    return 0


if __name__ == "__main__":
    sys.exit(main())
