"""Small shared pieces of the test suite (configs, free ports, a started station)."""

from __future__ import annotations

import socket
from pathlib import Path

from edge.config import Config, parse

SIM_VIEWER = {"Authorization": "Bearer sim-viewer"}
SIM_OPERATOR = {"Authorization": "Bearer sim-operator"}
SIM_ADMIN = {"Authorization": "Bearer sim-admin"}

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


BUS_START, BUS_END = "# == the simulated RS-485 line", "# == end of the RS-485 line =="


def sim_config(data_dir: Path, extra: str = "", *, with_simulators: bool = False,
               **replace: str) -> Config:
    """The embedded simulated-station config, pointed at ``data_dir``.

    Without ``with_simulators``, what hangs on the simulators' wires (the RS-485 line with
    its gauges, remote siren and remote hand alarm; the satellite phone) is left out:
    in-process tests on a manual clock do not start those simulators, and a device that
    cannot be reached would make every such station degraded.
    """
    from edge.sim.station import sim_config_text

    text = sim_config_text(data_dir, "127.0.0.1:0", 1.0, {})
    if not with_simulators:
        text = text[:text.index(BUS_START)] + text[text.index(BUS_END) + len(BUS_END):]
        if "\n[sat_phone]" in text:
            cut = text.index("\n[sat_phone]")
            comment = text.rfind("\n\n", 0, cut)
            text = text[:comment + 1]
    for old, new in replace.items():
        text = text.replace(old, new)
    return parse(text + "\n" + extra)


class StationRun:
    """A station started in-process on a manual clock (async context manager)."""

    def __init__(self, config: Config, clock: object | None = None) -> None:
        from drivers.clock import ManualClock
        from edge.station import Station

        self.clock = clock or ManualClock()
        self.station = Station(config, self.clock)  # type: ignore[arg-type]

    async def __aenter__(self) -> StationRun:
        await self.station.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.station.request_stop("test over")
        await self.station.stop()

    def events(self, kind: str | None = None) -> list[dict[str, object]]:
        journal = self.station.journal
        return [e for e in journal.read(limit=1000) if kind is None or e["kind"] == kind]

    async def settled_events(self, kind: str | None = None) -> list[dict[str, object]]:
        journal = self.station.journal
        last = journal.record("test.marker", "tests")
        await journal.durable(last)
        return [e for e in self.events(kind) if e["kind"] != "test.marker"]


class SimStationProcess:
    """``station-edge run --sim`` as a child process, on its own port and data dir."""

    def __init__(self, data_dir: Path, *extra_args: str, time_scale: float | None = None) -> None:
        import subprocess
        import sys

        self.data_dir = data_dir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        args = [sys.executable, "-m", "edge.cli", "run", "--sim",
                "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(data_dir), *extra_args]
        if time_scale is not None:
            args += ["--time-scale", str(time_scale)]
        self.log_path = data_dir.parent / f"{data_dir.name}-station.log"
        data_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT,
                                        cwd=REPO)

    def wait_ready(self, timeout: float = 20.0) -> float:
        """Seconds until health answered (raises with the log on failure)."""
        import time

        import httpx

        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.process.poll() is not None:
                break
            try:
                reply = httpx.get(f"{self.base_url}/api/v1/health", headers=SIM_VIEWER, timeout=2)
                if reply.status_code == 200:
                    return time.monotonic() - start
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise AssertionError(f"station not ready:\n{self.log_path.read_text(errors='replace')}")

    def get(self, path: str, headers: dict[str, str] = SIM_VIEWER, **kw: object) -> object:
        import httpx

        return httpx.get(self.base_url + path, headers=headers, timeout=10, **kw)

    def post(self, path: str, json: object, headers: dict[str, str] = SIM_OPERATOR,
             **kw: object) -> object:
        import httpx

        return httpx.post(self.base_url + path, json=json, headers=headers, timeout=10, **kw)

    def signal(self, sig: int) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout: float = 20.0) -> int:
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self._log.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def child_pids(self) -> list[int]:
        import os

        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat", "rb") as f:
                        fields = f.read().rsplit(b")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == self.process.pid:
                    found.append(int(entry))
        return found


class Scrape:
    """The station's ``/metrics`` as the county's Prometheus reads it, sample by sample."""

    def __init__(self, text: str) -> None:
        from prometheus_client.parser import text_string_to_metric_families

        self.text = text
        self.families = list(text_string_to_metric_families(text))
        self.samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                        for family in self.families for s in family.samples}

    @classmethod
    def of(cls, station: object) -> Scrape:
        from prometheus_client import generate_latest

        from edge.api.metrics import registry_for

        return cls(generate_latest(registry_for(station)).decode())

    def value(self, name: str, **labels: str) -> float:
        return self.samples[(name, tuple(sorted(labels.items())))]

    def series(self, name: str) -> list[dict[str, str]]:
        """The label sets of every sample called ``name``."""
        return [dict(labels) for n, labels in self.samples if n == name]
