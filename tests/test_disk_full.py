"""A full disk never silences the station (issue 10 part 4), on a real 96 MB tmpfs.

The simulated station's data directory is a tmpfs that the test fills to the last byte.
A villager's hand alarm still sounds the sirens and still sends its first report through
the satellite terminal simulator; an acknowledgement the disk cannot take is answered 503
with the reason (within the 2 s the station gives the disk), and health says why. When
space returns the station catches up by itself: journal and state writable again, the
report written to the outbox, the same acknowledgement now a 200.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import SIM_OPERATOR, SimStationProcess, wait_for
from tests.restarts import SIREN_PIN, alarms, device, pin_level, terminal

pytestmark = pytest.mark.slow
HAND_ALARM_PIN = 6
REPORT_NUMBER = "+8613800000001"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (the CI and the team machine run tests as root)")
    mount = tmp_path / "data"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until the disk refuses another byte."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 4096, 1):
            try:
                while os.write(fd, b"\0" * size):
                    pass
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_still_sounds_sirens_sends_the_report_and_answers_503(
    small_disk: Path, sim_station: Callable[..., SimStationProcess],
) -> None:
    station = sim_station(small_disk.name)  # the data directory is the small disk
    wait_for("the terminal", lambda: device(station, "sat_phone")["status"] == "ok")
    filler = fill(small_disk)

    station.post(f"/api/v1/sim/gpio/{HAND_ALARM_PIN}", {"level": 0}, headers=SIM_OPERATOR)
    [alarm] = wait_for("the hand alarm", lambda: list(alarms(station).values()))
    wait_for("the sirens", lambda: pin_level(station, SIREN_PIN) == 1)
    report = wait_for("the first report", lambda: [
        m for m in terminal(station, "outbox")["messages"]
        if m["to"] == REPORT_NUMBER and alarm["name"] in m["text"]])
    assert report[0]["complete"]
    assert station.get("/api/v1/satphone").json()["outbox_unsaved"] >= 1

    ack = station.post(f"/api/v1/alarms/{alarm['id']}/ack", {})
    assert ack.status_code == 503, ack.text
    assert "full" in ack.json()["detail"]
    for device_id in ("journal", "state"):
        assert device(station, device_id)["status"] == "fault"
        assert "full" in device(station, device_id)["detail"]

    filler.unlink()  # space returns
    for device_id in ("journal", "state"):
        wait_for(f"{device_id} writable",
                 lambda d=device_id: device(station, d)["status"] == "ok")
    wait_for("the report on disk",
             lambda: station.get("/api/v1/satphone").json()["outbox_unsaved"] == 0)
    again = station.post(f"/api/v1/alarms/{alarm['id']}/ack", {})
    assert again.status_code == 200 and again.json()["state"] == "acknowledged"
    assert station.stop() == 0
