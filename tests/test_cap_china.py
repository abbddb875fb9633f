"""China's profile (GB/T 35965.1-2018, as broadcast.cap_china reads it): conforming
alerts pass with their level; every violation is refused with what is wrong."""

from __future__ import annotations

import pytest

from broadcast.cap import CapRejected, parse_alert
from broadcast.cap_china import claims_profile, colour_level
from tests.cap_examples import CHINA, OASIS, example, variant

RED = "cn_rainstorm_red.xml"


def profile_reason(xml: bytes, **kwargs: bool) -> str:
    with pytest.raises(CapRejected) as e:
        parse_alert(xml, **kwargs)
    assert e.value.code == "china_profile", e.value
    assert e.value.reason.startswith("GB/T 35965.1: ")
    return e.value.reason


@pytest.mark.parametrize("name", CHINA)
def test_china_examples_conform(name: str) -> None:
    assert parse_alert(example(name), require_china_profile=True).china_profile


@pytest.mark.parametrize("name", OASIS)
def test_oasis_examples_do_not_claim_the_profile(name: str) -> None:
    assert not parse_alert(example(name)).china_profile


@pytest.mark.parametrize("name", OASIS)
def test_a_station_that_requires_the_profile_refuses_others(name: str) -> None:
    reason = profile_reason(example(name), require_china_profile=True)
    assert "ZZZZZZDDDUUUXX_YYYYMMDDhhmmss_N" in reason


def test_levels_of_the_examples() -> None:
    assert [i.level for i in parse_alert(example(RED)).infos] == ["I", "I"]
    update = parse_alert(example("cn_rainstorm_orange_update.xml"))
    assert update.infos[0].level == "II"  # from an eventCode, "Ⅱ级"


@pytest.mark.parametrize(("value", "level"), [
    ("红色", "I"), ("红色预警", "I"), ("Red", "I"), ("RED", "I"), ("Ⅰ级", "I"), ("I", "I"),
    ("1", "I"), ("一级", "I"), ("橙色", "II"), ("orange", "II"), ("Ⅱ", "II"), ("2", "II"),
    ("黄色预警", "III"), ("Yellow", "III"), ("III级", "III"), ("蓝色", "IV"), ("blue", "IV"),
    ("Ⅳ级", "IV"), ("四级", "IV"), (" 蓝 色 ", "IV"),
    ("紫色", None), ("green", None), ("V", None), ("0", None), ("", None),
])
def test_colour_words(value: str, level: str | None) -> None:
    assert colour_level(value) == level


def test_claims() -> None:
    assert claims_profile(("GB/T 35965.1-2018",), "x")
    assert claims_profile(("gbt35965.1",), "x")
    assert claims_profile((), "421127416_2025_0")  # looks like one: held to the profile
    assert not claims_profile(("IPAWSv1.0",), "43b080713727")


@pytest.mark.parametrize(("ident", "word"), [
    ("42112741600000_20250715080500_10", "ZZZZZZDDDUUUXX"),  # serial is one digit
    ("4211274160000_20250715080500_0", "ZZZZZZDDDUUUXX"),  # unit code of 13 digits
    ("42112741600000-20250715080500-0", "ZZZZZZDDDUUUXX"),
    ("421127416000AB_20250715080500_0", "ZZZZZZDDDUUUXX"),
    ("42112741600000_20251315080500_0", "entry time"),  # month 13
    ("00000041600000_20250715080500_0", "000000"),
])
def test_identifier_violations(ident: str, word: str) -> None:
    body = variant(RED, ("<identifier>42112741600000_20250715080500_0", f"<identifier>{ident}"))
    assert word in profile_reason(body)


@pytest.mark.parametrize(("old", "new", "word"), [
    ("<sent>2025-07-15T08:05:00+08:00", "<sent>2025-07-15T00:05:00+00:00", "sent"),
    ("<expires>2025-07-15T20:00:00+08:00", "<expires>2025-07-15T21:00:00+09:00",
     "info[0].expires"),
    ("<effective>2025-07-15T08:05:00+08:00", "<effective>2025-07-15T00:05:00-00:00",
     "info[0].effective"),
])
def test_times_must_be_beijing_time(old: str, new: str, word: str) -> None:
    reason = profile_reason(variant(RED, (old, new)))
    assert word in reason and "+08:00" in reason


def test_references_must_be_beijing_time() -> None:
    body = variant("cn_rainstorm_cancel.xml", ("2025-07-15T08:05:00+08:00", "2025-07-15T00:05:00Z"))
    # 'Z' is not CAP's way, but the triple is ours to read: it is still not +08:00
    assert "references[0].sent" in profile_reason(body)


@pytest.mark.parametrize(("old", "new", "word"), [
    ("<value>红色</value>", "<value>紫色</value>", "none of red/orange/yellow/blue"),
    ("<valueName>预警级别</valueName>", "<valueName>备注</valueName>", "no warning colour"),
    ("<value>红色</value>", "<value>蓝色</value>", "contradicts severity Extreme"),
])
def test_colour_violations(old: str, new: str, word: str) -> None:
    assert word in profile_reason(variant(RED, (old, new)))


def test_two_different_colours_in_one_info() -> None:
    second = ("<parameter><valueName>color</valueName><value>Yellow</value></parameter>"
              "\n    <area>")
    assert "contradictory" in profile_reason(variant(RED, ("<area>", second)))


def test_unknown_severity_takes_the_colour() -> None:
    body = variant(RED, ("<severity>Extreme</severity>", "<severity>Unknown</severity>"))
    assert parse_alert(body).infos[0].level == "I"


def test_a_cancel_needs_no_colour() -> None:
    assert parse_alert(example("cn_rainstorm_cancel.xml")).china_profile


def test_outside_the_profile_a_colour_still_gives_the_level() -> None:
    param = "<parameter><valueName>alertLevel</valueName><value>Orange</value></parameter><area>"
    body = variant("oasis_a2_thunderstorm.xml", ("<area>", param))
    alert = parse_alert(body)
    assert not alert.china_profile and alert.infos[0].level == "II"
    weird = variant("oasis_a2_thunderstorm.xml", ("<area>", param.replace("Orange", "Mauve")))
    assert parse_alert(weird).infos[0].level is None


def test_all_problems_are_listed_together() -> None:
    body = variant(RED, ("<sent>2025-07-15T08:05:00+08:00", "<sent>2025-07-15T00:05:00+00:00"),
                   ("<value>红色</value>", "<value>紫色</value>"))
    reason = profile_reason(body)
    assert "sent must be Beijing time" in reason and "紫色" in reason
