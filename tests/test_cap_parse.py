"""CAP 1.2 parsing: the specification's own examples pass; everything malformed is refused
with a reason, and nothing dangerous in the XML is ever expanded or fetched."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta, timezone

import pytest

from broadcast.cap import AlertRef, CapRejected, parse_alert
from tests.cap_examples import CHINA, OASIS, example, variant

PDT = timezone(timedelta(hours=-7))


def rejected(xml: bytes, code: str, **kwargs: bool) -> str:
    with pytest.raises(CapRejected) as e:
        parse_alert(xml, **kwargs)
    assert e.value.code == code, e.value
    return e.value.reason


@pytest.mark.parametrize("name", OASIS + CHINA)
def test_every_example_parses_and_validates(name: str) -> None:
    alert = parse_alert(example(name))
    assert alert.identifier and alert.sender and alert.sent.tzinfo is not None


def test_homeland_security_example_fields() -> None:
    a = parse_alert(example("oasis_a1_homeland_security.xml"))
    assert (a.identifier, a.sender, a.status, a.msg_type, a.scope) == (
        "43b080713727", "hsas@dhs.gov", "Actual", "Alert", "Public")
    assert a.sent == datetime(2003, 4, 2, 14, 39, 1, tzinfo=timezone(timedelta(hours=-5)))
    (info,) = a.infos
    assert info.language == "en-US"  # the schema's default
    assert (info.categories, info.urgency, info.severity, info.certainty) == (
        ("Security",), "Immediate", "Severe", "Likely")
    assert info.headline == "Homeland Security Sets Code ORANGE"
    assert info.parameters[0].name == "HSAS" and info.parameters[0].value == "ORANGE"
    (res,) = info.resources
    assert (res.mime_type, res.data, res.uri) == (
        "image/gif", None, "http://www.dhs.gov/dhspublic/getAdvisoryImage")
    assert not info.located and info.areas[0].description.startswith("U.S. nationwide")


def test_thunderstorm_example_fields() -> None:
    (info,) = parse_alert(example("oasis_a2_thunderstorm.xml")).infos
    assert info.expires == datetime(2003, 6, 17, 16, 0, tzinfo=PDT)
    assert info.response_types == ("Shelter",)
    (area,) = info.areas
    assert [g.value for g in area.geocodes] == ["006109", "006009", "006003"]
    assert area.polygons[0][0] == (38.47, -120.14) and len(area.polygons[0]) == 5


def test_earthquake_update_references() -> None:
    a = parse_alert(example("oasis_a3_earthquake_update.xml"))
    assert a.msg_type == "Update"
    assert a.references == (AlertRef("trinet@caltech.edu", "TRI13970876.1",
                                      datetime(2003, 6, 11, 20, 30, tzinfo=PDT)),)
    (circle,) = a.infos[0].areas[0].circles
    assert (circle.lat, circle.lon, circle.radius_km) == (32.9525, -115.5527, 0.0)


def test_amber_alert_is_bilingual() -> None:
    a = parse_alert(example("oasis_a4_amber_alert.xml"))
    assert [i.language for i in a.infos] == ["en-US", "es-US"]
    assert a.infos[1].event == "Abducción de Niño" and a.source == "SW"


def test_embedded_audio_is_decoded_and_checked() -> None:
    (res,) = parse_alert(example("cn_exercise_with_audio.xml")).infos[0].resources
    assert res.data is not None and res.data[:4] == b"RIFF"
    assert len(res.data) == res.size and hashlib.sha1(res.data).hexdigest() == res.digest


# --- not XML, and XML that tries something -------------------------------------------


@pytest.mark.parametrize("body", [b"", b"   ", b"hello", b"<alert>", b"\xff\xfe\x00<"])
def test_not_xml(body: bytes) -> None:
    assert rejected(body, "not_xml")


def test_too_large() -> None:
    assert "limit 1000" in rejected(example("oasis_a2_thunderstorm.xml"), "too_large",
                                    max_bytes=1000)  # type: ignore[arg-type]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE alert [
 <!ENTITY a "aaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&d;</identifier></alert>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE alert [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&secret;</identifier></alert>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE alert SYSTEM "http://127.0.0.1:9/cap.dtd">
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>"""

PLAIN_DOCTYPE = b"""<?xml version="1.0"?><!DOCTYPE alert>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>"""


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD, PLAIN_DOCTYPE])
def test_any_doctype_is_refused(body: bytes) -> None:
    assert "DOCTYPE" in rejected(body, "doctype")


def test_doctype_inside_a_real_alert_is_refused() -> None:
    body = variant("oasis_a2_thunderstorm.xml", (
        '<alert xmlns', '<!DOCTYPE alert [<!ENTITY x SYSTEM "file:///etc/hostname">]>\n<alert xmlns'
    ), ("<contact>BARUFFALDI/JUSKIE</contact>", "<contact>&x;</contact>"))
    assert rejected(body, "doctype")


def test_undeclared_entity_is_not_xml() -> None:
    body = variant("oasis_a2_thunderstorm.xml", ("BARUFFALDI/JUSKIE", "&x;"))
    assert "x" in rejected(body, "not_xml")


# --- not CAP 1.2 ----------------------------------------------------------------------


def test_cap_1_1_namespace_is_named() -> None:
    body = variant("oasis_a2_thunderstorm.xml", ("cap:1.2", "cap:1.1"))
    assert "urn:oasis:names:tc:emergency:cap:1.1" in rejected(body, "not_cap")


