"""Killing and restarting a real simulated station, as a watchdog or a power cut would.

Shared by the restart tests, the disk-full test and the crash matrix (and its benchmark,
``bench/crash_matrix.py``): ``kill -9``, then ``station-edge safe-off`` as systemd's
``ExecStopPost=`` runs it, then what the mock GPIO latch (the kernel's latch of a real
Pi) says is still ON, and a look at the station through its API.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tomllib
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

from drivers.gpio import PinLatch
from edge.gpio_outputs import GPIO_LATCH_FILE
from edge.safe_off_sources import from_tree
from edge.sim.station import start_modem, start_simulators
from tests.helpers import REPO, SIM_OPERATOR, ConfigFor, SimStationProcess, sim_config_text_for

SIREN_PIN = 16


def kill_9(station: SimStationProcess) -> None:
    """SIGKILL: nothing of the daemon runs after it (its simulators die with it)."""
    station.kill()


def safe_off(data_dir: Path) -> subprocess.CompletedProcess[str]:
    """``station-edge safe-off --config <data_dir>/config.toml``, as systemd runs it."""
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", "safe-off", "--config", str(data_dir / "config.toml")],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False)


def outputs_left_on(data_dir: Path) -> list[int]:
    """Configured output pins the GPIO latch holds ON (a killed daemon leaves them so)."""
    config = tomllib.loads((data_dir / "config.toml").read_text(encoding="utf-8"))
    latched = PinLatch(data_dir / GPIO_LATCH_FILE).read()
    return sorted(pin for pin in from_tree(config).output_pins() if latched.get(pin))


def outside_world(stack: ExitStack, data_dir: Path, time_scale: float) -> ConfigFor:
    """The devices of ``run --sim`` started by the test, not by the station: the RS-485 line
    (gauges, the I/O module with siren-2's coil) and the satellite terminal keep running
    across ``kill -9`` and restart, as real ones do, so a coil a killed station left ON is
    still ON for ``safe-off`` to find. Writes ``sim-devices.json`` (their control ports) and
    returns the station's config for ``sim_station(config=…)``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    devices = start_simulators(stack, time_scale)
    devices.update(start_modem(stack, data_dir))
    (data_dir / "sim-devices.json").write_text(json.dumps(devices, indent=1), encoding="utf-8")

    def config(data_dir: Path, listen: str) -> str:
        return sim_config_text_for(data_dir, listen=listen, time_scale=time_scale,
                                   devices=devices)
    return config


def remote_coils_left_on(data_dir: Path) -> list[str] | None:
    """Remote siren coils the I/O module holds ON (its ``status``), or None when its
    simulator does not answer (one that died with the station holds nothing)."""
    config = tomllib.loads((data_dir / "config.toml").read_text(encoding="utf-8"))
    coils = from_tree(config).coils.values()
    try:
        host, port = simulator_at(data_dir, "gauge_control")
        with socket.create_connection((host, port), timeout=10) as conn:
            reader = conn.makefile(encoding="utf-8")
            held: dict[int, str] = {}
            for unit in sorted({c.unit for c in coils}):
                conn.sendall(f"status {unit}\n".encode())
                words = reader.readline().split()
                held[unit] = dict(w.split("=", 1) for w in words if "=" in w)["coils"]
    except (OSError, KeyError):
        return None
    return sorted(str(c) for c in coils if held[c.unit][c.coil:c.coil + 1] == "1")


def pin_level(station: SimStationProcess, pin: int) -> int:
    pins = station.get("/api/v1/sim/gpio", headers=SIM_OPERATOR).json()["pins"]
    return int(next(p["level"] for p in pins if p["pin"] == pin))


def station_time(station: SimStationProcess) -> datetime:
    text = station.get("/api/v1/health").json()["time"]
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def events(station: SimStationProcess, after: int = 0) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while page := station.get(f"/api/v1/events?after={out[-1]['seq'] if out else after}"
                              "&limit=1000").json()["events"]:
        out += page
    return out


def this_run(station: SimStationProcess) -> list[dict[str, Any]]:
    """The journal since this process started (from its ``station.started``)."""
    starts = events_of(station, "station.started")
    return events(station, after=starts[-1]["seq"] - 1)


def events_of(station: SimStationProcess, kind: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while page := station.get(f"/api/v1/events?kind={kind}&after={out[-1]['seq'] if out else 0}"
                              "&limit=1000").json()["events"]:
        out += page
    return out


def sirens_sounded(journal: list[dict[str, Any]]) -> bool:
    return any(e["kind"] == "output.switched" and e["source"] == "siren-1"
               and e["data"].get("to") == "on" for e in journal)


def alarms(station: SimStationProcess) -> dict[str, dict[str, Any]]:
    return {a["id"]: a for a in station.get("/api/v1/alarms").json()["alarms"]}


def device(station: SimStationProcess, device_id: str) -> dict[str, Any]:
    devices = station.get("/api/v1/health").json()["devices"]
    found: dict[str, Any] = next(d for d in devices if d["id"] == device_id)
    return found


def simulator(station: SimStationProcess, name: str) -> tuple[str, int]:
    return simulator_at(station.data_dir, name)


def simulator_at(data_dir: Path, name: str) -> tuple[str, int]:
    devices = json.loads((data_dir / "sim-devices.json").read_text(encoding="utf-8"))
    host, _, port = devices[name].rpartition(":")
    return host or "127.0.0.1", int(port)


def gauge_control(station: SimStationProcess, command: str) -> str:
    with socket.create_connection(simulator(station, "gauge_control"), timeout=10) as conn:
        conn.sendall(command.encode() + b"\n")
        return conn.makefile().readline().strip()


def terminal(station: SimStationProcess, cmd: str, **params: Any) -> dict[str, Any]:
    with socket.create_connection(simulator(station, "modem_control"), timeout=10) as conn:
        conn.sendall(json.dumps({"cmd": cmd, **params}).encode() + b"\n")
        reply: dict[str, Any] = json.loads(conn.makefile(encoding="utf-8").readline())
    return reply
