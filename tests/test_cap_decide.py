"""What the station does with an alert: the decision table, priorities, areas, duplicates."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from broadcast.cap import (
    DRILL_PREFIX_EN,
    DRILL_PREFIX_ZH,
    CapAlert,
    CapDecision,
    CapInfo,
    SeenAlerts,
    StationArea,
    codes_match,
    decide,
    division_prefix,
    parse_alert,
    priority_for,
    spoken_text,
)
from broadcast.priority import Priority
from tests.cap_examples import example, variant

BJ = timezone(timedelta(hours=8))
NOW = datetime(2025, 7, 15, 9, 0, tzinfo=BJ)
SHAGOU = StationArea(frozenset({"421127101"}))  # a township of county 421127
RED = "cn_rainstorm_red.xml"
ORANGE_UPDATE = "cn_rainstorm_orange_update.xml"
CANCEL = "cn_rainstorm_cancel.xml"


def alert(name: str, *replacements: tuple[str, str]) -> CapAlert:
    return parse_alert(variant(name, *replacements) if replacements else example(name))


def run(a: CapAlert, seen: SeenAlerts | None = None, *, now: datetime = NOW,
        area: StationArea = SHAGOU) -> CapDecision:
    """Decide, then remember, as the daemon does."""
    seen = SeenAlerts() if seen is None else seen
    d = decide(a, now=now, area=area, seen=seen)
    seen.remember(a, now=now)
    return d


def test_red_rainstorm_plays_as_an_evacuation() -> None:
    d = run(alert(RED))
    assert (d.action, d.sounds, d.priority, d.type, d.level) == (
        "play", True, Priority.EVACUATION, "emergency", "I")
    assert d.info is not None and d.info.language == "zh-CN"
    assert d.text == ("黄梅县气象台发布暴雨红色预警信号。过去3小时沙沟镇降雨量已达110毫米，"
                      "预计未来3小时降雨将持续，山洪、泥石流风险极高。"
                      "请危险区域群众立即转移到安全地点，不要在河边、沟边停留。")
    assert d.expires == datetime(2025, 7, 15, 20, 0, tzinfo=BJ)
    assert d.effective == datetime(2025, 7, 15, 8, 5, tzinfo=BJ)
    assert d.area_match == "geocode 421127 matches station area 421127101"
    assert d.audio is None and d.drill_prefix is None and d.stops == ()
    assert d.alert_key == "42112741600000_20250715080500_0"


def test_duplicate_plays_once() -> None:
    seen = SeenAlerts()
    assert run(alert(RED), seen).action == "play"
    again = run(alert(RED), seen, now=NOW + timedelta(seconds=5))
    assert (again.action, again.reason) == ("ignore", "duplicate: already received")


def test_same_alert_from_two_county_servers_plays_once() -> None:
    seen = SeenAlerts()
    assert run(alert(RED), seen).sounds
    # the second server relays it under its own sender address: same national identifier
    relayed = alert(RED, ("<sender>42112741600000", "<sender>cap2.county.example"))
    assert run(relayed, seen).reason.startswith("duplicate")


def test_oasis_duplicates_are_by_sender_and_identifier() -> None:
    seen = SeenAlerts()
    area = StationArea(frozenset({"006037"}))
    amber = "oasis_a4_amber_alert.xml"
    assert run(alert(amber), seen, area=area).sounds
    resent = alert(amber, ("2003-06-11T22:39:00-07:00", "2003-06-11T22:41:00-07:00"))
    assert run(resent, seen, area=area).reason.startswith("duplicate")
    other_sender = alert(amber, ("KARO@CLETS", "KARO2@CLETS"))
    assert run(other_sender, seen, area=area).sounds


def test_expired_is_ignored() -> None:
    d = run(alert(RED), now=datetime(2025, 7, 15, 20, 0, tzinfo=BJ))
    assert (d.action, d.reason) == ("ignore", "expired")


def test_out_of_area_is_ignored() -> None:
    wuhan = StationArea(frozenset({"420102"}))
    assert run(alert(RED), area=wuhan).reason == "not for this station's area"


def test_exercise_plays_with_the_drill_prefix_and_its_audio() -> None:
    d = run(alert("cn_exercise_with_audio.xml"), now=datetime(2025, 7, 20, 9, 31, tzinfo=BJ))
    assert (d.action, d.type, d.level) == ("play", "drill", "II")
    assert d.priority == Priority.ROUTINE  # simulates an orange warning, never preempts
    assert d.drill_prefix == DRILL_PREFIX_ZH == "演练，演练。"
    assert d.text is not None and d.text.startswith("演练，演练。山洪灾害避险转移演练。")
    assert d.audio is not None and d.audio.data[:4] == b"RIFF"
    assert d.audio.mime_type == "audio/wav"
    assert "421127101001" in (d.area_match or "")  # a village of the station's township


def test_english_exercise_prefix() -> None:
    d = run(alert("oasis_a4_amber_alert.xml", ("<status>Actual", "<status>Exercise")),
            area=StationArea(frozenset({"006037"})))
    assert d.text is not None and d.text.startswith(DRILL_PREFIX_EN + "Amber Alert in")
    assert d.type == "drill" and d.info is not None and d.info.language == "en-US"


def test_test_message_is_silent() -> None:
    d = run(alert("cn_test_blue.xml"))
    assert (d.action, d.sounds) == ("silent", False)


def test_system_heartbeat_is_journaled_only() -> None:
    d = run(alert("cn_system_heartbeat.xml"))
    assert (d.action, d.sounds) == ("journal", False)


@pytest.mark.parametrize(("old", "new", "reason"), [
    ("<status>Actual", "<status>Draft", "draft"),
    ("<msgType>Alert", "<msgType>Ack", "Ack message: nothing to air"),
    ("<msgType>Alert", "<msgType>Error", "Error message: nothing to air"),
])
def test_drafts_acks_and_errors_are_ignored(old: str, new: str, reason: str) -> None:
    d = run(alert(RED, (old, new)))
    assert (d.action, d.reason) == ("ignore", reason)


def test_cancel_stops_what_it_references_and_never_sounds() -> None:
    d = run(alert(CANCEL), now=datetime(2025, 7, 15, 18, 0, tzinfo=BJ))
    assert (d.action, d.sounds, d.text, d.priority) == ("stop", False, None, None)
    assert [r.key for r in d.stops] == ["42112741600000_20250715080500_0",
                                        "42112741600000_20250715113000_0"]


def test_update_replaces_what_it_references() -> None:
    seen = SeenAlerts()
    red = run(alert(RED), seen)
    d = run(alert(ORANGE_UPDATE), seen, now=datetime(2025, 7, 15, 11, 30, tzinfo=BJ))
    assert (d.action, d.priority, d.level, d.type) == (
        "replace", Priority.ALARM_SIREN, "II", "emergency")
    assert [r.key for r in d.stops] == [red.alert_key]
    assert d.area_match == "geocode 421127000000 matches station area 421127101"


def test_update_that_has_expired_still_stops_the_old_one() -> None:
    d = run(alert(ORANGE_UPDATE), now=datetime(2025, 7, 16, 0, 0, tzinfo=BJ))
    assert (d.action, d.reason) == ("stop", "update expired: stops what it references")
    assert d.stops[0].identifier == "42112741600000_20250715080500_0"


def test_update_that_moved_away_stops_the_old_one() -> None:
    moved = alert(ORANGE_UPDATE, ("<value>421127000000</value>", "<value>421126000000</value>"))
    d = run(moved, now=datetime(2025, 7, 15, 11, 30, tzinfo=BJ))
    assert (d.action, d.reason) == (
        "stop", "update not for this station's area: stops what it references")


def test_alert_arriving_after_its_cancel_stays_silent() -> None:
    seen = SeenAlerts()
    assert run(alert(CANCEL), seen).action == "stop"
    late = run(alert(RED), seen)
    assert (late.action, late.reason) == (
        "ignore", "superseded by 42112741600000_20250715180000_0, received earlier")


def test_test_and_exercise_of_a_cancel() -> None:
    test_cancel = alert(CANCEL, ("<status>Actual", "<status>Test"))
    assert run(test_cancel).action == "silent"


# --- the OASIS examples at a station that they concern -------------------------------


def test_thunderstorm_by_polygon() -> None:
    now = datetime(2003, 6, 17, 15, 0, tzinfo=timezone(timedelta(hours=-7)))
    inside = StationArea(frozenset(), point=(38.5, -119.9))
    d = run(alert("oasis_a2_thunderstorm.xml"), now=now, area=inside)
    assert (d.action, d.priority, d.type, d.level) == (
        "play", Priority.ALARM_SIREN, "emergency", "II")
    assert d.text is not None and d.text.startswith("SEVERE THUNDERSTORM WARNING. AT 254 PM")
    outside = StationArea(frozenset(), point=(38.0, -119.9))
    assert run(alert("oasis_a2_thunderstorm.xml"), now=now, area=outside).action == "ignore"


def test_earthquake_report_is_routine() -> None:
    at_epicentre = StationArea(frozenset(), point=(32.9525, -115.5527))
    d = run(alert("oasis_a3_earthquake_update.xml"), area=at_epicentre)
    assert (d.action, d.priority, d.type, d.level) == ("replace", Priority.ROUTINE,
                                                      "routine", None)


def test_alert_without_any_location() -> None:
    homeland = alert("oasis_a1_homeland_security.xml")
    d = run(homeland)
    assert d.sounds and d.area_match == "no geocode, polygon or circle: pushed to this station"
    strict = StationArea(frozenset({"421127101"}), accept_unlocated=False)
    assert run(homeland, area=strict).reason == "not for this station's area"


def test_alert_with_no_info_is_ignored() -> None:
    bare = alert("cn_system_heartbeat.xml", ("<status>System", "<status>Actual"))
    assert run(bare).reason == "no info"


# --- priority, type and level ---------------------------------------------------------


def _info(severity: str, urgency: str, level: str | None = None) -> CapInfo:
    return CapInfo(language="zh-CN", categories=("Met",), event="x", urgency=urgency,  # type: ignore[arg-type]
                   severity=severity, certainty="Observed", level=level)  # type: ignore[arg-type]


@pytest.mark.parametrize(("severity", "urgency", "level", "priority"), [
    ("Extreme", "Immediate", None, Priority.EVACUATION),
    ("Extreme", "Expected", None, Priority.ALARM_SIREN),
    ("Extreme", "Past", None, Priority.ROUTINE),
    ("Severe", "Immediate", None, Priority.ALARM_SIREN),
    ("Severe", "Future", None, Priority.ALARM_SIREN),
    ("Moderate", "Immediate", None, Priority.RAIN_MESSAGE),
    ("Minor", "Immediate", None, Priority.ROUTINE),
    ("Unknown", "Unknown", None, Priority.ROUTINE),
    ("Unknown", "Immediate", "I", Priority.EVACUATION),  # the colour decides
    ("Extreme", "Immediate", "III", Priority.RAIN_MESSAGE),
    ("Unknown", "Expected", "IV", Priority.ROUTINE),
])
def test_priority_table(severity: str, urgency: str, level: str | None,
                        priority: Priority) -> None:
    assert priority_for(_info(severity, urgency, level)) == priority


def test_a_drill_never_preempts() -> None:
    assert priority_for(_info("Extreme", "Immediate", "I"), drill=True) == Priority.ROUTINE


def test_blue_warning_is_an_emergency_of_level_iv() -> None:
    blue = alert("cn_test_blue.xml", ("<status>Test", "<status>Actual"))
    d = run(blue)
    assert (d.action, d.type, d.level, d.priority) == ("play", "emergency", "IV",
                                                      Priority.ROUTINE)


def test_minor_without_colour_is_routine() -> None:
    minor = alert("oasis_a4_amber_alert.xml", ("<severity>Severe", "<severity>Minor"),
                  ("<severity>Severe", "<severity>Minor"))
    d = run(minor, area=StationArea(frozenset({"006037"})))
    assert (d.type, d.level, d.priority) == ("routine", None, Priority.ROUTINE)


def test_info_of_highest_priority_then_chinese_is_chosen() -> None:
    red = alert(RED)
    english_first = replace(red, infos=tuple(reversed(red.infos)))
    assert run(english_first).info == red.infos[0]
    calmer_chinese = replace(red.infos[0], urgency="Future")
    mixed = replace(red, infos=(calmer_chinese, red.infos[1]))
    d = run(mixed)
    assert d.info is not None and d.info.language == "en-US"
    assert d.priority == Priority.EVACUATION


def test_only_wav_audio_is_offered() -> None:
    ex = alert("cn_exercise_with_audio.xml")
    res = ex.infos[0].resources[0]
    mp3 = replace(ex, infos=(replace(ex.infos[0], resources=(
        replace(res, mime_type="audio/mpeg"),)),))
    d = run(mp3, now=datetime(2025, 7, 20, 9, 31, tzinfo=BJ))
    assert d.audio is None and d.text is not None and d.text.startswith("演练，演练。")


# --- the text to speak ----------------------------------------------------------------


def test_long_text_keeps_headline_and_instruction() -> None:
    info = replace(_info("Extreme", "Immediate"), headline="山洪红色预警",
                   description="第一句。" * 200, instruction="立即转移")
    text, shortened = spoken_text(info, 100)
    assert shortened and len(text) <= 100
    assert text.startswith("山洪红色预警。第一句。") and text.endswith("。立即转移。")
    tight, _ = spoken_text(info, 10)
    assert len(tight) <= 10
    assert spoken_text(info, 10_000) == ("山洪红色预警。" + "第一句。" * 200 + "立即转移。", False)


def test_english_text_shortened_at_a_sentence() -> None:
    info = replace(_info("Severe", "Expected"), language="en-US", headline="Flood",
                   description="One. Two. Three.", instruction="Go up")
    assert spoken_text(info, 100) == ("Flood. One. Two. Three. Go up.", False)
    assert spoken_text(info, 22) == ("Flood. One. Go up.", True)


def test_event_is_spoken_when_there_is_no_headline() -> None:
    assert spoken_text(_info("Severe", "Expected"), 100) == ("x。", False)


# --- areas ----------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "prefix"), [
    ("420000", "42"), ("421100", "4211"), ("421127", "421127"), ("421127101", "421127101"),
    ("421127000", "421127"), ("421127000000", "421127"), ("421127101000", "421127101"),
    ("421127101001", "421127101001"), ("000000", None), ("SVR", None), ("4211", None),
    ("42112710", None),
])
def test_division_prefix(code: str, prefix: str | None) -> None:
    assert division_prefix(code) == prefix


@pytest.mark.parametrize(("alert_code", "station_code", "match"), [
    ("421127", "421127101", True),  # county alert, township station
    ("420000", "421127101", True),  # province
    ("421100", "421127101", True),  # city
    ("421127101001", "421127101", True),  # village of the township
    ("421127102", "421127101", False),  # the next township
    ("421126", "421127101", False),  # the next county
    ("000000", "421127101", False),
    ("006037", "006037", True), ("SAME-X", "SAME-X", True), ("SAME-X", "SAME-Y", False),
    ("", "", False),
])
def test_codes_match(alert_code: str, station_code: str, match: bool) -> None:
    assert codes_match(alert_code, station_code) is match


def test_station_point_is_checked() -> None:
    with pytest.raises(ValueError, match="WGS 84"):
        StationArea(frozenset(), point=(120.0, 30.0))


# --- the duplicate memory -------------------------------------------------------------


def test_seen_alerts_survive_a_restart_as_json() -> None:
    seen = SeenAlerts()
    run(alert(RED), seen)
    run(alert(ORANGE_UPDATE), seen)
    restored = SeenAlerts.restore(json.loads(json.dumps(seen.export())))
    assert len(restored) == len(seen) == 2
    assert decide(alert(RED), now=NOW, area=SHAGOU, seen=restored).reason.startswith(
        "duplicate")


def test_seen_alerts_forget_after_expiry_and_keep() -> None:
    seen = SeenAlerts(keep_s=3600)
    run(alert(RED), seen)  # expires 20:00, kept until 21:00
    assert seen.prune(datetime(2025, 7, 15, 20, 59, tzinfo=BJ)) == 0
    assert seen.prune(datetime(2025, 7, 15, 21, 1, tzinfo=BJ)) == 1 and len(seen) == 0


def test_seen_alerts_are_bounded() -> None:
    seen = SeenAlerts(max_entries=2)
    for n in range(3):
        seen.remember(alert(RED, ("_20250715080500_0<", f"_2025071508050{n}_0<")), now=NOW)
    assert len(seen) == 2
    assert not seen.seen(alert(RED, ("_20250715080500_0<", "_20250715080500_0<")))


@pytest.mark.parametrize("item", [
    {"key": "k"}, {"key": "k", "received": True, "until": "soon"},
    {"key": "k", "received": True, "until": "2025-07-15T09:00:00"},
])
def test_restore_refuses_malformed_items(item: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="bad seen-alert item"):
        SeenAlerts.restore([item])
