"""CAP 1.2 alerts (OASIS Common Alerting Protocol), China profile GB/T 35965.1-2018.

The county pushes alerts to ``POST /api/v1/cap``; the daemon (``edge/``) does::

    alert = parse_alert(body, require_signature=..., trusted=pinned_certificates,
                        now=clock.now(), require_china_profile=...)
    #   CapRejected(code, reason) -> 4xx with the reason; nothing changes
    decision = decide(alert, now=clock.now(), area=station_area, seen=seen_alerts)
    #   journal the decision, then:
    seen_alerts.remember(alert, now=clock.now())
    #   stop the broadcasts of decision.stops (by AlertRef.key), start one if decision.sounds

Everything here is plain data and functions: no I/O besides reading the bundled schema,
no event loop. The pieces: :mod:`.cap_model` (the data), :mod:`.cap_parse` (bytes to
alert), :mod:`.cap_signature` (XML-DSig against pinned certificates), :mod:`.cap_china`
(the profile), :mod:`.cap_area` (area matching), :mod:`.cap_seen` (duplicates),
:mod:`.cap_decide` (what to do), :mod:`.cap_render` (the station's alarms as CAP).
"""

from .cap_area import StationArea, codes_match, division_prefix
from .cap_decide import (
    DRILL_PREFIX_EN,
    DRILL_PREFIX_ZH,
    CapAudio,
    CapDecision,
    decide,
    priority_for,
    spoken_text,
    type_and_level,
)
from .cap_model import (
    AlertRef,
    CapAlert,
    CapArea,
    CapInfo,
    CapRejected,
    CapResource,
    Circle,
    NamedValue,
    Severity,
    Urgency,
    alert_key,
)
from .cap_parse import SCHEMA_PATH, parse_alert
from .cap_render import station_alarm_as_cap
from .cap_seen import SeenAlerts

__all__ = [
    "DRILL_PREFIX_EN",
    "DRILL_PREFIX_ZH",
    "SCHEMA_PATH",
    "AlertRef",
    "CapAlert",
    "CapArea",
    "CapAudio",
    "CapDecision",
    "CapInfo",
    "CapRejected",
    "CapResource",
    "Circle",
    "NamedValue",
    "SeenAlerts",
    "Severity",
    "StationArea",
    "Urgency",
    "alert_key",
    "codes_match",
    "decide",
    "division_prefix",
    "parse_alert",
    "priority_for",
    "spoken_text",
    "station_alarm_as_cap",
    "type_and_level",
]
