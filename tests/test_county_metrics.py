"""What the county's Prometheus reads: the exposition passes promtool, no label clashes with
the county's own ``station`` label, every labelled series a rule looks for is there at 0
from the start, the shipped rules and dashboard name only metrics a station exports, and
the new series follow what happens (alarm acknowledged, spot check answered or missed)."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml

from edge.api.app import create_app
from edge.config import parse
from edge.sim.station import sim_config_text
from tests.helpers import REPO, SIM_OPERATOR, SIM_VIEWER, Scrape, StationRun, sim_config

pytestmark = pytest.mark.skipif(shutil.which("promtool") is None,
                                reason="promtool (Debian package prometheus) is not installed")
COUNTY = REPO / "docs" / "county"
#: Series Prometheus makes itself, which the rules and the dashboard may use too.
PROMETHEUS_OWN = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}


async def scrape_fresh_station(data_dir: Path) -> str:
    """A station with every part (phone and gauges unreachable): its first scrape over HTTP."""
    config = parse(sim_config_text(data_dir, "127.0.0.1:0", 1.0, {}))
    async with StationRun(config) as run:
        transport = httpx.ASGITransport(app=create_app(run.station))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            reply = await client.get("/metrics", headers=SIM_VIEWER)
    assert reply.status_code == 200
    return reply.text


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Scrape:
    return Scrape(asyncio.run(scrape_fresh_station(tmp_path_factory.mktemp("fresh"))))


def test_metrics_pass_promtool(fresh: Scrape) -> None:
    result = subprocess.run(["promtool", "check", "metrics"], input=fresh.text,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_label_clashes_with_the_county_station_label(fresh: Scrape) -> None:
    assert all("station" not in labels for _, labels in
               ((n, dict(lab)) for n, lab in fresh.samples)), "Prometheus would rename it"
    [info] = fresh.series("station_edge_info")
    assert info == {"station_id": "SIM-001", "station_name": "沙沟镇应急管理站（模拟）",
                    "version": "0.1.0"}


def test_every_labelled_series_is_there_at_zero_from_the_start(fresh: Scrape) -> None:
    def zeros(name: str) -> list[dict[str, str]]:
        series = fresh.series(name)
        assert series, f"{name} has no series"
        assert all(fresh.value(name, **labels) == 0 for labels in series), name
        return series

    alarms = {(s["kind"], s["level"], s["state"]) for s in zeros("station_edge_alarms_open")}
    assert alarms == {(k, lv, st) for k, lv in (("rain", "prepare"), ("rain", "evacuate"),
                                                ("hand_alarm", "evacuate"))
                      for st in ("active", "acknowledged")}
    assert {s["result"] for s in zeros("station_edge_checkins_total")} == {"answered", "missed"}
    assert {s["result"] for s in zeros("station_edge_callouts_total")} == {"answered",
                                                                          "unanswered"}
    assert {s["state"] for s in zeros("station_edge_satphone_outbox_messages")} == {
        "pending", "sent", "failed"}
    broadcasts = zeros("station_edge_broadcasts_total")
    assert {s["state"] for s in broadcasts} == {"done", "failed", "cancelled", "interrupted"}
    assert {"panel", "cap", "rain_rule", "sms"} <= {s["source"] for s in broadcasts}
    assert {s["kind"] for s in zeros("station_edge_alarm_ack_seconds_count")} == {
        "rain", "hand_alarm"}
    for name in ("station_edge_checkin_response_seconds_count",
                 "station_edge_callout_answer_seconds_count",
                 "station_edge_alarm_oldest_active_timestamp_seconds",
                 "station_edge_satphone_outbox_oldest_pending_timestamp_seconds",
                 "station_edge_checkin_waiting", "station_edge_callouts_calling"):
        zeros(name)
    gauges = {s["gauge"] for s in fresh.series("station_edge_rain_last_reading_timestamp_seconds")}
    assert gauges == {"rg-1", "rg-2"}
    assert "station_edge_journal_last_write_age_seconds" not in fresh.text, "replaced"
    assert fresh.value("station_edge_journal_last_write_timestamp_seconds") > 0
    assert fresh.value("station_edge_disk_free_bytes") > 0
    assert fresh.value("station_edge_disk_min_free_bytes") == 64 * 1024 * 1024


def metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\b(station_edge_\w+|up|scrape_duration_seconds)\b", expr))


def exported_names(fresh: Scrape) -> set[str]:
    names = {s for s, _ in fresh.samples}
    return names | {f.name for f in fresh.families} | PROMETHEUS_OWN


def test_rules_and_dashboard_name_only_exported_metrics(fresh: Scrape) -> None:
    exported = exported_names(fresh)
    rules = yaml.safe_load((COUNTY / "rules.yml").read_text())
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    dashboard = json.loads((COUNTY / "dashboard.json").read_text())
    exprs += [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    used = set().union(*(metric_names(e) for e in exprs))
    assert used - exported == set()
    assert "station_edge_info" in used and "up" in used


def test_timestamps_and_response_times_follow_what_happens(tmp_path: Path) -> None:
    async def scenario() -> None:
        config = sim_config(tmp_path, "[checkins]\nanswer_within_s = 60\n")
        async with StationRun(config) as run:
            station, clock = run.station, run.clock
            await clock.advance(30)
            await run.settled_events()
            start = Scrape.of(station)
            assert start.value("station_edge_time_seconds") == clock.now().timestamp()
            assert start.value("station_edge_journal_last_write_timestamp_seconds") <= \
                clock.now().timestamp()
            assert start.value("station_edge_journal_oldest_pending_timestamp_seconds") == 0, \
                "everything is on disk: nothing waits"

            raised_at = clock.now().timestamp()
            alarm = station.parts.alarms.hand_alarm("ha-1", "村口手动报警", True)
            await clock.advance(90)
            waiting = Scrape.of(station)
            assert waiting.value("station_edge_alarm_oldest_active_timestamp_seconds") == \
                raised_at
            assert waiting.value("station_edge_alarms_open", kind="hand_alarm",
                                 level="evacuate", state="active") == 1
            station.parts.alarms.acknowledge(alarm.id, actor="test")
            acked = Scrape.of(station)
            assert acked.value("station_edge_alarm_oldest_active_timestamp_seconds") == 0
            assert acked.value("station_edge_alarm_ack_seconds_sum", kind="hand_alarm") == 90
            assert acked.value("station_edge_alarm_ack_seconds_bucket", kind="hand_alarm",
                               le="60.0") == 0
            assert acked.value("station_edge_alarm_ack_seconds_bucket", kind="hand_alarm",
                               le="120.0") == 1

            transport = httpx.ASGITransport(app=create_app(station))
            async with httpx.AsyncClient(transport=transport,
                                         base_url="http://127.0.0.1") as client:
                await client.post("/api/v1/checkins", headers=SIM_VIEWER)
                assert Scrape.of(station).value("station_edge_checkin_waiting") == 1
                await clock.advance(61)
                await client.post("/api/v1/checkins", headers=SIM_VIEWER)
                await clock.advance(20)
                answered = await client.post("/api/v1/checkins/answer", headers=SIM_OPERATOR)
                assert answered.status_code == 200
            checks = Scrape.of(station)
            assert checks.value("station_edge_checkins_total", result="missed") == 1
            assert checks.value("station_edge_checkins_total", result="answered") == 1
            assert checks.value("station_edge_checkin_waiting") == 0
            assert checks.value("station_edge_checkin_response_seconds_bucket", le="30.0") == 1
            assert checks.value("station_edge_checkin_response_seconds_bucket", le="10.0") == 0
            assert checks.value("station_edge_checkin_response_seconds_sum") == \
                pytest.approx(20, abs=0.5)

    asyncio.run(scenario())


def test_response_times_are_cumulative_buckets_with_le_inclusive() -> None:
    from edge.exposition import ResponseTimes

    times = ResponseTimes((10.0, 60.0))
    for seconds in (10.0, 10.5, 60.0, 61.0, -1.0):
        times.observe(seconds)
    assert times.cumulative() == [("10.0", 2), ("60.0", 4), ("+Inf", 5)], "-1 s counts as 0"
    assert (times.count, times.sum_s) == (5, 141.5)
    with pytest.raises(ValueError):
        ResponseTimes((60.0, 10.0))
