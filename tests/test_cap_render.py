"""The station's own alarms as CAP: valid against the schema, and read back unchanged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from lxml import etree

from broadcast.cap import AlertRef, parse_alert, station_alarm_as_cap
from broadcast.cap_parse import cap_schema

BJ = timezone(timedelta(hours=8))
SENT = datetime(2025, 7, 15, 8, 5, 30, 123456, tzinfo=BJ)


def alarm(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "identifier": "SG-001-alarm-42", "sender": "SG-001@station", "sent": SENT,
        "event": "雨量告警", "headline": "后山雨量站1小时雨量达到立即转移阈值",
        "description": "后山雨量站1小时降雨52.4毫米，超过立即转移阈值50毫米",
        "severity": "Extreme", "urgency": "Immediate", "area_desc": "沙沟镇后山村",
        "geocodes": [("GB/T 2260", "421127101001")],
    }
    fields.update(overrides)
    return fields


def test_round_trip() -> None:
    xml = station_alarm_as_cap(**alarm(), instruction="立即转移",
                               expires=SENT + timedelta(hours=1), level="I",
                               sender_name="沙沟镇应急管理站")
    assert cap_schema().validate(etree.fromstring(xml))
    a = parse_alert(xml)
    assert (a.identifier, a.sender, a.status, a.msg_type, a.scope) == (
        "SG-001-alarm-42", "SG-001@station", "Actual", "Alert", "Public")
    assert a.sent == SENT.replace(microsecond=0)
    (info,) = a.infos
    assert (info.language, info.event, info.severity, info.urgency, info.level) == (
        "zh-CN", "雨量告警", "Extreme", "Immediate", "I")
    assert info.headline == alarm()["headline"] and info.instruction == "立即转移"
    assert info.expires == datetime(2025, 7, 15, 9, 5, 30, tzinfo=BJ)
    assert info.sender_name == "沙沟镇应急管理站"
    assert [(g.name, g.value) for g in info.areas[0].geocodes] == [("GB/T 2260", "421127101001")]


def test_cancel_with_references_round_trips() -> None:
    ref = AlertRef("SG-001@station", "SG-001-alarm-42", SENT.replace(microsecond=0))
    xml = station_alarm_as_cap(**alarm(identifier="SG-001-alarm-42-ack", status="Exercise"),
                               msg_type="Cancel", references=[ref])
    a = parse_alert(xml)
    assert (a.msg_type, a.status, a.references) == ("Cancel", "Exercise", (ref,))


def test_utc_alarm_and_no_geocode() -> None:
    utc = datetime(2025, 7, 15, 0, 5, tzinfo=UTC)
    a = parse_alert(station_alarm_as_cap(**alarm(sent=utc, geocodes=[])))
    assert a.sent == utc and not a.infos[0].located


def test_china_shaped_identifier_is_held_to_the_profile() -> None:
    china_id = "42112795000000_20250715080530_0"
    a = parse_alert(station_alarm_as_cap(**alarm(identifier=china_id, severity="Severe"),
                                         level="II"))
    assert a.china_profile
    with pytest.raises(ValueError, match=r"GB/T 35965\.1"):  # no colour given
        station_alarm_as_cap(**alarm(identifier=china_id))


@pytest.mark.parametrize(("overrides", "word"), [
    ({"sent": datetime(2025, 7, 15, 8, 5)}, "no timezone"),
    ({"identifier": "alarm 42"}, "identifier"),
    ({"severity": "Red"}, "severity"),
])
def test_what_cannot_be_valid_is_refused(overrides: dict[str, Any], word: str) -> None:
    with pytest.raises(ValueError, match=word):
        station_alarm_as_cap(**alarm(**overrides))


def test_bad_category_is_refused() -> None:
    with pytest.raises(ValueError, match="category"):
        station_alarm_as_cap(**alarm(), category="Rain")
