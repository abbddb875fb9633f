"""From bytes off the wire to a :class:`~broadcast.cap_model.CapAlert`, or a refusal.

The checks run from the cheapest to the dearest, and each refusal names what was wrong:

1. size, then well-formed XML with no DOCTYPE at all: a CAP alert never needs a DTD, and
   refusing one outright closes entity expansion ("billion laughs"), external entities and
   external DTD fetches in one stroke. The parser also never resolves entities and never
   touches the network, so nothing is expanded or fetched even before the refusal;
2. the root is a CAP 1.2 ``alert`` and it is valid against the OASIS CAP 1.2 schema
   (bundled in ``broadcast/schemas``; the station often has no internet);
3. the CAP rules the schema cannot express: no spaces, commas, ``<`` or ``&`` in
   identifier and sender; ``references`` as ``sender,identifier,sent`` triples, required by
   Update and Cancel; ``addresses`` required by Private scope; well-formed polygons and
   circles; embedded resources (``derefUri``) that are base64, of the stated ``size`` and
   SHA-1 ``digest``;
4. the XML-DSig signature (``Signature`` after the ``info`` blocks, the place the CAP
   schema leaves for it), verified against the county's pinned certificates when the
   station has any (see :mod:`broadcast.cap_signature`): one that does not verify is
   refused whether or not signatures are required, and the alert is then read from what
   was signed, nothing else. Without a signature, the alert is refused where one is
   required;
5. China's GB/T 35965.1 profile, when the alert claims it (see :mod:`broadcast.cap_china`).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from lxml import etree

from . import cap_china
from .cap_model import (
    CAP_NS,
    CERTAINTIES,
    DSIG_NS,
    MSG_TYPES,
    SCOPES,
    SEVERITIES,
    STATUSES,
    URGENCIES,
    AlertRef,
    CapAlert,
    CapArea,
    CapInfo,
    CapRejected,
    CapResource,
    Circle,
    NamedValue,
)
from .cap_signature import PinnedCertificates

SCHEMA_PATH = Path(__file__).parent / "schemas" / "CAP-v1.2.xsd"
MAX_ALERT_BYTES = 8 * 1024 * 1024  # room for half a minute of embedded WAV, base64

_C = f"{{{CAP_NS}}}"
_FORBIDDEN_IN_IDS = re.compile(r"[\s,<&]")


@functools.cache
def cap_schema() -> etree.XMLSchema:
    """The OASIS CAP 1.2 schema, read once from the package."""
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH), _safe_parser()))


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_comments=True, remove_pis=True,
    )


def parse_alert(
    xml: bytes,
    *,
    require_signature: bool = False,
    trusted: PinnedCertificates | None = None,
    now: datetime | None = None,
    require_china_profile: bool = False,
    max_bytes: int = MAX_ALERT_BYTES,
) -> CapAlert:
    """The alert in ``xml``; :class:`CapRejected` with the reason when it cannot be taken.

    ``trusted``: the certificates whose keys may sign (a signature is then verified,
    certificates checked at ``now``); ``require_signature``: refuse an alert without a
    signature that verifies. ``require_china_profile``: refuse anything that does not
    conform to GB/T 35965.1 (otherwise only alerts that claim the profile are held to it).
    """
    root = _well_formed(xml, max_bytes)
    validate(root)
    signed = False
    if trusted is not None and root.find(f"{{{DSIG_NS}}}Signature") is not None:
        root = trusted.verify(root, now or datetime.now(UTC))
        signed = True
    elif require_signature:
        why = ("no trusted certificate to verify it against ([cap] trusted_certificates)"
               if trusted is None else "unsigned: this station requires an XML-DSig "
               "<Signature> after the info blocks")
        raise CapRejected("signature", why)
    alert = replace(_read_alert(root), signed=signed)
    if require_china_profile or cap_china.claims_profile(alert.codes, alert.identifier):
        problems = cap_china.profile_problems(alert)
        if problems:
            raise CapRejected("china_profile", "GB/T 35965.1: " + "; ".join(problems))
        alert = replace(alert, china_profile=True)
    return alert


def validate(root: etree._Element) -> None:
    """Refuse a tree that is not a CAP 1.2 alert valid against the OASIS schema."""
    if root.tag != f"{_C}alert":
        ns = etree.QName(root).namespace
        if etree.QName(root).localname == "alert" and ns != CAP_NS:
            raise CapRejected("not_cap", f"not CAP 1.2: alert in namespace {ns!r}, "
                              f"expected {CAP_NS!r}")
        raise CapRejected("not_cap", f"not a CAP alert: root element {root.tag!r}")
    schema = cap_schema()
    if not schema.validate(root):
        err = schema.error_log.last_error
        where = f"line {err.line}: {err.message}" if err is not None else "libxml2 gave no detail"
        raise CapRejected("schema", f"not valid CAP 1.2: {where}")
    # The schema allows XML-DSig elements only after the info blocks, but libxml2 lets a
    # lax wildcard through anywhere in the sequence: the order is checked here.
    foreign = False
    for child in root.iterchildren(etree.Element):
        if etree.QName(child).namespace != CAP_NS:
            foreign = True
        elif foreign:
            raise CapRejected("schema", f"not valid CAP 1.2: line {child.sourceline}: "
                              f"{etree.QName(child).localname} after an XML-DSig element "
                              "(a signature comes last)")


def _well_formed(xml: bytes, max_bytes: int) -> etree._Element:
    if len(xml) > max_bytes:
        raise CapRejected("too_large", f"{len(xml)} bytes, limit {max_bytes}")
    if not xml.strip():
        raise CapRejected("not_xml", "empty body")
    try:
        root = etree.fromstring(xml, _safe_parser())
    except etree.XMLSyntaxError as e:
        raise CapRejected("not_xml", f"not well-formed XML: {e}") from None
    doc = root.getroottree().docinfo
    if doc.doctype or doc.internalDTD is not None or doc.externalDTD is not None:
        raise CapRejected("doctype", "a DOCTYPE is not allowed in a CAP alert "
                          "(no DTD, no entities)")
    if any(isinstance(n, etree._Entity) for n in root.iter()):
        raise CapRejected("doctype", "entity references are not allowed in a CAP alert")
    return root


def _text(el: etree._Element, name: str) -> str | None:
    child = el.find(_C + name)
    if child is None or child.text is None:
        return None
    return child.text.strip()


_Code = TypeVar("_Code", bound=str)


def _code(el: etree._Element, name: str, allowed: tuple[_Code, ...]) -> _Code:
    """A coded element as its literal type: the schema has checked it, this proves it."""
    value = _text(el, name)
    for word in allowed:
        if word == value:
            return word
    raise CapRejected("schema", f"<{name}> {value!r} is not one of {', '.join(allowed)}")


def _texts(el: etree._Element, name: str) -> tuple[str, ...]:
    return tuple((c.text or "").strip() for c in el.findall(_C + name))


def _time(el: etree._Element, name: str) -> datetime | None:
    value = _text(el, name)
    return None if value is None else datetime.fromisoformat(value)  # schema-checked


def _pairs(el: etree._Element, name: str) -> tuple[NamedValue, ...]:
    return tuple(
        NamedValue(_text(c, "valueName") or "", _text(c, "value") or "")
        for c in el.findall(_C + name)
    )


def _read_alert(root: etree._Element) -> CapAlert:
    identifier = _text(root, "identifier") or ""
    sender = _text(root, "sender") or ""
    for name, value in (("identifier", identifier), ("sender", sender)):
        if not value or _FORBIDDEN_IN_IDS.search(value):
            raise CapRejected("cap_rule", f"{name} {value!r} must be non-empty with no "
                              "spaces, commas, '<' or '&'")
    msg_type = _code(root, "msgType", MSG_TYPES)
    scope = _code(root, "scope", SCOPES)
    references = _references(_text(root, "references"))
    if msg_type in ("Update", "Cancel") and not references:
        raise CapRejected("cap_rule", f"a {msg_type} must list what it refers to in "
                          "<references>")
    addresses = _text(root, "addresses")
    if scope == "Private" and not addresses:
        raise CapRejected("cap_rule", "scope Private requires <addresses>")
    sent = _time(root, "sent")
    assert sent is not None
    codes = _texts(root, "code")
    infos = tuple(_read_info(i, n) for n, i in enumerate(root.findall(_C + "info")))
    return CapAlert(
        identifier=identifier, sender=sender, sent=sent,
        status=_code(root, "status", STATUSES), msg_type=msg_type, scope=scope,
        source=_text(root, "source"), restriction=_text(root, "restriction"),
        addresses=addresses, codes=codes, note=_text(root, "note"), references=references,
        incidents=_text(root, "incidents"), infos=infos,
    )


def _references(value: str | None) -> tuple[AlertRef, ...]:
    refs = []
    for triple in (value or "").split():
        parts = triple.split(",")
        if len(parts) != 3 or not all(parts):
            raise CapRejected("cap_rule", f"references: {triple!r} is not sender,identifier,sent")
        try:
            sent = datetime.fromisoformat(parts[2])
        except ValueError:
            raise CapRejected("cap_rule", f"references: {parts[2]!r} is not a time") from None
        if sent.tzinfo is None:
            raise CapRejected("cap_rule", f"references: {parts[2]!r} has no UTC offset")
        refs.append(AlertRef(parts[0], parts[1], sent))
    return tuple(refs)


def _read_info(el: etree._Element, n: int) -> CapInfo:
    where = f"info[{n}]"
    parameters = _pairs(el, "parameter")
    event_codes = _pairs(el, "eventCode")
    return CapInfo(
        language=_text(el, "language") or "en-US",  # the schema's default
        categories=_texts(el, "category"),
        event=_text(el, "event") or "",
        urgency=_code(el, "urgency", URGENCIES),
        severity=_code(el, "severity", SEVERITIES),
        certainty=_code(el, "certainty", CERTAINTIES),
        response_types=_texts(el, "responseType"),
        audience=_text(el, "audience"),
        event_codes=event_codes,
        effective=_time(el, "effective"), onset=_time(el, "onset"),
        expires=_time(el, "expires"),
        sender_name=_text(el, "senderName"), headline=_text(el, "headline"),
        description=_text(el, "description"), instruction=_text(el, "instruction"),
        web=_text(el, "web"), contact=_text(el, "contact"),
        parameters=parameters,
        resources=tuple(_read_resource(r, f"{where}.resource[{k}]")
                        for k, r in enumerate(el.findall(_C + "resource"))),
        areas=tuple(_read_area(a, f"{where}.area[{k}]")
                    for k, a in enumerate(el.findall(_C + "area"))),
        level=cap_china.level_of(parameters, event_codes),
    )


def _read_resource(el: etree._Element, where: str) -> CapResource:
    size_text = _text(el, "size")
    size = int(size_text) if size_text is not None else None
    digest = _text(el, "digest")
    encoded = _text(el, "derefUri")
    data = None
    if encoded is not None:
        try:
            data = base64.b64decode(re.sub(r"\s+", "", encoded), validate=True)
        except (binascii.Error, ValueError):
            raise CapRejected("resource", f"{where}: derefUri is not base64") from None
        if size is not None and size != len(data):
            raise CapRejected("resource", f"{where}: size says {size} bytes, derefUri holds "
                              f"{len(data)}")
        if digest is not None and hashlib.sha1(data).hexdigest() != digest.lower():
            raise CapRejected("resource", f"{where}: SHA-1 digest does not match derefUri")
    return CapResource(
        description=_text(el, "resourceDesc") or "", mime_type=_text(el, "mimeType") or "",
        size=size, uri=_text(el, "uri"), data=data, digest=digest,
    )


def _read_area(el: etree._Element, where: str) -> CapArea:
    altitude, ceiling = _text(el, "altitude"), _text(el, "ceiling")
    return CapArea(
        description=_text(el, "areaDesc") or "",
        polygons=tuple(_polygon(p, f"{where}.polygon") for p in _texts(el, "polygon")),
        circles=tuple(_circle(c, f"{where}.circle") for c in _texts(el, "circle")),
        geocodes=_pairs(el, "geocode"),
        altitude=float(altitude) if altitude is not None else None,
        ceiling=float(ceiling) if ceiling is not None else None,
    )


def _point(text: str, where: str) -> tuple[float, float]:
    try:
        lat_s, lon_s = text.split(",")
        lat, lon = float(lat_s), float(lon_s)
    except ValueError:
        raise CapRejected("cap_rule", f"{where}: {text!r} is not lat,lon") from None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise CapRejected("cap_rule", f"{where}: {text!r} is outside WGS 84 lat/lon")
    return lat, lon


def _polygon(text: str, where: str) -> tuple[tuple[float, float], ...]:
    points = tuple(_point(p, where) for p in text.split())
    if len(points) < 4 or points[0] != points[-1]:
        raise CapRejected("cap_rule", f"{where}: needs 4 or more points, the first "
                          "repeated last")
    return points


def _circle(text: str, where: str) -> Circle:
    parts = text.split()
    if len(parts) != 2:
        raise CapRejected("cap_rule", f"{where}: {text!r} is not 'lat,lon radius_km'")
    lat, lon = _point(parts[0], where)
    try:
        radius = float(parts[1])
    except ValueError:
        raise CapRejected("cap_rule", f"{where}: radius {parts[1]!r} is not a number") from None
    if radius < 0:
        raise CapRejected("cap_rule", f"{where}: negative radius {radius}")
    return Circle(lat, lon, radius)
