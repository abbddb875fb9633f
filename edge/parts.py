"""The station's capabilities, each built from its config section.

How to add a device or capability: see docs/adding-a-device.md. In short, write the
domain part in ``sensors/``, ``broadcast/`` or ``sat_phone/`` (no imports of ``edge``),
a wiring module in ``edge/`` that builds it from the config, reports into
``station.health``, journals through ``station.journal``, switches outputs through
``station.outputs`` and registers lifecycle handlers; then build it here and, if it
has routes, include them in ``edge/api/app.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from drivers.modbus_bus import ModbusBus
from edge.alarm_actions import AlarmResponder
from edge.alarms import Alarms
from edge.buzzer import AlarmBuzzer, Buzzer
from edge.checkins import Checkins
from edge.hand_alarms import HandAlarms
from edge.latched_faults import LatchedFaults
from edge.modbus_lines import open_buses
from edge.rain import Rain
from edge.siren_outputs import Sirens

if TYPE_CHECKING:
    from edge.broadcasting import Broadcasting
    from edge.cap_intake import CapIntake
    from edge.satphone.phone import SatPhone
    from edge.self_test import SelfTests
    from edge.sip.phone import SipPhone
    from edge.station import Station


@dataclass
class StationParts:
    """What this station is made of. ``None`` where the config has no such section.

    The optional capabilities are imported only when configured, so a station without an
    amplifier, a satellite phone or CAP intake does not load their libraries.
    """

    alarms: Alarms
    sirens: Sirens
    hand_alarms: HandAlarms
    alarm_actions: AlarmResponder
    checkins: Checkins
    buzzer: Buzzer
    faults: LatchedFaults
    broadcasting: Broadcasting | None = None
    self_test: SelfTests | None = None
    rain: Rain | None = None
    satphone: SatPhone | None = None
    cap: CapIntake | None = None
    sip: SipPhone | None = None
    buses: dict[str, ModbusBus] = field(default_factory=dict)


def build_parts(station: Station) -> StationParts:
    broadcasting = None
    self_test = None
    if station.config.amplifier is not None:
        from edge.broadcasting import Broadcasting

        broadcasting = Broadcasting(station)
        if station.config.self_test.enabled:
            from edge.self_test import SelfTests

            self_test = SelfTests(station, broadcasting)
    buses = open_buses(station)
    rain = Rain(station, buses) if station.config.rain_gauges else None
    alarms = Alarms(station, rain)
    sirens = Sirens(station, buses)
    hand_alarms = HandAlarms(station, alarms, buses)
    alarm_actions = AlarmResponder(station, alarms, sirens, broadcasting)
    satphone = None
    if station.config.sat_phone is not None:
        from edge.satphone.phone import SatPhone

        satphone = SatPhone(station, alarms=alarms, broadcasting=broadcasting)
    sip = None
    if station.config.sip is not None:
        from edge.sip.phone import SipPhone

        sip = SipPhone(station, alarms=alarms, broadcasting=broadcasting, satphone=satphone)
    cap = None
    if station.config.cap is not None:
        from edge.cap_intake import CapIntake

        cap = CapIntake(station, broadcasting)
    buzzer = Buzzer(station)
    if station.config.panel.buzzer_on_alarm:
        AlarmBuzzer(buzzer, alarms)
    checkins = Checkins(station, buzzer)
    faults = LatchedFaults(station)  # after every output (remote sirens too) is added
    if station.config.panel.ack_button is not None:

        def ack_button(active: bool, _began: float) -> None:
            if active:
                _ack_pressed(station, alarms, checkins)

        station.on_input("panel.ack_button", ack_button)
    return StationParts(alarms=alarms, sirens=sirens, hand_alarms=hand_alarms,
                        alarm_actions=alarm_actions, checkins=checkins, buzzer=buzzer,
                        faults=faults,
                        broadcasting=broadcasting, self_test=self_test, rain=rain,
                        satphone=satphone, cap=cap, sip=sip, buses=buses)


def _ack_pressed(station: Station, alarms: Alarms, checkins: Checkins) -> None:
    """ACK answers a waiting spot check, else acknowledges every active alarm."""
    station.journal.record("panel.ack", "panel.ack_button", "panel")
    if checkins.waiting is not None:
        checkins.answer(actor="panel")
    else:
        alarms.acknowledge_all(actor="panel")
