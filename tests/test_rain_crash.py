"""``kill -9`` of a real daemon: the rain it had not yet written comes back from the gauge.

The daemon (``station-edge run --config``, a real process, real time) polls a gauge
simulator that outlives it. Rain already in the archive (written at a clean stop), rain
counted but not yet written (held in memory, at most ``FLUSH_S``), and rain that fell
while the daemon was dead: after the restart all of it is counted, each once -- the
first reading counts from the stored counter -- and the journal says what was
recovered and over which interval.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gauge_sim_process import GaugeSim

from tests.helpers import SimStationProcess, gauge_line_config, wait_for

pytestmark = pytest.mark.slow
StartStation = Callable[..., SimStationProcess]


def config_for(port: str) -> Callable[[Path, str], str]:
    def text(data_dir: Path, listen: str) -> str:
        return gauge_line_config(data_dir, port, 1.0, listen=listen, timeout_s=0.3) + '''
[[rain_gauges]]
id = "rg-1"
bus = "rs485"
unit = 1
model = "xm9505"
'''
    return text


def total_24h(station: SimStationProcess) -> float | None:
    gauge = station.get("/api/v1/rain").json()["gauges"][0]
    return gauge["totals"]["24h"] if gauge["status"] == "ok" else None


def metric(station: SimStationProcess, name: str) -> float:
    text = station.get("/metrics").text
    return float(next(x for x in text.splitlines() if x.startswith(name + " ")).split()[-1])


@pytest.fixture
def sim() -> Iterator[GaugeSim]:
    with GaugeSim("--unit", "1,model=xm9505,start=400") as s:
        yield s


def test_kill_9_loses_no_rain_the_gauge_counted(sim_station: StartStation,
                                                 sim: GaugeSim) -> None:
    config = config_for(sim.url)
    station = sim_station(config=config)
    wait_for("the first reading", lambda: total_24h(station) == 0.0)
    sim.command("rain 1 2.0")     # what a 0.1 mm bucket can tip in one poll, no more
    wait_for("2 mm counted", lambda: total_24h(station) == 2.0)
    assert station.stop() == 0    # a clean stop writes what is pending

    station = sim_station(config=config)
    wait_for("the 2 mm restored", lambda: total_24h(station) == 2.0)
    sim.command("rain 1 1.5")
    wait_for("1.5 mm more counted", lambda: total_24h(station) == 3.5)
    assert metric(station, "station_edge_rain_archive_pending_mm") == pytest.approx(1.5), \
        "the 1.5 mm are in memory only when the daemon dies"
    station.kill()                # kill -9
    sim.command("rain 1 1.2")     # falls while nobody is looking

    station = sim_station(config=config)
    counted = wait_for("the rain of the crash counted",
                       lambda: total_24h(station) not in (None, 2.0) and total_24h(station))
    assert counted == pytest.approx(4.7), "each millimetre once: 2 kept, 2.7 recovered"
    assert float(sim.status(1)["rain_mm"]) == pytest.approx(4.7)
    events = station.events()
    [recovered] = [e["data"] for e in events if e["kind"] == "rain.outage_increment"]
    assert recovered["mm"] == pytest.approx(2.7) and recovered["missed_polls"] == 1
    assert not [e for e in events if e["kind"] == "rain.data_gap"]
