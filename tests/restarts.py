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
from datetime import datetime
from pathlib import Path
from typing import Any

from drivers.gpio import PinLatch
from edge.safe_off import raw_output_pins
from edge.station import GPIO_LATCH_FILE
from tests.helpers import REPO, SIM_OPERATOR, SimStationProcess

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
    return sorted(pin for pin in raw_output_pins(config) if latched.get(pin))


def remote_coils_left_on(data_dir: Path) -> list[str] | None:
    """Remote siren coils still ON after safe-off, or None where that cannot be told.

    Hook for the remote-outputs work (issue 10 part 2): on this branch the I/O-module
    simulator is a child of the station and dies with it, so nothing outside the daemon
    holds a coil; once it keeps running on its own (as a real module does), read its coils
    here (control port in ``sim-devices.json``, ``status <unit>`` → ``coils=…``).
    """
    return None


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
    devices = json.loads((station.data_dir / "sim-devices.json").read_text(encoding="utf-8"))
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
