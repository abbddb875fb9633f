"""station-county without a fleet: the station list, choosing stations, reports, and the
commands against two real stations served in-process (their FastAPI apps behind httpx)."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from county import cap_push, events, stations
from county.cli import _parser, run_command
from county.report import display_width, table
from edge.api.app import create_app
from tests.cap_examples import variant
from tests.helpers import REPO, StationRun, sim_config

EXAMPLE = REPO / "docs" / "county" / "stations.example.toml"


def listed(text: str, base: Path) -> stations.County:
    import tomllib

    return stations.parse(tomllib.loads(text), base=base)


def problems(text: str, base: Path) -> list[str]:
    with pytest.raises(stations.StationListError) as caught:
        listed(text, base)
    return caught.value.problems


def test_the_example_station_list_loads_with_its_token_files(tmp_path: Path) -> None:
    (tmp_path / "stations.toml").write_text(EXAMPLE.read_text())
    (tmp_path / "viewer.token").write_text("county-viewer\n")
    (tmp_path / "operator.token").write_text("county-operator\n")
    county = stations.load(tmp_path / "stations.toml")
    first, second = county.stations
    assert (county.code, first.id, first.address) == ("421127", "SG-001", "10.20.1.11:8080")
    assert (first.token, first.operator_token) == ("county-viewer", "county-operator")
    assert second.token == "a-token-of-its-own", "a station's own token wins"


def test_every_problem_of_a_station_list_is_named_by_its_key_path(tmp_path: Path) -> None:
    text = '''
[county]
nmae = "typo"
[[stations]]
id = "SG-001"
url = "ftp://10.0.0.1"
area = "42-11"
token = "t"
[[stations]]
id = "SG-001"
url = "http://10.0.0.2:8080"
area = "421127"
token = "t"
token_file = "t.token"
[[stations]]
id = "SG-003"
url = "http://10.0.0.3:8080"
area = "421127"
colour = "red"
'''
    assert problems(text, tmp_path) == [
        "county.nmae: unknown key",
        "stations[0].url: must be http(s)://host:port, got 'ftp://10.0.0.1'",
        "stations[0].area: must be a division code (digits), got '42-11'",
        "stations[1]: give token or token_file, not both",
        "stations[2].colour: unknown key",
        "stations[2].token: missing (here or in [defaults])",
    ]
    assert problems('[[stations]]\nid = "A"\nurl = "http://a:1"\narea = "42"\ntoken = "t"\n'
                    '[[stations]]\nid = "A"\nurl = "http://b:1"\narea = "42"\ntoken = "t"\n',
                    tmp_path) == ["stations[1].id: 'A' is listed twice"]


def station(sid: str, area: str) -> stations.Station:
    return stations.Station(sid, sid, f"http://{sid}:8080", area, "", "t", None)


def test_choosing_stations_by_area_by_id_and_at_random() -> None:
    fleet = [station("A", "421127101"), station("B", "421127102"), station("C", "421128101")]
    assert [s.id for s in stations.choose(fleet, area="421127")] == ["A", "B"]
    assert [s.id for s in stations.choose(fleet, area="421100")] == ["A", "B", "C"], "the city"
    assert [s.id for s in stations.choose(fleet, area="421127102")] == ["B"]
    assert [s.id for s in stations.choose(fleet, ids=["C", "A"])] == ["A", "C"]
    drawn = stations.choose(fleet, sample=2, rng=random.Random(7))
    assert len(drawn) == 2 and len({s.id for s in drawn}) == 2
    assert stations.choose(fleet, sample=5) == fleet
    with pytest.raises(stations.StationListError):
        stations.choose(fleet, ids=["Z"])


def test_a_table_lines_up_chinese_and_english() -> None:
    text = table(("站点 station", "结果 result"), [["SG-001", "已应答 answered"],
                                                  ["SG-0002", "未应答 missed"]])
    header, _rule, first, second = text.splitlines()
    assert display_width("已应答") == 6
    column = [display_width(line[:line.index(word)]) for line, word in
              ((header, "结果"), (first, "已应答"), (second, "未应答"))]
    assert len(set(column)) == 1, text


def test_a_station_answer_to_a_cap_push_is_accepted_duplicate_or_refused() -> None:
    assert cap_push.classify(200, {"action": "play", "reason": "actual alert",
                                   "broadcasts": ["b1"]}).result == "accepted"
    assert cap_push.classify(200, {"action": "silent", "reason": "test"}).result == "accepted"
    assert cap_push.classify(200, {"action": "ignore", "reason": "duplicate: already received"}
                             ).result == "duplicate"
    refused = cap_push.classify(200, {"action": "ignore",
                                      "reason": "not for this station's area"})
    assert (refused.result, refused.reason) == ("refused", "not for this station's area")
    invalid = cap_push.classify(422, None, "invalid: element sent missing")
    assert (invalid.result, invalid.reason) == ("refused", "invalid: element sent missing")


def test_since_is_relative_or_a_beijing_time() -> None:
    now = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert events.since_utc("2h", now) == "2026-07-01T10:00:00.000Z"
    assert events.since_utc("30m", now) == "2026-07-01T11:30:00.000Z"
    assert events.since_utc("2026-07-01 08:00", now) == "2026-07-01T00:00:00.000Z"
    assert events.since_utc("2026-07-01T08:00:00Z", now) == "2026-07-01T08:00:00.000Z"
    with pytest.raises(ValueError):
        events.since_utc("yesterday", now)


# -- against two real stations, in-process ------------------------------------------------

PORTS = {"SIM-001": 18001, "SIM-002": 18002}


class TwoStations:
    """Two stations on manual clocks, reachable by URL through their ASGI apps."""

    def __init__(self, tmp_path: Path) -> None:
        self.runs = {sid: StationRun(sim_config(tmp_path / sid,
                                                **{'id = "SIM-001"': f'id = "{sid}"'}))
                     for sid in PORTS}
        self.list_file = tmp_path / "stations.toml"
        self.list_file.write_text("".join(
            f'[[stations]]\nid = "{sid}"\nurl = "http://127.0.0.1:{port}"\narea = "421127"\n'
            'token = "sim-viewer"\noperator_token = "sim-operator"\n'
            for sid, port in PORTS.items()) + '[[stations]]\nid = "SIM-404"\n'
            'url = "http://127.0.0.1:9"\narea = "421128"\ntoken = "sim-viewer"\n')

    async def __aenter__(self) -> TwoStations:
        for run in self.runs.values():
            await run.__aenter__()
        mounts = {f"http://127.0.0.1:{PORTS[sid]}": httpx.ASGITransport(
            app=create_app(run.station)) for sid, run in self.runs.items()}
        self.http = httpx.AsyncClient(mounts=mounts, trust_env=False)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()
        for run in self.runs.values():
            await run.__aexit__(*exc)

    async def command(self, *argv: str) -> tuple[int, str, str]:
        args: argparse.Namespace = _parser().parse_args(
            ["--stations", str(self.list_file), "--timeout", "2", *argv])
        out, err = io.StringIO(), io.StringIO()
        code = await run_command(args, stations.load(self.list_file), self.http, out, err)
        return code, out.getvalue(), err.getvalue()


async def test_status_shows_every_station_and_the_unreachable_one(tmp_path: Path) -> None:
    async with TwoStations(tmp_path) as two:
        two.runs["SIM-002"].station.parts.alarms.hand_alarm("ha-1", "村口手动报警", True)
        code, out, err = await two.command("status", "--csv", str(tmp_path / "status.csv"))
    assert code == 1, "one station could not be reached"
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["站点", "station"]
    [one] = [line for line in lines if line.startswith("SIM-001")]
    [two_] = [line for line in lines if line.startswith("SIM-002")]
    [gone] = [line for line in lines if line.startswith("SIM-404")]
    assert "是 yes" in one and "正常 ok" in one and "无 none" in one
    assert "1（1 未确认 unacknowledged）" in two_
    assert "否 no" in gone and "不可达 unreachable" in gone
    assert "status 进度 progress 3/3，失败 failed 1" in err
    rows = (tmp_path / "status.csv").read_text().splitlines()
    assert rows[0].startswith("station,name,reachable,health")
    assert rows[2].startswith("SIM-002,") and ",1,1," in rows[2]


async def test_cap_push_reports_refused_then_duplicate(tmp_path: Path) -> None:
    elsewhere = tmp_path / "neighbour.xml"
    elsewhere.write_bytes(variant("cn_rainstorm_red.xml",
                                  ("<value>421127</value>", "<value>421128</value>"),
                                  ("<value>421127</value>", "<value>421128</value>")))
    async with TwoStations(tmp_path) as two:
        code, first, _ = await two.command("cap", "push", str(elsewhere), "--area", "421127")
        _, again, _ = await two.command("cap", "push", str(elsewhere), "--area", "421127",
                                        "--csv", str(tmp_path / "cap.csv"))
    assert code == 0, "both stations answered"
    assert "SIM-404" not in first, "--area leaves the other county's station out"
    rows = [line for line in first.splitlines() if line.startswith("SIM-")]
    assert len(rows) == 2 and all("拒收 refused" in row for row in rows)
    assert all("不属本站区域 not for this station's area" in row for row in rows)
    assert sum("重复 duplicate" in line for line in again.splitlines()
               if line.startswith("SIM-")) == 2
    assert "推送 2 站 pushed to 2 stations: 已接收 accepted 0，重复 duplicate 2" in again
    assert (tmp_path / "cap.csv").read_text().splitlines()[1].startswith(
        "SIM-001,SIM-001,421127,duplicate,ignore,duplicate: already received")


async def test_events_are_pulled_into_one_file_and_the_next_pull_resumes(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    async with TwoStations(tmp_path) as two:
        await asyncio.gather(*(run.settled_events() for run in two.runs.values()))
        code, out, err = await two.command("events", "--since", "2000-01-01", "--db", str(db),
                                           "--station", "SIM-001", "--station", "SIM-002",
                                           "--format", "jsonl")
        first = [json.loads(line) for line in out.splitlines()]
        run = two.runs["SIM-002"]
        run.station.journal.record("test.after_first_pull", "tests")
        await run.settled_events()
        _, again, _ = await two.command("events", "--since", "2000-01-01", "--db", str(db),
                                        "--station", "SIM-002", "--kind", "test",
                                        "--format", "csv")
    assert code == 0, err
    assert {e["station"] for e in first} == {"SIM-001", "SIM-002"}
    assert any(e["kind"] == "station.started" for e in first)
    assert again.splitlines()[0] == "station,generation,seq,ts,kind,source,actor,data"
    kinds = [line.split(",")[4] for line in again.splitlines()[1:]]
    assert "test.after_first_pull" in kinds
    with closing(sqlite3.connect(db)) as conn:
        held = dict(conn.execute("SELECT station, last_seq FROM cursors"))
        stored = conn.execute("SELECT COUNT(*), COUNT(DISTINCT station || seq) FROM events"
                              ).fetchone()
    assert held["SIM-002"] > max(e["seq"] for e in first if e["station"] == "SIM-002")
    assert stored[0] == stored[1], "nothing was stored twice"
