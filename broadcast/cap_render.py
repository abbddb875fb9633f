"""One of the station's own alarms as a CAP 1.2 alert, for the county's CAP tools.

The station's alarms (a rain threshold crossed, a hand alarm pressed) are served as CAP at
``GET /api/v1/alarms/{id}.cap``. The document is built from plain fields and checked
by the same parser as incoming alerts (schema, CAP rules, China profile when claimed), so
the station never hands out CAP it would itself refuse.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from lxml import etree

from .cap_china import LEVEL_COLOUR
from .cap_model import CAP_NS, AlertRef, CapRejected, MsgType, Severity, Status, Urgency
from .cap_parse import parse_alert
from .record import BroadcastLevel

LEVEL_VALUE_NAME = "预警级别"


def cap_time(when: datetime) -> str:
    """CAP's dateTime: seconds, an explicit offset, never 'Z' (CAP 1.2 §3.3.2)."""
    if when.tzinfo is None:
        raise ValueError(f"time {when!r} has no timezone")
    return when.replace(microsecond=0).isoformat()


def station_alarm_as_cap(
    *,
    identifier: str,
    sender: str,
    sent: datetime,
    event: str,
    headline: str,
    description: str,
    severity: Severity,
    urgency: Urgency,
    area_desc: str,
    geocodes: Sequence[tuple[str, str]] = (),
    status: Status = "Actual",
    msg_type: MsgType = "Alert",
    references: Sequence[AlertRef] = (),
    category: str = "Met",
    certainty: str = "Observed",
    language: str = "zh-CN",
    sender_name: str | None = None,
    instruction: str | None = None,
    expires: datetime | None = None,
    level: BroadcastLevel | None = None,
) -> bytes:
    """The alarm as CAP 1.2 XML (UTF-8, with declaration); ValueError if it cannot be valid.

    ``geocodes``: (valueName, value) pairs, e.g. ``("GB/T 2260", "421127")``. ``level``
    adds the warning colour as a ``预警级别`` parameter (Red/Orange/Yellow/Blue).
    """
    root = etree.Element(f"{{{CAP_NS}}}alert", nsmap={None: CAP_NS})

    def add(parent: etree._Element, name: str, text: str | None) -> etree._Element | None:
        if text is None:
            return None
        child = etree.SubElement(parent, f"{{{CAP_NS}}}{name}")
        child.text = text
        return child

    def add_pair(parent: etree._Element, name: str, value_name: str, value: str) -> None:
        pair = etree.SubElement(parent, f"{{{CAP_NS}}}{name}")
        add(pair, "valueName", value_name)
        add(pair, "value", value)

    add(root, "identifier", identifier)
    add(root, "sender", sender)
    add(root, "sent", cap_time(sent))
    add(root, "status", status)
    add(root, "msgType", msg_type)
    add(root, "scope", "Public")
    if references:
        add(root, "references", " ".join(
            f"{r.sender},{r.identifier},{cap_time(r.sent)}" for r in references))
    info = etree.SubElement(root, f"{{{CAP_NS}}}info")
    add(info, "language", language)
    add(info, "category", category)
    add(info, "event", event)
    add(info, "urgency", urgency)
    add(info, "severity", severity)
    add(info, "certainty", certainty)
    if expires is not None:
        add(info, "expires", cap_time(expires))
    add(info, "senderName", sender_name)
    add(info, "headline", headline)
    add(info, "description", description)
    add(info, "instruction", instruction)
    if level is not None:
        add_pair(info, "parameter", LEVEL_VALUE_NAME, LEVEL_COLOUR[level])
    area = etree.SubElement(info, f"{{{CAP_NS}}}area")
    add(area, "areaDesc", area_desc)
    for value_name, value in geocodes:
        add_pair(area, "geocode", value_name, value)
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    try:
        parse_alert(xml)  # the schema, the CAP rules, and the China profile if claimed
    except CapRejected as e:
        raise ValueError(f"station alarm is not valid CAP: {e.reason}") from None
    return xml
