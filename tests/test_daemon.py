"""The daemon as an operator runs it: ``station-edge run --sim`` in its own process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from drivers.gpio import PinLatch
from tests.helpers import SIM_ADMIN, SimStationProcess

pytestmark = pytest.mark.slow


def latch(data_dir: Path) -> dict[int, bool]:
    return PinLatch(data_dir / "sim-gpio-latch.json").read()


def journal_events(data_dir: Path) -> list[dict[str, object]]:
    import sqlite3

    conn = sqlite3.connect(data_dir / "journal.db")
    try:
        rows = conn.execute("SELECT kind, data FROM events ORDER BY seq").fetchall()
    finally:
        conn.close()
    return [{"kind": k, "data": json.loads(d)} for k, d in rows]


def test_sim_station_is_healthy_then_sigterm_drives_outputs_off(tmp_path: Path) -> None:
    station = SimStationProcess(tmp_path / "data")
    took = station.wait_ready()
    assert took < 10
    health = station.get("/api/v1/health").json()
    assert health["status"] == "ok"
    assert {d["id"] for d in health["devices"]} >= {"amplifier", "siren-1", "ha-1", "journal"}
    reply = station.post("/api/v1/outputs/siren-1/test", {"seconds": 60}, headers=SIM_ADMIN)
    assert reply.status_code == 202
    assert latch(station.data_dir)[16] is True
    station.signal(signal.SIGTERM)
    assert station.wait() == 0
    assert not any(latch(station.data_dir).values())
    stopping = [e for e in journal_events(station.data_dir) if e["kind"] == "station.stopping"]
    assert stopping[-1]["data"]["outputs_interrupted"] == ["siren-1"]


def test_after_kill_9_safe_off_drives_the_latched_outputs_off(tmp_path: Path) -> None:
    station = SimStationProcess(tmp_path / "data")
    station.wait_ready()
    station.post("/api/v1/outputs/amplifier.power/test", {"seconds": 60}, headers=SIM_ADMIN)
    assert latch(station.data_dir)[23] is True
    station.kill()
    assert latch(station.data_dir)[23] is True, "like a Pi, the output stays driven"
    result = subprocess.run(
        [sys.executable, "-m", "edge.cli", "safe-off", "--config",
         str(station.data_dir / "config.toml")],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "amplifier.power" in result.stdout
    assert not any(latch(station.data_dir).values())


def test_safe_off_works_from_a_config_that_no_longer_validates(tmp_path: Path) -> None:
    data = tmp_path / "data"
    PinLatch(data / "sim-gpio-latch.json").write(16, True)
    broken = tmp_path / "broken.toml"
    broken.write_text(f'[station]\nid = "X"\nname = "x"\ndata_dir = "{data}"\n[sim]\n'
                      '[gpio]\nbackend = "mock"\nbakend = 1\n[[sirens]]\nid = "s"\nrelay = 16\n')
    result = subprocess.run([sys.executable, "-m", "edge.cli", "safe-off", "--config",
                             str(broken)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "gpio.bakend: unknown key" in result.stderr
    assert latch(data) == {16: False}


def test_sigint_stops_the_station_and_leaves_no_child(tmp_path: Path) -> None:
    station = SimStationProcess(tmp_path / "data")
    station.wait_ready()
    children = station.child_pids()
    station.signal(signal.SIGINT)
    assert station.wait() == 0
    time.sleep(0.2)
    for pid in children:
        assert not os.path.exists(f"/proc/{pid}") or \
            open(f"/proc/{pid}/stat").read().split()[2] == "Z"


def test_a_second_station_on_a_busy_port_fails_loudly(tmp_path: Path) -> None:
    first = SimStationProcess(tmp_path / "a")
    first.wait_ready()
    try:
        clash = subprocess.run([sys.executable, "-m", "edge.cli", "run", "--sim", "--listen",
                        f"127.0.0.1:{first.port}", "--data-dir", str(tmp_path / "c")],
                       capture_output=True, text=True, timeout=60)
        assert clash.returncode == 1
        assert "cannot listen" in clash.stderr
        assert not any(latch(tmp_path / "c").values())
    finally:
        first.signal(signal.SIGTERM)
        first.wait()


def test_evacuate_pin_held_through_the_sim_api_plays_the_order(tmp_path: Path) -> None:
    """The issue's own words: EVACUATE low for 1.6 s via /api/v1/sim/gpio; 0.5 s does nothing."""
    station = SimStationProcess(tmp_path / "data", time_scale=2)
    try:
        station.wait_ready()
        operator = {"Authorization": "Bearer sim-operator"}

        def hold(seconds: float) -> None:
            assert station.post("/api/v1/sim/gpio/17", {"level": 0}).status_code == 200
            time.sleep(seconds / 2)  # the simulated station runs twice as fast
            assert station.post("/api/v1/sim/gpio/17", {"level": 1}).status_code == 200

        def pins() -> dict[int, int]:
            reply = station.get("/api/v1/sim/gpio", headers=operator).json()["pins"]
            return {p["pin"]: p["level"] for p in reply}

        hold(0.5)
        time.sleep(1)
        events = station.get("/api/v1/events?limit=1000").json()["events"]
        pressed = [e["ts"] for e in events if e["source"] == "panel.evacuate_button"]
        held_s = (datetime.fromisoformat(pressed[1].replace("Z", "+00:00"))
                  - datetime.fromisoformat(pressed[0].replace("Z", "+00:00"))).total_seconds()
        triggered = any(e["kind"] == "panel.evacuate" for e in events)
        assert triggered == (held_s >= 1.5), f"held {held_s} s: trigger iff held >= hold_s"
        for early in station.get("/api/v1/broadcasts").json()["broadcasts"]:
            httpx.delete(f"{station.base_url}/api/v1/broadcasts/{early['id']}",
                         headers=operator, timeout=10)
        hold(1.6)
        deadline = time.monotonic() + 20
        while not all(pins()[p] for p in (23, 24, 25)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert all(pins()[p] for p in (23, 24, 25)), "power and every zone ON"
        [broadcast] = station.get("/api/v1/broadcasts?active=true").json()["broadcasts"]
        assert broadcast["source"] == "panel" and broadcast["message"] == "evacuate"
        while station.get(f"/api/v1/broadcasts/{broadcast['id']}").json()["state"] != "done":
            assert time.monotonic() < deadline + 60
            time.sleep(0.2)
        done = station.get(f"/api/v1/broadcasts/{broadcast['id']}").json()
        assert done["plays"] == 3
        [wav] = list((station.data_dir / "audio-out").glob(f"*{broadcast['id']}.wav"))
        assert wav.stat().st_size > 3 * 16000 * 2 * 3, "three plays of the order went out"
    finally:
        station.signal(signal.SIGTERM)
        station.wait()
