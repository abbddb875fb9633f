"""The station's overall state, the words of devices and the journal: plain functions.

What the duty officer reads first is decided here, without a station or an event loop:
the most severe condition wins, nothing else is hidden, names come from the config, and
every kind the code can journal has words in both languages.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from edge.device_words import advice, detail_words
from edge.duty_log import csv_text, duty_day_of, duty_day_span, fold
from edge.evacuation import decide
from edge.journal_kinds import KINDS
from edge.journal_words import JournalWords
from edge.names import MESSAGES, Names
from edge.rain_gaps import gaps
from edge.station_state import conditions, overall, sounding
from tests.helpers import sim_config
from tests.journal_kinds import scan

RAIN_EVACUATE = {"id": "a1", "kind": "rain", "source": "rg-1", "level": "evacuate",
                 "window": "1h", "total_mm": 52.3, "threshold_mm": 50.0, "state": "active"}
RAIN_PREPARE = RAIN_EVACUATE | {"id": "a2", "source": "rg-2", "level": "prepare",
                                "total_mm": 31.0, "threshold_mm": 30.0}
EVACUATION = {"id": "b1", "message": "evacuate", "zones": ["all"], "repeat": 3, "plays": 1,
              "priority": "evacuation", "state": "playing"}
FAULTY = {"id": "amplifier", "kind": "amplifier", "status": "fault", "detail": "x"}
OFFLINE = {"id": "rg-1", "kind": "rain_gauge", "status": "offline", "detail": "x"}


def names(tmp_path: Path) -> Names:
    return Names(sim_config(tmp_path, with_simulators=True))


def test_the_most_severe_condition_leads_and_none_is_hidden(tmp_path: Path) -> None:
    said = names(tmp_path)
    found = conditions(alarms=[RAIN_PREPARE, RAIN_EVACUATE], broadcasts=[EVACUATION],
                       devices=[OFFLINE, FAULTY], checkin_waiting=True, names=said)
    assert [c.level for c in found] == ["evacuate", "evacuating", "prepare", "fault",
                                        "checkin", "degraded"]
    top = overall(found)
    assert top["says"]["zh"] == "立即转移" and top["tone"] == "critical"
    assert top["detail"]["zh"] == "后山雨量站 1小时雨量52.3毫米（阈值50毫米）"
    assert [c["level"] for c in top["also"]] == [c.level for c in found[1:]]
    evacuating = next(c for c in top["also"] if c["level"] == "evacuating")
    assert evacuating["detail"]["zh"] == "第2/3遍，全部区域"


def test_calm_fault_and_an_acknowledged_alarm(tmp_path: Path) -> None:
    said = names(tmp_path)
    calm = overall(conditions(alarms=[], broadcasts=[], devices=[], checkin_waiting=False,
                              names=said))
    assert (calm["level"], calm["says"]["zh"], calm["also"]) == ("ok", "正常", [])
    fault = overall(conditions(alarms=[], broadcasts=[], devices=[FAULTY, OFFLINE],
                               checkin_waiting=False, names=said))
    assert fault["level"] == "fault" and fault["detail"]["zh"] == "广播功放故障"
    assert fault["also"][0]["detail"]["zh"] == "后山雨量站离线"
    acknowledged = RAIN_PREPARE | {"state": "acknowledged"}
    still = overall(conditions(alarms=[acknowledged, RAIN_PREPARE | {"state": "cleared"}],
                               broadcasts=[], devices=[], checkin_waiting=False, names=said))
    assert still["level"] == "prepare", "an acknowledged alarm is still the village's state"
    hand = {"id": "a3", "kind": "hand_alarm", "source": "ha-1", "level": "evacuate",
            "state": "active"}
    pressed = overall(conditions(alarms=[hand], broadcasts=[], devices=[],
                                 checkin_waiting=False, names=said))
    assert pressed["detail"]["zh"] == "村口手动报警被按下"


def test_what_is_sounding_is_named(tmp_path: Path) -> None:
    said = names(tmp_path)
    siren_broadcast = {"siren": "urgent_warning", "zones": ["north"], "repeat": 1, "plays": 0,
                       "state": "playing"}
    heard = sounding(broadcasts=[siren_broadcast, EVACUATION | {"state": "waiting"},
                                 EVACUATION | {"state": "done"}],
                     sirens=["siren-1", "siren-2"],
                     messages={"evacuate": MESSAGES["evacuate"]}, names=said)
    assert [h.zh for h in heard] == ["警报器鸣响：村委会警报器、河口村远程警报器",
                                     "广播：紧急警报信号（北片，第1/1遍）",
                                     "即将广播：立即转移令（全部区域）"], "waiting is not silence"


def test_device_details_and_advice_in_words() -> None:
    assert detail_words("no reply for 5 polls: timeout").zh == "连续5次查询无应答"
    assert detail_words("cut after 1801 s (max 1800 s)").zh == \
        "连续接通1801秒，超过最长1800秒，已被切断"
    assert detail_words("something new").zh == "something new", "unknown text as written"
    gauge = advice("rain_gauge", "offline")
    assert gauge is not None and "不会据此报警" in gauge.zh
    assert advice("siren", "ok") is None
    assert advice("gizmo", "fault") is not None, "every fault says what to do"


def test_every_kind_the_code_journals_has_words_in_both_languages() -> None:
    found = scan()
    assert not found.unresolved, "\n".join(found.unresolved)
    assert len(found.kinds) > 100, "the scanner finds the code's kinds"
    missing = {kind: where[0] for kind, where in found.kinds.items() if kind not in KINDS}
    assert not missing, ("journal kinds without words: add them to edge/journal_kinds.py "
                         f"(zh, en, filter): {missing}")
    for kind, words in KINDS.items():
        assert words.zh and words.en and words.zh != words.en, kind
        assert not words.zh.isascii(), f"{kind}: the Chinese is missing"


def event(seq: int, kind: str, source: str, actor: str = "system", ts: str = "", **data: Any
          ) -> dict[str, Any]:
    return {"seq": seq, "ts": ts or f"2026-07-01T00:00:{seq:02d}.000Z", "kind": kind,
            "source": source, "actor": actor, "data": data}


def test_events_described_with_names_units_and_folding(tmp_path: Path) -> None:
    words = JournalWords(sim_config(tmp_path, with_simulators=True))
    raised = event(1, "alarm.raised", "a1", alarm=RAIN_EVACUATE)
    said = words.describe(raised)
    assert said["title"]["zh"] == "立即转移预警" and said["category"] == "alarms"
    assert said["text"]["zh"] == "后山雨量站 1小时雨量52.3毫米（阈值50毫米）"
    assert not said["chatter"] and said["group"] == "alarm:a1"
    switching = words.describe(event(2, "output.switching", "siren-1", "alarm", to="on",
                                     reason="siren urgent_warning"))
    assert switching["chatter"] and switching["group"] == "alarm:*"
    assert switching["text"]["zh"].startswith("村委会警报器 打开")
    health = words.describe(event(3, "health.changed", "rg-1", status="offline",
                                  detail="no reply for 3 polls: timeout", previous="ok"))
    assert health["text"]["zh"] == "后山雨量站：离线（连续3次查询无应答）"
    assert health["ids"] == "health.changed · rg-1 · system", "ids only in the details line"
    hand = words.describe(event(4, "alarm.raised", "a2", "ha-1",
                                alarm={"kind": "hand_alarm", "source": "ha-1",
                                       "level": "evacuate"}))
    assert hand["title"]["zh"] == "手动报警", "a villager's alarm is 报警, rain is 预警"
    unknown = words.describe(event(5, "gizmo.did", "x", detail="off"))
    assert unknown["title"]["zh"] == "gizmo.did" and unknown["text"]["zh"] == "说明：关闭"


def test_chatter_folds_under_its_cause_and_the_day_reads_as_csv(tmp_path: Path) -> None:
    words = JournalWords(sim_config(tmp_path, with_simulators=True))
    siren_broadcast = {"id": "b9", "siren": "urgent_warning", "zones": ["all"], "repeat": 1,
                       "labels": {"alarm": "a1"}}
    events = [
        event(1, "output.switching", "amplifier.power", "broadcast", to="on"),  # nothing before
        event(2, "alarm.raised", "a1", alarm=RAIN_EVACUATE),
        event(3, "health.changed", "rg-2", status="offline", detail="x", previous="ok"),
        *[event(4 + i, "output.switched", "siren-1", "alarm", to="on" if i % 2 else "off")
          for i in range(6)],
        event(10, "broadcast.started", "b9", "rg-1", broadcast=siren_broadcast),
        event(11, "duty.handover_note", "panel", "王值班", text="雨停后复查后山"),
        event(12, "alarm.acknowledged", "a1", "王值班", alarm=RAIN_EVACUATE),
    ]
    entries = fold(events, words.describe)
    assert [e.event["seq"] for e in entries] == [1, 2, 3, 11, 12]
    assert [f["seq"] for f, _ in entries[1].folded] == [4, 5, 6, 7, 8, 9, 10], \
        "the siren's switching and the alarm's broadcast fold under the alarm, not the " \
        "health change between them"
    assert entries[1].summary() == "输出已切换 ×6；广播开始 ×1"
    text = csv_text(entries)
    assert text.startswith("\ufeff时间（北京时间）,类别,事件,详情,操作人,附带动作")
    assert "2026-07-01 08:00:11,值班,交接班记录,王值班：雨停后复查后山,王值班" in text
    assert ("立即转移预警,后山雨量站 1小时雨量52.3毫米（阈值50毫米）,站点（自动）,"
            "输出已切换 ×6") in text


def test_a_duty_day_runs_from_eight_to_eight_beijing_time() -> None:
    start, end = duty_day_span(date(2026, 7, 1))
    assert (start, end) == (datetime(2026, 7, 1, 0, 0, tzinfo=UTC),
                            datetime(2026, 7, 2, 0, 0, tzinfo=UTC))
    assert duty_day_of(datetime(2026, 7, 1, 23, 59, tzinfo=UTC)) == date(2026, 7, 1)
    assert duty_day_of(datetime(2026, 7, 1, 0, 0, tzinfo=UTC)) == date(2026, 7, 1)
    assert duty_day_of(datetime(2026, 6, 30, 23, 59, tzinfo=UTC)) == date(2026, 6, 30), \
        "07:59 Beijing still belongs to the day before"


def test_gaps_in_a_gauges_data_from_the_journal() -> None:
    start = datetime(2026, 7, 1, 0, 0, tzinfo=UTC)
    end = datetime(2026, 7, 2, 0, 0, tzinfo=UTC)
    events = [
        event(1, "health.changed", "rg-1", ts="2026-07-01T01:00:00.000Z", status="offline",
              previous="ok"),
        event(2, "health.changed", "rg-2", ts="2026-07-01T01:30:00.000Z", status="ok",
              previous="offline"),
        event(3, "health.changed", "rg-1", ts="2026-07-01T02:00:00.000Z", status="ok",
              previous="offline"),
        # killed after its last event at 05:00, started again at 06:00
        event(5, "station.started", "station", ts="2026-07-01T06:00:00.000Z")
        | {"previous_ts": "2026-07-01T05:00:00.000Z"},
        event(6, "health.changed", "rg-1", ts="2026-07-01T06:00:05.000Z", status="ok",
              previous="unknown"),
    ]
    assert gaps(events, "rg-1", start, end, stale_since=None) == [
        {"from": "2026-07-01T01:00:00.000Z", "to": "2026-07-01T02:00:00.000Z"},
        {"from": "2026-07-01T05:00:00.000Z", "to": "2026-07-01T06:00:05.000Z"}]
    first_start = event(1, "station.started", "station", ts="2026-07-01T03:00:00.000Z")
    assert gaps([first_start], "rg-1", start, end, stale_since=None) == [
        {"from": "2026-07-01T00:00:00.000Z", "to": "2026-07-02T00:00:00.000Z"}], \
        "nothing before the station's first start is known; not answering since"
    assert gaps(events[1:2], "rg-2", start, end, stale_since=None) == [
        {"from": "2026-07-01T00:00:00.000Z", "to": "2026-07-01T01:30:00.000Z"}], \
        "out already when the span began"
    stale = datetime(2026, 7, 1, 20, 0, tzinfo=UTC)
    assert gaps([], "rg-1", start, end, stale_since=stale) == [
        {"from": "2026-07-01T20:00:00.000Z", "to": None}], "stale now: open to the end"


def test_a_second_evacuation_order_is_refused_restarted_or_queued_as_asked() -> None:
    from unittest.mock import sentinel

    assert decide("refuse", None) == decide("restart", None) == "started"
    assert decide("refuse", sentinel.active) is None
    assert decide("restart", sentinel.active) == "restarted"
    assert decide("queue", sentinel.active) == "queued"
