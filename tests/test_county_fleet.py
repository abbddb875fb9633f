"""A county on this machine (county/fleet.py): five simulated stations as processes, a real
Prometheus scraping them every second with the shipped rules (``for:`` shortened to 2 s;
their real durations are unit-tested in test_county_rules.py), Alertmanager with the
shipped routes, and the ``station-county`` command line against all of it.

One fleet serves the whole module, and the tests run in order: every station up first;
then SIM-005 is killed and a gauge of SIM-002 falls silent; the spot check and the CAP
push then see the dead station as unreachable. The stations run 60 times faster than
real time, so a spot check nobody answers (300 s) is missed after 5 s.
"""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from county.fleet import Fleet, FleetSettings, plan
from tests.cap_examples import example
from tests.helpers import REPO, SIM_OPERATOR, SIM_VIEWER

pytestmark = pytest.mark.slow
COUNTY = REPO / "docs" / "county"
TIME_SCALE = 60.0
ALERT_WAIT_S = 120.0  # a ceiling for a busy machine; on a quiet one they fire in seconds
BEIJING = timezone(timedelta(hours=8))


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    for program in ("prometheus", "prometheus-alertmanager"):
        if not Path("/usr/bin", program).exists():
            pytest.skip(f"{program} is not installed (scripts/bootstrap.sh)")
    workdir = tmp_path_factory.mktemp("fleet")
    stations = plan(5, workdir, rain_every=3, fault_every=0, rain="constant:6")
    settings = FleetSettings(time_scale=TIME_SCALE, scrape_interval="1s",
                             evaluation_interval="1s", alert_for="2s")
    with Fleet(workdir, stations, settings) as running:
        yield running


