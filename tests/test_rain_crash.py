"""``kill -9`` of a real daemon: the rain it had not yet written comes back from the gauge.

The daemon (``station-edge run --config``, a real process, real time) polls a gauge
simulator that outlives it. Rain already in the archive (written at a clean stop), rain
counted but not yet written (held in memory, at most ``FLUSH_S``), and rain that fell
while the daemon was dead: after the restart all of it is counted, each once -- the
first reading counts from the stored counter -- and the journal says what was
recovered and over which interval.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gauge_sim_process import GaugeSim

from tests.helpers import REPO, free_port

pytestmark = pytest.mark.slow
VIEWER = "crash-viewer"


def config_text(data_dir: Path, port: str, listen: str) -> str:
    digest = hashlib.sha256(VIEWER.encode()).hexdigest()
    return f'''
[station]
id = "SG-K9"
name = "断电测试站"
data_dir = "{data_dir}"
[sim]
[api]
listen = "{listen}"
[[api.tokens]]
name = "test"
role = "viewer"
sha256 = "{digest}"
[gpio]
backend = "mock"
[self_test]
enabled = false
[modbus.buses.rs485]
port = "{port}"
poll_interval_s = 1.0
timeout_s = 0.3
[[rain_gauges]]
id = "rg-1"
bus = "rs485"
unit = 1
model = "xm9505"
'''


class Daemon:
    def __init__(self, config: Path, log: Path) -> None:
        self.base = ""
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "edge.cli", "run", "--config", str(config)],
                cwd=REPO, stdout=out, stderr=subprocess.STDOUT)

    def get(self, path: str) -> Any:
        reply = httpx.get(self.base + path, headers={"Authorization": f"Bearer {VIEWER}"},
                          timeout=5)
        return reply.json() if path.startswith("/api") else reply.text


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = check()
        except httpx.HTTPError:
            result = None
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def total_24h(daemon: Daemon) -> float | None:
    gauge = daemon.get("/api/v1/rain")["gauges"][0]
    return gauge["totals"]["24h"] if gauge["status"] == "ok" else None


def metric(daemon: Daemon, name: str) -> float:
    line = next(x for x in daemon.get("/metrics").splitlines() if x.startswith(name + " "))
    return float(line.split()[-1])


@pytest.fixture
def sim() -> Iterator[GaugeSim]:
    with GaugeSim("--unit", "1,model=xm9505,start=400") as s:
        yield s


def test_kill_9_loses_no_rain_the_gauge_counted(tmp_path: Path, sim: GaugeSim) -> None:
    listen = f"127.0.0.1:{free_port()}"
    config = tmp_path / "config.toml"
    config.write_text(config_text(tmp_path / "data", sim.url, listen), encoding="utf-8")
    log = tmp_path / "daemon.log"
    daemon = Daemon(config, log)
    daemon.base = f"http://{listen}"
    try:
        wait_for("the first reading", lambda: total_24h(daemon) == 0.0)
        sim.command("rain 1 2.0")     # what a 0.1 mm bucket can tip in one poll, no more
        wait_for("2 mm counted", lambda: total_24h(daemon) == 2.0)
        daemon.process.send_signal(signal.SIGTERM)   # a clean stop writes what is pending
        assert daemon.process.wait(timeout=30) == 0

        daemon = Daemon(config, log)
        daemon.base = f"http://{listen}"
        wait_for("the 2 mm restored", lambda: total_24h(daemon) == 2.0)
        sim.command("rain 1 1.5")
        wait_for("1.5 mm more counted", lambda: total_24h(daemon) == 3.5)
        assert metric(daemon, "station_edge_rain_archive_pending_mm") == pytest.approx(1.5), \
            "the 1.5 mm are in memory only when the daemon dies"
        os.kill(daemon.process.pid, signal.SIGKILL)
        assert daemon.process.wait(timeout=10) == -signal.SIGKILL
        sim.command("rain 1 1.2")                  # falls while nobody is looking

        daemon = Daemon(config, log)
        daemon.base = f"http://{listen}"
        counted = wait_for("the rain of the crash counted",
                           lambda: total_24h(daemon) not in (None, 2.0) and total_24h(daemon))
        assert counted == pytest.approx(4.7), "each millimetre once: 2 kept, 2.7 recovered"
        assert float(sim.status(1)["rain_mm"]) == pytest.approx(4.7)
        events = daemon.get("/api/v1/events?limit=1000")["events"]
        [recovered] = [e["data"] for e in events if e["kind"] == "rain.outage_increment"]
        assert recovered["mm"] == pytest.approx(2.7) and recovered["missed_polls"] == 1
        assert not [e for e in events if e["kind"] == "rain.data_gap"]
    finally:
        if daemon.process.poll() is None:
            daemon.process.send_signal(signal.SIGTERM)
            daemon.process.wait(timeout=30)
