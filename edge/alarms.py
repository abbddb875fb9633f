"""Alarms: a rain warning level or a villager's hand alarm, until someone acknowledges it.

An alarm is raised by the rain warning board (准备转移 / 立即转移 per gauge) or by a
hand alarm input. It stays *active* (its actions running) until acknowledged, by the
panel's ACK button or the API; it is *cleared* only when acknowledged and the cause is
gone (the rain fell below the clear fraction, the hand alarm was released). An
escalation from prepare to evacuate re-arms an acknowledged alarm and fires the
evacuate actions even if prepare was never acknowledged. Every raise, escalation,
acknowledgement and clear is journaled.

Every change of an alarm (and of the warning board behind a rain alarm) is handed to the
state store before anyone hears of it, so a restarted station carries on with the same
alarms under the same ids: :meth:`Alarms.carry_on` sounds an unacknowledged one again,
an acknowledged one stays acknowledged (see :mod:`edge.restore_plan`).

A rain alarm also keeps, per window, each crossing, change of level and clearing
(``windows``: plain records, in order), each journaled as ``rain.window``: an auditor
sees when the 3 h window crossed after the 1 h one did.
"""

from __future__ import annotations

import builtins
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, get_args

from drivers.clock import iso_utc
from edge import restore_plan
from edge.exposition import ResponseTimes, histogram_family, unix_seconds
from sensors.levels import GaugeTransition, TransitionKind, WarningLevel

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from edge.rain import Rain
    from edge.station import Station

log = logging.getLogger(__name__)

AlarmKind = Literal["rain", "hand_alarm"]
AlarmState = Literal["active", "acknowledged", "cleared"]
AlarmLevel = Literal["prepare", "evacuate"]
ALARM_LEVEL: dict[WarningLevel, AlarmLevel] = {
    WarningLevel.PREPARE: "prepare", WarningLevel.EVACUATE: "evacuate",
}
WINDOW_ZH = {"10min": "10分钟", "30min": "30分钟", "1h": "1小时", "3h": "3小时", "6h": "6小时",
             "12h": "12小时", "24h": "24小时"}
LEVEL_ZH = {"prepare": "准备转移", "evacuate": "立即转移"}
#: Every (kind, level) an alarm can have: the series the county's rules look for.
KIND_LEVELS = (("rain", "prepare"), ("rain", "evacuate"), ("hand_alarm", "evacuate"))


@dataclass
class Alarm:
    id: str
    kind: AlarmKind
    source: str
    name: str
    raised: datetime
    level: AlarmLevel | None = None
    window: str | None = None
    total_mm: float | None = None
    threshold_mm: float | None = None
    state: AlarmState = "active"
    escalated: datetime | None = None
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    cleared_at: datetime | None = None
    callout: dict[str, Any] | None = None
    wakeup: dict[str, Any] | None = None  # 叫醒 over SIP (edge.sip.wakeup)
    active_since: datetime | None = None  # when it last became active (raised or re-armed)
    windows: list[dict[str, Any]] = field(default_factory=list)  # rain: window records
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def open(self) -> bool:
        return self.state != "cleared"

    def summary_zh(self) -> str:
        """One line a duty officer or an SMS reader understands."""
        if self.kind == "hand_alarm":
            return f"{self.name}已触发"
        window = WINDOW_ZH.get(self.window or "", self.window or "")
        total = f"{self.total_mm:.1f}" if self.total_mm is not None else "?"
        return f"{self.name}{window}雨量{total}毫米，已达{LEVEL_ZH.get(self.level or '', '')}"

    def as_json(self) -> dict[str, Any]:
        def iso(moment: datetime | None) -> str | None:
            return iso_utc(moment) if moment else None

        return {
            "id": self.id, "kind": self.kind, "source": self.source, "name": self.name,
            "level": self.level, "window": self.window,
            "total_mm": round(self.total_mm, 2) if self.total_mm is not None else None,
            "threshold_mm": self.threshold_mm, "state": self.state,
            "raised": iso(self.raised), "escalated": iso(self.escalated),
            "acknowledged_by": self.acknowledged_by, "acknowledged_at": iso(self.acknowledged_at),
            "cleared_at": iso(self.cleared_at), "summary": self.summary_zh(),
            "callout": self.callout, "wakeup": self.wakeup, "windows": self.windows,
        }


Listener = Callable[[str, Alarm], None]