def county(fleet: Fleet, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    program = Path(sys.executable).with_name("station-county")
    return subprocess.run([str(program), "--stations", str(fleet.workdir / "stations.toml"),
                           *args], capture_output=True, text=True, timeout=timeout)


def rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return {row["station"]: row for row in csv.DictReader(f)}


def test_every_dashboard_query_returns_series(fleet: Fleet) -> None:
    dashboard = json.loads((COUNTY / "dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    deadline = time.monotonic() + 20
    while True:  # a scrape that times out on a busy machine hides a station for a second
        empty = [e for e in exprs if not fleet.query(e.replace("$station", "SIM-001"))]
        if not empty or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert empty == []
    states = {r["metric"]["station"]: r["value"][1] for r in fleet.query(exprs[0])}
    assert set(states) == set(fleet.stations), "one tile per station"


def test_status_shows_every_station_and_the_rain(fleet: Fleet) -> None:
    deadline = time.monotonic() + 30
    while True:
        # sixty times faster, a gauge is stale 0.6 s after a late poll: on a busy machine
        # a status line may honestly say so (empty); and just after the fleet's start the
        # gauge's first tips may not be counted yet (0.0): ask again until SIM-003 has rain
        result = county(fleet, "status", "--csv", str(fleet.workdir / "status.csv"))
        table = rows(fleet.workdir / "status.csv")
        if float(table["SIM-003"]["rain_1h_mm"] or 0) > 0 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(table) == set(fleet.stations)
    assert all(row["reachable"] == "True" for row in table.values())
    assert float(table["SIM-003"]["rain_1h_mm"]) > 0 and table["SIM-003"]["rain_gauge"] == "rg-1"
    assert table["SIM-001"]["rain_1h_mm"] in ("0.0", ""), "no rain falls there (or stale)"
    assert "status 进度 progress 5/5" in result.stderr
    assert "模拟应急站003" in result.stdout


def test_a_killed_station_and_a_stale_gauge_alert_in_alertmanager(fleet: Fleet) -> None:
    fleet.gauge("SIM-002", "fault 1 silence")
    fleet.kill("SIM-005")
    down = fleet.wait_for_alert("StationDown", ALERT_WAIT_S, station="SIM-005")
    stale = fleet.wait_for_alert("RainGaugeStale", ALERT_WAIT_S, station="SIM-002", gauge="rg-1")
    for alert in (down, stale):
        assert alert["status"]["state"] == "active", alert
    assert down["labels"]["severity"] == "critical"
    assert down["annotations"]["summary"] == "应急站 SIM-005 无法访问 / station unreachable"


def test_spot_check_all_reports_answered_missed_and_unreachable(fleet: Fleet) -> None:
    report = fleet.workdir / "spot-check.csv"
    program = Path(sys.executable).with_name("station-county")
    with subprocess.Popen(
        [str(program), "--stations", str(fleet.workdir / "stations.toml"), "--timeout", "3",
         "spot-check", "--all", "--poll-s", "0.5", "--wait-s", "60", "--csv", str(report)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as cli:
        one = fleet.stations["SIM-001"].url
        with httpx.Client(trust_env=False, timeout=5,
                          limits=httpx.Limits(max_keepalive_connections=0)) as http:
            deadline = time.monotonic() + 30
            while not any(c["state"] == "waiting" for c in
                          http.get(f"{one}/api/v1/checkins", headers=SIM_VIEWER).json()[
                              "checkins"]):
                assert time.monotonic() < deadline, "the spot check never reached SIM-001"
                time.sleep(0.1)
            answered = http.post(f"{one}/api/v1/checkins/answer", headers=SIM_OPERATOR)
            assert answered.status_code == 200, answered.text
        out, err = cli.communicate(timeout=90)
    assert cli.returncode == 1, "not every station answered"
    table = rows(report)
    assert table["SIM-001"]["result"] == "answered"
    assert float(table["SIM-001"]["response_s"]) > 0
    assert table["SIM-001"]["answered_by"] == "sim-operator"
    assert {table[s]["result"] for s in ("SIM-002", "SIM-003", "SIM-004")} == {"missed"}
    assert table["SIM-005"]["result"] == "unreachable"
    assert "已应答 answered" in out and "未应答 missed" in out and "不可达 unreachable" in out
    assert "spot-check 进度 progress 5/5，失败 failed 1" in err


def cap_alert_for(area: str) -> bytes:
    """The red rainstorm example (China profile) for ``area``, sent now and valid for a
    month (the stations' clocks run sixty times faster)."""
    now = datetime.now(BEIJING).replace(microsecond=0)
    text = example("cn_rainstorm_red.xml").decode()
    for old, new in (("42112741600000_20250715080500_0",
                      f"42112741600000_{now:%Y%m%d%H%M%S}_0"),
                     ("2025-07-15T08:05:00+08:00", now.isoformat()),
                     ("2025-07-15T20:00:00+08:00", (now + timedelta(days=30)).isoformat()),
                     ("<value>421127</value>", f"<value>{area}</value>")):
        assert old in text
        text = text.replace(old, new)
    return text.encode()


def test_cap_push_is_accepted_in_its_area_refused_elsewhere(fleet: Fleet) -> None:
    alert = fleet.workdir / "rainstorm.xml"
    alert.write_bytes(cap_alert_for("421127"))
    report = fleet.workdir / "cap.csv"
    result = county(fleet, "--timeout", "3", "cap", "push", str(alert), "--csv", str(report))
    assert result.returncode == 1, "SIM-005 is dead"
    table = rows(report)
    assert {s: table[s]["result"] for s in table} == {
        "SIM-001": "accepted", "SIM-002": "accepted", "SIM-003": "accepted",
        "SIM-004": "refused", "SIM-005": "unreachable"}
    assert table["SIM-001"]["action"] == "play" and table["SIM-001"]["broadcasts"]
    assert table["SIM-004"]["reason"] == "not for this station's area"
    assert "拒收 refused" in result.stdout and "不属本站区域" in result.stdout
    again = county(fleet, "--timeout", "3", "cap", "push", str(alert), "--area", "421127")
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("重复 duplicate") == 3 + 1, "three stations and the summary"


def test_events_of_every_station_in_one_file(fleet: Fleet) -> None:
    db = fleet.workdir / "events.db"
    result = county(fleet, "--timeout", "3", "events", "--since", "30d", "--db", str(db),
                    "--kind", "checkin", "--format", "csv")
    assert result.returncode == 1, "SIM-005 is dead"
    assert "SIM-005: 不可达 unreachable" in result.stderr
    lines = list(csv.DictReader(result.stdout.splitlines()))
    started = {row["station"] for row in lines if row["kind"] == "checkin.started"}
    assert started == {"SIM-001", "SIM-002", "SIM-003", "SIM-004"}
    assert {row["station"] for row in lines if row["kind"] == "checkin.answered"} == {"SIM-001"}


def test_the_critical_alert_reached_the_county_webhook(fleet: Fleet) -> None:
    deadline = time.monotonic() + ALERT_WAIT_S
    while True:
        sent = [n for n in fleet.notifications if n["path"].endswith("/critical")
                and any(a["labels"].get("station") == "SIM-005"
                        and a["labels"]["alertname"] == "StationDown" for a in n["alerts"])]
        if sent:
            break
        assert time.monotonic() < deadline, fleet.notifications
        time.sleep(0.2)
    assert sent[0]["receiver"] == "county-duty-urgent"


def test_a_station_that_hangs_costs_only_its_own_timeout(fleet: Fleet) -> None:
    frozen = fleet.processes["SIM-004"]
    frozen.send_signal(signal.SIGSTOP)  # it accepts connections and never answers
    try:
        result = county(fleet, "--timeout", "1", "status", "--csv",
                        str(fleet.workdir / "hang.csv"))
    finally:
        frozen.send_signal(signal.SIGCONT)
    table = rows(fleet.workdir / "hang.csv")
    assert result.returncode == 1
    assert "超时 timed out after 1 s" in table["SIM-004"]["problem"]
    assert "无法连接 cannot connect" in table["SIM-005"]["problem"]
    assert all(table[s]["reachable"] == "True" for s in ("SIM-001", "SIM-002", "SIM-003"))
