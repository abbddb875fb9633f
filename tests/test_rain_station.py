"""Gauges through a whole in-process station, against the gauge simulator, on a manual clock.

A gauge that says it is broken is ``fault``: held (null, NaN, with the time it stopped),
never raising, its rain counted once it reads again; every window's crossing on the
alarm; a dry poll writes nothing; rain near an hour boundary lands in both hours.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from gauge_sim_process import GaugeSim

from drivers.clock import ManualClock, iso_utc
from edge.api.app import create_app
from edge.config import parse
from tests.helpers import SIM_VIEWER, StationRun, gauge_line_config


def config_text(data_dir: Path, port: str, poll_s: float) -> str:
    return gauge_line_config(data_dir, port, poll_s) + '''
[[rain_gauges]]
id = "rg-1"
name = "后山雨量站"
bus = "rs485"
unit = 3
model = "lambrecht-rain-e"
[[rain_thresholds]]
window = "1h"
prepare_mm = 5.0
evacuate_mm = 10.0
[[rain_thresholds]]
window = "3h"
prepare_mm = 8.0
evacuate_mm = 20.0
'''


@pytest.fixture
def sim() -> Iterator[GaugeSim]:
    with GaugeSim("--unit", "3,model=lambrecht-rain-e,start=1000") as s:
        yield s


async def start(tmp_path: Path, sim: GaugeSim, poll_s: float,
                clock: ManualClock | None = None) -> StationRun:
    run = StationRun(parse(config_text(tmp_path / "data", sim.url, poll_s)), clock)
    await run.__aenter__()
    await run.polled()
    return run


async def poll(run: StationRun, sim: GaugeSim, seconds: float, mm: float = 0.0) -> None:
    if mm:
        sim.command(f"rain 3 {mm}")
    await run.clock.advance(seconds)
    await run.polled()


def metric(text: str, name: str) -> float:
    return float(next(x for x in text.splitlines() if x.startswith(name)).split()[-1])


async def test_a_faulty_gauge_is_held_never_alarms_and_its_rain_comes_back(
    tmp_path: Path, sim: GaugeSim
) -> None:
    run = await start(tmp_path, sim, 30)
    try:
        rain = run.station.parts.rain
        assert rain is not None
        await poll(run, sim, 30, 2.0)
        await poll(run, sim, 30, 2.0)
        stopped = run.clock.now()
        sim.command("sensor 3 fault 0x0004")         # the inner temperature sensor failed
        await poll(run, sim, 30)
        assert run.station.health.get("rg-1").status == "fault"
        transport = httpx.ASGITransport(app=create_app(run.station))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            gauge = (await client.get("/api/v1/rain", headers=SIM_VIEWER)).json()["gauges"][0]
            assert gauge["status"] == "fault" and gauge["fresh"] is False
            assert "status register 34901 = 0x0004" in gauge["detail"]
            assert set(gauge["totals"].values()) == {None} and gauge["day_total"] is None
            assert gauge["stopped_at"] == iso_utc(stopped)
            metrics = (await client.get("/metrics", headers=SIM_VIEWER)).text
            assert math.isnan(metric(metrics,
                                     'station_edge_rain_window_mm{gauge="rg-1",window="1h"}'))
            assert metric(metrics, 'station_edge_rain_last_reading_timestamp_seconds'
                          '{gauge="rg-1"}') == stopped.timestamp()
            for _ in range(4):                          # 8 mm fall while it is broken
                await poll(run, sim, 30, 2.0)
            url = (f"/api/v1/rain/rg-1/series?from={iso_utc(stopped - timedelta(seconds=120))}"
                   f"&to={iso_utc(run.clock.now())}&step=60")
            held = (await client.get(url, headers=SIM_VIEWER)).json()
            assert held["stopped_at"] == iso_utc(stopped)
            assert [p["mm"] is None for p in held["points"]] == [False, False, True, True]
            assert held["points"][1]["mm"] > 0, "the rain read before the fault is shown"
            assert run.station.parts.alarms.list() == [], "a broken gauge never raises"
            sim.command("sensor 3 ok")
            await poll(run, sim, 30)
            await poll(run, sim, 30)
            assert run.station.health.get("rg-1").status == "ok"
            gauge = (await client.get("/api/v1/rain", headers=SIM_VIEWER)).json()["gauges"][0]
            assert gauge["totals"]["1h"] == 12.0, "the fault's rain came back, in total"
            back = (await client.get(url, headers=SIM_VIEWER)).json()
            assert back["stopped_at"] is None
            assert None not in [p["mm"] for p in back["points"]], "spread over the fault"
            [alarm] = run.station.parts.alarms.list()
            assert alarm.level == "evacuate"
            detail = (await client.get(f"/api/v1/alarms/{alarm.id}", headers=SIM_VIEWER)).json()
            assert [(r["window"], r["transition"], r["level"]) for r in detail["windows"]] == [
                ("1h", "raised", "evacuate"), ("3h", "raised", "prepare")]
            assert (await client.get("/api/v1/alarms/nope", headers=SIM_VIEWER)).status_code == 404
        events = await run.settled_events()
        [outage] = [e["data"] for e in events if e["kind"] == "rain.outage_increment"]
        assert outage["mm"] == pytest.approx(8.0) and outage["missed_polls"] == 5
        windows = [e["data"]["window"] for e in events if e["kind"] == "rain.window"]
        assert windows == ["1h", "3h"]
    finally:
        await run.__aexit__()


async def test_dry_polls_write_nothing_and_rain_lands_in_the_hour_it_fell(
    tmp_path: Path, sim: GaugeSim
) -> None:
    # a 70 s poll from 00:59:00 to 01:00:10 straddles the hour
    run = await start(tmp_path, sim, 70, ManualClock(datetime(2026, 7, 1, 0, 59, tzinfo=UTC)))
    try:
        rain = run.station.parts.rain
        assert rain is not None
        await poll(run, sim, 70, 1.4)
        await poll(run, sim, 70)                     # the rain is written within a minute
        assert rain.pending.minutes == {}
        writes, seq = rain.archive_writes, run.station.journal.last_recorded_seq
        for _ in range(20):                          # 23 minutes of dry polls
            await poll(run, sim, 70)
        assert 1 <= rain.archive_writes - writes <= 20 * 70 // 300, "a rare confirmation only"
        assert run.station.journal.last_recorded_seq == seq, "no heartbeat in the journal"
        transport = httpx.ASGITransport(app=create_app(run.station))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            series = (await client.get("/api/v1/rain/rg-1/series?from=2026-07-01T00:00:00Z"
                                       "&to=2026-07-01T02:00:00Z&step=3600",
                                       headers=SIM_VIEWER)).json()
        assert [p["mm"] for p in series["points"]] == [1.2, 0.2]
        hour = datetime(2026, 7, 1, 1, 0, tzinfo=UTC)
        assert rain.windows["rg-1"].total("1h", hour) == pytest.approx(1.2)
        assert rain.windows["rg-1"].total("1h", hour + timedelta(hours=1)) == pytest.approx(0.2)
    finally:
        await run.__aexit__()