class Alarms:
    """Every alarm of the station; listeners hear raised/escalated/acknowledged/cleared."""

    def __init__(self, station: Station, rain: Rain | None) -> None:
        self.station = station
        self.rain = rain
        self._alarms: dict[str, Alarm] = {}
        self._numbers = itertools.count(1)
        self.listeners: list[Listener] = []
        self.ack_times = {kind: ResponseTimes() for kind in get_args(AlarmKind)}
        #: The state store's ticket of the latest change (what an API answer awaits).
        self.last_ticket = 0
        self._restore()
        if rain is not None:
            rain.listeners.append(self._rain_transition)
        station.metric_sources.append(self._metrics)

    # -- across restarts ---------------------------------------------------------------

    def _restore(self) -> None:
        """Take back the open alarms and the warning board (before any reading)."""
        state = self.station.state
        saved = state.loaded_as("alarm", Alarm)
        carried = restore_plan.open_alarms(saved.values())
        self._alarms = {a.id: a for a in carried}
        for alarm_id in saved.keys() - self._alarms.keys():
            state.delete("alarm", alarm_id)
        self._numbers = itertools.count(restore_plan.next_number(saved))
        if self.rain is not None:
            boards = state.loaded("board")
            for gauge, windows in self.rain.thresholds.items():
                saved_board = restore_plan.board_from_json(boards.get(gauge, {}))
                self.rain.board.restore(gauge, restore_plan.reconcile_board(
                    self.open_for(gauge), saved_board, windows))
        self.station.restored["alarms"] = list(self._alarms)

    def carry_on(self) -> None:
        """After a restart: every restored alarm still open is announced ``restored``, so
        an unacknowledged one sounds again and its 叫应 goes on."""
        for alarm in self.list(open_only=True):
            self._announce("restored", alarm)

    def save(self, alarm: Alarm) -> int:
        """Hand the alarm's current state to the state store (a cleared one is dropped)."""
        state = self.station.state
        if alarm.open:
            self.last_ticket = state.put_record("alarm", alarm.id, alarm)
        else:
            self.last_ticket = state.delete("alarm", alarm.id)
        if alarm.kind == "rain" and self.rain is not None:
            self.last_ticket = state.put(
                "board", alarm.source,
                restore_plan.board_to_json(self.rain.board.states(alarm.source)))
        return self.last_ticket

    def _metrics(self) -> list[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        family = GaugeMetricFamily("station_edge_alarms_open",
                                   "Open alarms (active or acknowledged, not cleared)",
                                   labels=["kind", "level", "state"])
        counts: dict[tuple[str, str, str], int] = {
            (kind, level, state): 0 for kind, level in KIND_LEVELS
            for state in ("active", "acknowledged")}
        active: list[datetime] = []
        for a in self.list(open_only=True):
            key = (a.kind, a.level or "", a.state)
            counts[key] = counts.get(key, 0) + 1
            if a.state == "active":
                active.append(a.active_since or a.raised)
        for labels, count in counts.items():
            family.add_metric(list(labels), count)
        oldest = GaugeMetricFamily(
            "station_edge_alarm_oldest_active_timestamp_seconds",
            "When the longest-waiting unacknowledged alarm became active (0: none)",
            value=unix_seconds(min(active, default=None)))
        acks = histogram_family(
            "station_edge_alarm_ack_seconds",
            "Seconds from an alarm becoming active to its acknowledgement", ["kind"],
            {(kind,): times for kind, times in self.ack_times.items()})
        return [family, oldest, acks]

    def list(self, *, open_only: bool = False) -> list[Alarm]:
        return [a for a in self._alarms.values() if a.open or not open_only]

    def get(self, alarm_id: str) -> Alarm:
        return self._alarms[alarm_id]

    def open_for(self, source: str) -> Alarm | None:
        return next((a for a in self._alarms.values() if a.source == source and a.open), None)

    def _new(self, kind: AlarmKind, source: str, name: str) -> Alarm:
        now = self.station.clock.now()
        alarm = Alarm(f"a{now:%Y%m%d%H%M%S}-{next(self._numbers)}", kind, source, name, now,
                      active_since=now)
        self._alarms[alarm.id] = alarm
        return alarm

    def _announce(self, what: str, alarm: Alarm, actor: str = "system") -> None:
        self.save(alarm)
        self.station.journal.record(f"alarm.{what}", alarm.id, actor, alarm=alarm.as_json())
        for listener in self.listeners:
            try:
                listener(what, alarm)
            except Exception:
                log.exception("alarm listener failed on %s %s", what, alarm.id)

    # -- rain ----------------------------------------------------------------------------

    def _rain_transition(self, change: GaugeTransition) -> None:
        assert self.rain is not None
        t = change.transition
        gauge = change.gauge_id
        level = self.rain.board.level(gauge)
        alarm = self.open_for(gauge)
        if t.kind in (TransitionKind.RAISED, TransitionKind.ESCALATED):
            if alarm is None:
                name = self.rain.configs[gauge].name or gauge
                alarm = self._new("rain", gauge, name)
                self._set_rain_level(alarm, change, level)
                self._window_record(alarm, change)
                self._announce("raised", alarm)
                return
            self._window_record(alarm, change)
            if ALARM_LEVEL.get(level) != alarm.level:
                self._set_rain_level(alarm, change, level)
                alarm.escalated = self.station.clock.now()
                if alarm.state != "active":
                    alarm.state = "active"
                    alarm.active_since = alarm.escalated
                self._announce("escalated", alarm)
        elif t.kind is TransitionKind.CLEARED and alarm is not None:
            self._window_record(alarm, change)
            if level is WarningLevel.NONE:
                alarm.state = "cleared"
                alarm.cleared_at = self.station.clock.now()
                alarm.total_mm = t.total_mm
                self._announce("cleared", alarm)
            elif ALARM_LEVEL.get(level) != alarm.level:
                alarm.level = ALARM_LEVEL.get(level)
                self._announce("lowered", alarm)

    def _window_record(self, alarm: Alarm, change: GaugeTransition) -> None:
        """One window's crossing, level change or clearing: on the alarm, and journaled."""
        t = change.transition
        record = {
            "window": change.window, "transition": t.kind.value,
            "previous": t.previous.name.lower(), "level": t.level.name.lower(),
            "total_mm": round(t.total_mm, 2) if t.total_mm is not None else None,
            "threshold_mm": t.threshold_mm, "at": iso_utc(self.station.clock.now()),
        }
        alarm.windows.append(record)
        self.save(alarm)  # a window may cross without the alarm changing: kept all the same
        self.station.journal.record("rain.window", change.gauge_id, "system",
                                    alarm=alarm.id, **record)

    @staticmethod
    def _set_rain_level(alarm: Alarm, change: GaugeTransition, level: WarningLevel) -> None:
        alarm.level = ALARM_LEVEL.get(level)
        alarm.window = change.window
        alarm.total_mm = change.transition.total_mm
        alarm.threshold_mm = change.transition.threshold_mm

    # -- hand alarms -----------------------------------------------------------------------

    def hand_alarm(self, alarm_input: str, name: str, active: bool) -> Alarm | None:
        """A hand alarm input held (``active``) or released."""
        alarm = self.open_for(alarm_input)
        if active:
            if alarm is None:
                alarm = self._new("hand_alarm", alarm_input, name)
                alarm.level = "evacuate"
                self._announce("raised", alarm, actor=alarm_input)
            return alarm
        if alarm is not None and not alarm.extra.get("released"):
            alarm.extra["released"] = True
            if alarm.state == "acknowledged":
                self._clear(alarm)
            else:
                self.save(alarm)
        return alarm

    # -- acknowledging -----------------------------------------------------------------------

    def acknowledge(self, alarm_id: str, *, actor: str) -> Alarm:
        alarm = self._alarms[alarm_id]
        if alarm.state != "active":
            return alarm
        alarm.state = "acknowledged"
        alarm.acknowledged_by = actor
        alarm.acknowledged_at = self.station.clock.now()
        since = alarm.active_since or alarm.raised
        self.ack_times[alarm.kind].observe((alarm.acknowledged_at - since).total_seconds())
        self._announce("acknowledged", alarm, actor=actor)
        if alarm.kind == "rain" and self.rain is not None and alarm.source in self.rain.configs:
            self.rain.acknowledge(alarm.source)  # may clear it at once if the rain eased
            if alarm.open:
                self.save(alarm)  # the board's latches are acknowledged now
        elif alarm.kind == "hand_alarm" and alarm.extra.get("released"):
            self._clear(alarm)
        elif alarm.kind == "rain":
            self._clear(alarm)  # restored for a gauge no longer configured: nothing to wait for
        return alarm

    def acknowledge_all(self, *, actor: str) -> builtins.list[Alarm]:
        return [self.acknowledge(a.id, actor=actor) for a in self.list(open_only=True)
                if a.state == "active"]

    def _clear(self, alarm: Alarm) -> None:
        alarm.state = "cleared"
        alarm.cleared_at = self.station.clock.now()
        self._announce("cleared", alarm)
