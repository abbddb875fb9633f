"""The station's capabilities, each built from its config section.

How to add a device or capability: see docs/adding-a-device.md. In short, write the
domain part in ``sensors/``, ``broadcast/`` or ``sat_phone/`` (no imports of ``edge``),
a wiring module in ``edge/`` that builds it from the config, reports into
``station.health``, journals through ``station.journal``, switches outputs through
``station.outputs`` and registers lifecycle handlers; then build it here and, if it
has routes, include them in ``edge/api/app.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge.station import Station


def build_parts(station: Station) -> dict[str, Any]:
    from edge.alarm_actions import AlarmResponder
    from edge.alarms import Alarms
    from edge.hand_alarms import HandAlarms
    from edge.modbus_lines import open_buses
    from edge.rain import Rain
    from edge.sirens import Sirens

    parts: dict[str, Any] = {}
    if station.config.amplifier is not None:
        from edge.broadcasting import Broadcasting

        parts["broadcasting"] = Broadcasting(station)
        if station.config.self_test.enabled:
            from edge.self_test import SelfTests

            parts["self_test"] = SelfTests(station, parts["broadcasting"])
    buses = open_buses(station)
    rain = Rain(station, buses) if station.config.rain_gauges else None
    if rain is not None:
        parts["rain"] = rain
    alarms = parts["alarms"] = Alarms(station, rain)
    sirens = parts["sirens"] = Sirens(station, buses)
    parts["hand_alarms"] = HandAlarms(station, alarms, buses)
    parts["alarm_actions"] = AlarmResponder(station, alarms, sirens, parts.get("broadcasting"))
    if station.config.sat_phone is not None:
        from edge.satphone import SatPhone

        parts["satphone"] = SatPhone(station, alarms=alarms,
                                     broadcasting=parts.get("broadcasting"))
    if station.config.cap is not None:
        from edge.cap_intake import CapIntake

        parts["cap"] = CapIntake(station, parts.get("broadcasting"))
    from edge.checkins import Checkins

    checkins = parts["checkins"] = Checkins(station)
    if station.config.panel.ack_button is not None:
        station.on_input("panel.ack_button",
                         lambda active, _t: active and _ack_pressed(station, alarms, checkins))
    return parts


def _ack_pressed(station: Station, alarms: Any, checkins: Any) -> None:
    """ACK answers a waiting spot check, else acknowledges every active alarm."""
    station.journal.record("panel.ack", "panel.ack_button", "panel")
    if checkins.waiting is not None:
        checkins.answer(actor="panel")
    else:
        alarms.acknowledge_all(actor="panel")
