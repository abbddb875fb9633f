"""``kill -9`` of a real station in a storm, twice (issue 10, the rows on restarts).

A simulated station at 120× polls the real gauge simulator; it rains 5 mm/min. Killed with
an unacknowledged 立即转移 alarm, it comes back with the same alarm under the same id,
sounding, its clock going on (the rain it recorded is not in its future), and rain still
above the threshold raises no second alarm. Acknowledged, killed again, it comes back
acknowledged and silent. After each kill, ``safe-off`` leaves every GPIO output and the
remote siren's coil OFF (the simulators run outside the station, as real devices do).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.helpers import ConfigFor, SimStationProcess, wait_for
from tests.restarts import (
    SIREN_PIN,
    alarms,
    gauge_control,
    kill_9,
    outputs_left_on,
    outside_world,
    pin_level,
    remote_coils_left_on,
    safe_off,
    sirens_sounded,
    station_time,
    this_run,
)

pytestmark = pytest.mark.slow
TIME_SCALE = 120
STORM = "profile 1 constant:300"  # 5 mm/min: 立即转移 (50 mm in 1 h) after 10 simulated minutes


@pytest.fixture
def devices(tmp_path: Path) -> Iterator[ConfigFor]:
    with ExitStack() as stack:
        yield outside_world(stack, tmp_path / "data", TIME_SCALE)


def killed_and_restarted(station: SimStationProcess, sim_station: Callable[..., SimStationProcess],
                         devices: ConfigFor) -> SimStationProcess:
    kill_9(station)
    done = safe_off(station.data_dir)
    assert done.returncode == 0, done.stderr
    assert outputs_left_on(station.data_dir) == [], "safe-off leaves every GPIO output OFF"
    assert remote_coils_left_on(station.data_dir) == [], "and the remote siren's coil"
    return sim_station(station.data_dir.name, config=devices)


def test_a_killed_station_comes_back_with_its_alarm_sounding_then_acknowledged_silent(
    sim_station: Callable[..., SimStationProcess], devices: ConfigFor,
) -> None:
    station = sim_station("data", config=devices)
    assert gauge_control(station, STORM).startswith("OK")
    [alarm] = wait_for("立即转移", lambda: [a for a in alarms(station).values()
                                         if a["level"] == "evacuate"], timeout=90)
    wait_for("the sirens", lambda: pin_level(station, SIREN_PIN) == 1)
    before = station_time(station)

    station = killed_and_restarted(station, sim_station, devices)
    assert station_time(station) >= before, "the simulated clock goes on"
    carried = alarms(station)
    assert list(carried) == [alarm["id"]], "the same alarm, under the same id"
    assert (carried[alarm["id"]]["level"], carried[alarm["id"]]["state"]) == (
        "evacuate", "active")
    wait_for("the sirens again", lambda: pin_level(station, SIREN_PIN) == 1)
    rain = station.get("/api/v1/rain").json()["gauges"]
    assert next(g for g in rain if g["id"] == "rg-1")["totals"]["1h"] >= 50, \
        "the rain recorded before the kill still counts"
    assert gauge_control(station, STORM).startswith("OK")  # still raining
    later = station_time(station)
    wait_for("two simulated minutes", lambda: (station_time(station) - later).seconds > 120)
    assert list(alarms(station)) == [alarm["id"]], "rain above the threshold: no new alarm"
    ack = station.post(f"/api/v1/alarms/{alarm['id']}/ack", {})
    assert ack.status_code == 200 and ack.json()["state"] == "acknowledged"

    station = killed_and_restarted(station, sim_station, devices)
    after = alarms(station).get(alarm["id"])
    assert after is None or after["state"] == "acknowledged"
    restart = station_time(station)
    wait_for("a siren cadence's time", lambda: (station_time(station) - restart).seconds > 30)
    journal = this_run(station)
    assert not sirens_sounded(journal), "an acknowledged alarm stays silent"
    [restored] = [e for e in journal if e["kind"] == "state.restored"]
    assert restored["data"]["ids"]["alarms"] == [alarm["id"]]
    assert station.stop() == 0