def test_other_root() -> None:
    assert "feed" in rejected(b'<feed xmlns="http://www.w3.org/2005/Atom"/>', "not_cap")


@pytest.mark.parametrize(("old", "new", "word"), [
    ("<sender>KSTO@NWS.NOAA.GOV</sender>", "", "sender"),
    ("<severity>Severe</severity>", "<severity>Red</severity>", "severity"),
    ("2003-06-17T14:57:00-07:00</sent>", "2003-06-17T21:57:00Z</sent>", "sent"),
    ("2003-06-17T14:57:00-07:00</sent>", "2003-06-17T14:57:00</sent>", "sent"),
    ("<category>Met</category>", "<category>Weather</category>", "category"),
    ("<status>Actual</status>", "<status>Real</status>", "status"),
    ("<scope>Public</scope>", "", "scope"),
    ("<event>SEVERE THUNDERSTORM</event>", "", "event"),
    ("<urgency>Immediate</urgency>\n    <severity>Severe</severity>",
     "<severity>Severe</severity>\n    <urgency>Immediate</urgency>", "severity"),
    ("<contact>", "<colour>red</colour><contact>", "colour"),
])
def test_schema_violations_name_the_element(old: str, new: str, word: str) -> None:
    reason = rejected(variant("oasis_a2_thunderstorm.xml", (old, new)), "schema")
    assert reason.startswith("not valid CAP 1.2: line ") and word in reason


# --- CAP rules the schema cannot express ----------------------------------------------


@pytest.mark.parametrize(("old", "new", "word"), [
    ("<identifier>KSTO1055887203", "<identifier>KSTO 1055887203", "identifier"),
    ("<identifier>KSTO1055887203", "<identifier>KSTO,1055887203", "identifier"),
    ("<sender>KSTO@NWS.NOAA.GOV", "<sender>KSTO &amp; NWS", "sender"),
    ("<polygon>38.47,-120.14 ", "<polygon>", "polygon"),
    ("<polygon>38.47,-120.14", "<polygon>98.47,-120.14", "polygon"),
    ("<polygon>38.47,-120.14", "<polygon>38.47;-120.14", "polygon"),
])
def test_cap_rules(old: str, new: str, word: str) -> None:
    assert word in rejected(variant("oasis_a2_thunderstorm.xml", (old, new)), "cap_rule")


@pytest.mark.parametrize(("old", "new", "word"), [
    ("<references>trinet@caltech.edu,TRI13970876.1,2003-06-11T20:30:00-07:00</references>",
     "", "references"),
    ("trinet@caltech.edu,TRI13970876.1,2003", "trinet@caltech.edu TRI13970876.1,2003",
     "sender,identifier,sent"),
    (",2003-06-11T20:30:00-07:00<", ",yesterday<", "not a time"),
    (",2003-06-11T20:30:00-07:00<", ",2003-06-11T20:30:00<", "UTC offset"),
    ("<circle>32.9525,-115.5527 0</circle>", "<circle>32.9525,-115.5527</circle>", "circle"),
    ("<circle>32.9525,-115.5527 0</circle>", "<circle>32.9525,-115.5527 -1</circle>", "radius"),
])
def test_update_rules(old: str, new: str, word: str) -> None:
    assert word in rejected(variant("oasis_a3_earthquake_update.xml", (old, new)), "cap_rule")


def test_private_scope_needs_addresses() -> None:
    body = variant("cn_system_heartbeat.xml", ("<addresses>SG-001</addresses>", ""))
    assert "addresses" in rejected(body, "cap_rule")


def _with_resource(data: bytes, *, size: int | None = None, digest: str | None = None,
                   encoded: str | None = None) -> bytes:
    parts = ["<resource><resourceDesc>voice</resourceDesc><mimeType>audio/wav</mimeType>"]
    if size is not None:
        parts.append(f"<size>{size}</size>")
    parts.append(f"<derefUri>{encoded or base64.b64encode(data).decode()}</derefUri>")
    if digest is not None:
        parts.append(f"<digest>{digest}</digest>")
    parts.append("</resource><area>")
    return variant("oasis_a2_thunderstorm.xml", ("<area>", "".join(parts)))


def test_resource_checks() -> None:
    data = b"RIFF-not-really-a-wav"
    good = _with_resource(data, size=len(data), digest=hashlib.sha1(data).hexdigest())
    assert parse_alert(good).infos[0].resources[0].data == data
    assert "size says" in rejected(_with_resource(data, size=len(data) + 1), "resource")
    assert "digest" in rejected(_with_resource(data, digest="0" * 40), "resource")
    assert "base64" in rejected(_with_resource(data, encoded="!!notbase64!!"), "resource")


# --- signatures (verified in test_cap_signature.py) -------------------------------------

SIGNATURE = """<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo>
<CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
<SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>
<Reference URI=""><DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
<DigestValue>AAAA</DigestValue></Reference></SignedInfo>
<SignatureValue>AAAA</SignatureValue></Signature></alert>"""


def test_signature_in_the_wrong_place_is_a_schema_error() -> None:
    sig = SIGNATURE.removesuffix("</alert>")
    body = variant("oasis_a2_thunderstorm.xml", ("<info>", sig + "<info>"))
    assert rejected(body, "schema", require_signature=True)
