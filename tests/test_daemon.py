"""The daemon as an operator runs it: ``station-edge run --sim`` in its own process.

Stations come from the ``sim_station`` fixture, so a failed assertion still kills the
station and its simulators.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from drivers.gpio import PinLatch
from tests.helpers import SIM_ADMIN, SimStationProcess, wait_for

pytestmark = pytest.mark.slow
StartStation = Callable[..., SimStationProcess]


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


def test_sim_station_is_healthy_then_sigterm_drives_outputs_off(
    sim_station: StartStation,
) -> None:
    station = sim_station()
    health = wait_for("every device read once and ok", lambda: (
        h := station.get("/api/v1/health").json())["status"] == "ok" and h)
    assert {d["id"] for d in health["devices"]} >= {"amplifier", "siren-1", "ha-1", "journal"}
    reply = station.post("/api/v1/outputs/siren-1/test", {"seconds": 60}, headers=SIM_ADMIN)
    assert reply.status_code == 202
    assert latch(station.data_dir)[16] is True
    assert station.stop() == 0
    assert not any(latch(station.data_dir).values())
    stopping = [e for e in journal_events(station.data_dir) if e["kind"] == "station.stopping"]
    assert stopping[-1]["data"]["outputs_interrupted"] == ["siren-1"]


def test_sigint_stops_the_station_and_leaves_no_child(sim_station: StartStation) -> None:
    station = sim_station()
    children = station.children()
    programs = {Path(argv[1]).name for argv in children.values() if len(argv) > 1}
    assert {"modbus_gauge_sim.py", "at_modem_sim.py"} <= programs
    station.signal(signal.SIGINT)
    assert station.wait() == 0
    left = [pid for pid in children if running(pid)]
    assert not left, "the station stops and reaps every child before it exits"


def running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def test_ready_only_once_the_api_answers_and_never_for_a_busy_port(
    tmp_path: Path, sim_station: StartStation, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """systemd's side of ``Type=notify``: a datagram socket the station reports to."""
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    try:
        first = sim_station("a", ready=False)
        notify.settimeout(60)
        assert notify.recv(256) == b"READY=1"
        assert first.get("/api/v1/health").status_code == 200, "READY means the API answers"
        clash = subprocess.run([sys.executable, "-m", "edge.cli", "run", "--sim", "--listen",
                                f"127.0.0.1:{first.port}", "--data-dir", str(tmp_path / "c")],
                               capture_output=True, text=True, timeout=60)
        assert clash.returncode == 1
        [reason] = [line for line in clash.stderr.splitlines() if "cannot listen" in line]
        assert reason == (f"not started: the API cannot listen on "
                          f"127.0.0.1:{first.port}: Address already in use")
        assert not any(latch(tmp_path / "c").values())
        notify.setblocking(False)
        told = []
        with contextlib.suppress(BlockingIOError):
            while True:
                told.append(notify.recv(256))
        assert b"READY=1" not in told, "the clash never said READY"
        assert first.stop() == 0
        notify.settimeout(10)
        assert notify.recv(256) == b"STOPPING=1"
    finally:
        notify.close()


#: Faster than real time, so the three plays of the order (about 18 s each) take seconds;
#: slow enough that a brush released as soon as the station has seen it stays far below
#: ``hold_s`` (the verdict is checked on the station's own clock anyway).
EVACUATE_TIME_SCALE = 5
EVACUATE_PIN, HOLD_S, RELAYS = 17, 1.5, (23, 24, 25)


def station_time(event: dict[str, Any]) -> datetime:
    """When an input's level began: the edge, not the end of its debounce window (which a
    busy CPU delays, at this time scale by a few tenths of a station second)."""
    return datetime.fromisoformat(event["data"]["since"].replace("Z", "+00:00"))


def test_evacuate_pin_held_through_the_sim_api_plays_the_order(sim_station: StartStation) -> None:
    """The issue's own words: EVACUATE held low via /api/v1/sim/gpio plays the order three
    times; a brush shorter than hold_s does nothing."""
    station = sim_station(time_scale=EVACUATE_TIME_SCALE)
    operator = {"Authorization": "Bearer sim-operator"}

    def drive(level: int) -> None:
        assert station.post(f"/api/v1/sim/gpio/{EVACUATE_PIN}", {"level": level}).status_code \
            == 200

    def button(kind: str) -> list[dict[str, str]]:
        return [e for e in station.events(kind) if e["source"] == "panel.evacuate_button"]

    def pins() -> dict[int, int]:
        reply = station.get("/api/v1/sim/gpio", headers=operator).json()["pins"]
        return {p["pin"]: p["level"] for p in reply}

    drive(0)  # a brush: let go as soon as the station has taken the press
    wait_for("the press seen", lambda: button("input.pressed"))
    drive(1)
    [pressed], [released] = button("input.pressed"), wait_for(
        "the release seen", lambda: button("input.released"))
    held_s = (station_time(released) - station_time(pressed)).total_seconds()
    triggered = bool(button("panel.evacuate"))
    assert triggered == (held_s >= HOLD_S), f"held {held_s} s: trigger iff held >= hold_s"
    for early in station.get("/api/v1/broadcasts").json()["broadcasts"]:
        station.delete(f"/api/v1/broadcasts/{early['id']}")

    drive(0)  # held: let go once the station has taken it as EVACUATE
    evacuate = wait_for("EVACUATE taken", lambda: button("panel.evacuate")[int(triggered):])
    drive(1)
    assert len(evacuate) == 1
    wait_for("power and every zone ON", lambda: all(pins()[p] for p in RELAYS), timeout=20)
    [broadcast] = station.get("/api/v1/broadcasts?active=true").json()["broadcasts"]
    assert broadcast["source"] == "panel" and broadcast["message"] == "evacuate"
    done = wait_for("the order played", lambda: (
        b := station.get(f"/api/v1/broadcasts/{broadcast['id']}").json())["state"] == "done"
        and b)
    assert done["plays"] == 3
    [wav] = list((station.data_dir / "audio-out").glob(f"*{broadcast['id']}.wav"))
    assert wav.stat().st_size > 3 * 16000 * 2 * 3, "three plays of the order went out"
    assert station.stop() == 0
