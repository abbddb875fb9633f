"""Rain through the simulated station: the real gauge simulator on a simulated RS-485 line.

These run ``station-edge run --sim`` faster than real time and wait (with deadlines)
for what a county operator would see through the API.
"""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import SimStationProcess

pytestmark = pytest.mark.slow
TIME_SCALE = 120


def control(station: SimStationProcess, command: str) -> str:
    devices = json.loads((station.data_dir / "sim-devices.json").read_text())
    host, port = devices["gauge_control"].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(command.encode() + b"\n")
        return conn.makefile().readline().strip()


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def gauge(station: SimStationProcess, gauge_id: str) -> dict[str, Any]:
    return next(g for g in station.get("/api/v1/rain").json()["gauges"] if g["id"] == gauge_id)


def pin_level(station: SimStationProcess, pin: int) -> int:
    pins = station.get("/api/v1/sim/gpio", headers={"Authorization": "Bearer sim-operator"})
    return next(p["level"] for p in pins.json()["pins"] if p["pin"] == pin)


def events(station: SimStationProcess) -> list[dict[str, Any]]:
    out, after = [], 0
    while True:
        page = station.get(f"/api/v1/events?after={after}&limit=1000").json()["events"]
        if not page:
            return out
        out += page
        after = page[-1]["seq"]


def test_a_storm_raises_prepare_then_evacuate_ack_stops_sirens_and_it_clears(
    tmp_path: Path,
) -> None:
    station = SimStationProcess(tmp_path / "data", time_scale=TIME_SCALE)
    try:
        station.wait_ready()
        assert control(station, "profile 1 constant:150").startswith("OK")
        prepare = wait_for("prepare", lambda: [a for a in station.get("/api/v1/alarms").json()
                                               ["alarms"] if a["level"] == "prepare"])
        assert prepare[0]["source"] == "rg-1" and prepare[0]["window"] == "1h"
        alarm = wait_for("evacuate", lambda: [a for a in station.get("/api/v1/alarms").json()
                                              ["alarms"] if a["level"] == "evacuate"])[0]
        wait_for("siren relay ON", lambda: pin_level(station, 16) == 1)
        ack = station.post(f"/api/v1/alarms/{alarm['id']}/ack", {})
        assert ack.status_code == 200
        wait_for("sirens OFF after ACK", lambda: pin_level(station, 16) == 0, timeout=10)
        assert "coils=0" in control(station, "status 10") or \
            control(station, "status 10").split("coils=")[1].startswith("0")
        control(station, "profile 1 none")
        wait_for("clear", lambda: station.get("/api/v1/alarms").json()["alarms"] == [],
                 timeout=90)
        journal = events(station)
        order = [e["kind"] for e in journal if e["kind"] in (
            "alarm.raised", "alarm.escalated", "alarm.acknowledged", "alarm.cleared")]
        assert order[0] == "alarm.raised" and order[-1] == "alarm.cleared"
        assert order.index("alarm.escalated") < order.index("alarm.acknowledged")
        kinds = [(e["kind"], e["source"]) for e in journal]
        raised = kinds.index(("alarm.raised", alarm["id"]))
        siren_on = kinds.index(("output.switched", "siren-1"))
        assert raised < siren_on
        audio = sorted((station.data_dir / "audio-out").glob("*.wav"))
        assert len(audio) >= 3, "the prepare speech and the evacuate siren went out"
        rain_24h = gauge(station, "rg-1")["totals"]["24h"]
        fell = float(control(station, "status 1").split("rain_mm=")[1].split()[0])
        assert 0 < rain_24h <= fell + 0.1, "never more rain than fell"
    finally:
        station.signal(signal.SIGTERM)
        station.wait()


def test_simulator_faults_never_create_rain_nor_a_false_alarm_and_show_in_health(
    tmp_path: Path,
) -> None:
    station = SimStationProcess(tmp_path / "data", time_scale=TIME_SCALE)
    try:
        station.wait_ready()
        control(station, "profile 1 constant:20")  # well under any threshold
        control(station, "fault 2 silence")  # a dead gauge beside a live one
        wait_for("rg-2 offline", lambda: gauge(station, "rg-2")["status"] == "offline")
        assert gauge(station, "rg-1")["status"] == "ok" and gauge(station, "rg-1")["fresh"]
        health = station.get("/api/v1/health").json()
        assert health["status"] == "degraded"
        for fault in ("fault 1 garbage 3", "fault 1 late 0.5 3", "fault 1 noise 2"):
            assert control(station, fault).startswith("OK")
            time.sleep(1.5)
        control(station, "reset 1")
        time.sleep(1.5)
        control(station, "wrap 1")
        time.sleep(3)
        control(station, "profile 1 none")
        time.sleep(1.5)
        fell = float(control(station, "status 1").split("rain_mm=")[1].split()[0])
        counted = gauge(station, "rg-1")["totals"]["24h"]
        assert counted <= fell + 0.1, f"rain created: counted {counted} of {fell} mm"
        journal = events(station)
        gaps = [e["data"]["kind"] for e in journal if e["kind"] == "rain.data_gap"]
        assert "reset" in gaps
        assert len(gaps) <= 4, f"only the reset and the wrap are gaps: {gaps} ({counted}/{fell})"
        assert counted > 0
        assert not [e for e in journal if e["kind"] == "alarm.raised"]
        control(station, "fault 2 none")
        wait_for("rg-2 back", lambda: gauge(station, "rg-2")["status"] == "ok")
    finally:
        station.signal(signal.SIGTERM)
        station.wait()
