"""The station's rain gauges, wired: polling, the archive, windows, warning levels, health.

Each gauge's increments feed its rainfall windows, spread over the interval they fell
in; after every reading (and every second, as windows slide) the warning board is fed
the totals, or ``None`` when the gauge is stale, offline or in fault, so a silent or
broken gauge never raises and never clears an alarm.

An increment that spans an outage (a gauge back after minutes offline or in fault, or
the station restarted) carries rain whose timing inside the outage is unknown. It is
spread over the outage and counted in every window longer than the outage, but windows
shorter than the outage are treated as stale until it has slid out of them: never
guessed, never a false alarm, never a false clear.

Writes: see :mod:`edge.rain_store` (rain per minute and the last counters, at a bounded
rate; a poll that changed nothing writes nothing). The journal gets events (data gaps,
outage increments, health changes, window crossings through the alarms), never a poll.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from drivers.clock import Clock
from drivers.modbus_bus import ModbusBus
from drivers.tasks import cancel_and_wait
from edge.gauge_catalogue import plausibility_for, register_map_for
from edge.health import DeviceStatus, Health
from edge.rain_store import PendingRain, RainStore
from edge.rain_view import rain_metrics
from sensors.gauge_events import (
    CounterReading,
    DataGap,
    GaugeEvent,
    GaugeState,
    RainIncrement,
    StatusChange,
)
from sensors.levels import GaugeTransition, Thresholds, WarningBoard
from sensors.modbus_gauge import ModbusRainGauge
from sensors.pulse_gauge import PulseRainGauge
from sensors.rain_minutes import MINUTE_S
from sensors.windows import WINDOWS, RainfallWindows, seconds

if TYPE_CHECKING:
    from edge.config import RainGaugeConfig
    from edge.station import Station

log = logging.getLogger(__name__)

EVALUATE_INTERVAL_S = 1.0
ARCHIVE_CHECK_S = 5.0
HEALTH_STATE: dict[GaugeState, DeviceStatus] = {
    GaugeState.OK: "ok", GaugeState.OFFLINE: "offline", GaugeState.UNKNOWN: "unknown",
    GaugeState.FAULT: "fault",
}


def thresholds_for(station: Station) -> dict[str, dict[str, Thresholds]]:
    """Per gauge and window; a rule for one gauge overrides the ``*`` rule of that window."""
    out: dict[str, dict[str, Thresholds]] = {g.id: {} for g in station.config.rain_gauges}
    rules = sorted(station.config.rain_thresholds, key=lambda r: r.gauge != "*")
    for rule in rules:
        targets = out if rule.gauge == "*" else {rule.gauge: out[rule.gauge]}
        for windows in targets.values():
            windows[rule.window] = Thresholds(rule.prepare_mm, rule.evacuate_mm,
                                              rule.clear_fraction)
    return out


def modbus_gauge(cfg: RainGaugeConfig, bus: ModbusBus, clock: Clock,
                 last: CounterReading | None,
                 on_event: Callable[[GaugeEvent], None] | None = None) -> ModbusRainGauge:
    """The gauge a ``[[rain_gauges]]`` entry describes (its model filled in by the config)."""
    assert cfg.unit is not None
    gauge = ModbusRainGauge(cfg.id, bus, cfg.unit, register_map_for(cfg), clock,
                            plausibility=plausibility_for(cfg), offline_after=cfg.offline_after,
                            online_after=cfg.online_after, last=last, on_event=on_event)
    if last is not None:
        gauge.missed = 1  # the station was not looking: a step back is a reset, never a wrap
    return gauge


#: The rain archive's health id (kind ``rain_archive``).
ARCHIVE_DEVICE = "rain_archive"


class ArchiveHealth:
    """The rain archive in health: a fault while the disk refuses its writes, ok when
    it takes them again. The warnings go on from memory, but the rain not yet written
    is lost on a restart, so a technician must come (the fault LED), not read a log.
    """

    def __init__(self, health: Health) -> None:
        self.health = health
        health.register(ARCHIVE_DEVICE, "rain_archive")
        health.report(ARCHIVE_DEVICE, "ok", "writable")

    def changed(self, writable: bool, error: str | None) -> None:
        if writable:
            self.health.report(ARCHIVE_DEVICE, "ok", "writable")
        else:
            self.health.report(ARCHIVE_DEVICE, "fault", f"not writable: {error}")


class Rain:
    def __init__(self, station: Station, buses: dict[str, ModbusBus]) -> None:
        self.station = station
        self.clock = station.clock
        self.store = RainStore(station.config.station.data_dir / "readings.db", self.clock.now)
        self.store.on_writable_change = self._archive_writable
        self.archive_health = ArchiveHealth(station.health)
        self.pending = PendingRain()
        self.archive_writes = 0
        self.thresholds = thresholds_for(station)
        self.board = WarningBoard(self.thresholds)
        self.configs = {g.id: g for g in station.config.rain_gauges}
        self.windows = {g.id: RainfallWindows() for g in station.config.rain_gauges}
        self.untrusted_until: dict[str, dict[str, datetime]] = {g: {} for g in self.configs}
        self.listeners: list[Callable[[GaugeTransition], None]] = []
        self.gauges: dict[str, ModbusRainGauge | PulseRainGauge] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        for cfg in station.config.rain_gauges:
            station.health.register(cfg.id, "rain_gauge", "not read yet")
            self._restore_windows(cfg.id)
            if cfg.kind == "modbus":
                assert cfg.bus is not None
                self.gauges[cfg.id] = modbus_gauge(cfg, buses[cfg.bus], self.clock,
                                                   self.store.counter(cfg.id), self._on_event)
            else:
                self.gauges[cfg.id] = PulseRainGauge(cfg.id, cfg.mm_per_tip, self.clock.now(),
                                                     self._on_event)
                station.on_input(cfg.id, self._pulse_handler(cfg.id))
                station.health.report(cfg.id, "ok", "pulse input")
        station.lifecycle.on("ready", "rain", self._start)
        station.lifecycle.on("stopping", "rain", self._stop)
        station.metric_sources.append(lambda: rain_metrics(self))

    # -- building ------------------------------------------------------------------------

    def _restore_windows(self, gauge_id: str) -> None:
        """The last 24 h from the archive's minutes, each spread over its minute.

        A minute's rain fell before the counter stored with it was read: the minute
        that holds that reading is spread only up to it, never into the future.
        """
        now = self.clock.now()
        stored = self.store.counter(gauge_id)
        limit = seconds(min(now, stored.at) if stored is not None else now)
        for minute, mm in self.store.minutes(gauge_id, now - timedelta(hours=24), now):
            start, end = float(minute), min(float(minute + MINUTE_S), max(limit, minute))
            self.windows[gauge_id].add_spread(datetime.fromtimestamp(start, UTC),
                                              datetime.fromtimestamp(end, UTC), mm)

    def _pulse_handler(self, gauge_id: str) -> Callable[[bool, float], None]:
        def on_level(active: bool, _began: float) -> None:
            if active:
                gauge = self.gauges[gauge_id]
                assert isinstance(gauge, PulseRainGauge)
                gauge.tip(self.clock.now())
        return on_level

    def poll_interval_s(self, gauge_id: str) -> float:
        cfg = self.configs[gauge_id]
        if cfg.kind == "modbus" and cfg.bus is not None:
            return self.station.config.modbus.buses[cfg.bus].poll_interval_s
        return EVALUATE_INTERVAL_S

    def stale_after_s(self, gauge_id: str) -> float:
        cfg = self.configs[gauge_id]
        return cfg.stale_after_s or 3 * self.poll_interval_s(gauge_id) + 1.0

    # -- running ---------------------------------------------------------------------------

    def _start(self) -> None:
        self._loop = asyncio.get_running_loop()
        for gauge_id, gauge in self.gauges.items():
            if isinstance(gauge, ModbusRainGauge):
                self._tasks.append(asyncio.create_task(
                    gauge.run(self.poll_interval_s(gauge_id)), name=f"gauge-{gauge_id}"))
        self._tasks.append(asyncio.create_task(self._evaluate_forever(), name="rain-levels"))
        self._tasks.append(asyncio.create_task(self._archive_forever(), name="rain-archive"))

    async def _stop(self) -> None:
        await cancel_and_wait(self._tasks)
        for gauge in self.gauges.values():
            gauge.close()
        self.write_archive(force=True)
        self.store.close()

    async def _evaluate_forever(self) -> None:
        while True:
            await self.clock.sleep(EVALUATE_INTERVAL_S)
            for gauge_id in self.gauges:
                self.evaluate(gauge_id)

    async def _archive_forever(self) -> None:
        while True:
            await self.clock.sleep(ARCHIVE_CHECK_S)
            self.write_archive()

    def write_archive(self, *, force: bool = False) -> bool:
        """Hand what is pending to the archive's writer if it is due (or ``force``); True
        if it did. The disk write follows on the writer's thread, never on the loop."""
        now_s = seconds(self.clock.now())
        if not (force or self.pending.due(now_s)):
            return False
        if not (self.pending.minutes or self.pending.counters):
            return False
        self.store.write(*self.pending.take(now_s))
        self.archive_writes += 1
        return True

    def _archive_writable(self, writable: bool, error: str | None) -> None:
        """The archive's writer thread says the disk refuses (or takes again) its writes.

        A full or read-only disk loses no warning (the windows are in memory) and never
        stops the polling: the rain waits in memory until the disk takes it. Journaled
        both ways and shown in health (on the loop: this is called from the writer's
        thread).
        """
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if not writable:
            log.error("rain readings not archived (kept in memory): %s", error)
        loop.call_soon_threadsafe(self._archive_changed, writable, error)

    def _archive_changed(self, writable: bool, error: str | None) -> None:
        if writable:
            self.station.journal.record("rain.archive_resumed", "rain", "system")
        else:
            self.station.journal.record("fault.rain_archive", "rain", "system", error=error)
        self.archive_health.changed(writable, error)

    def _on_event(self, event: GaugeEvent) -> None:
        journal = self.station.journal
        if isinstance(event, StatusChange):
            status = HEALTH_STATE[event.status.state]
            self.station.health.report(event.gauge_id, status, event.status.detail)
            self.evaluate(event.gauge_id)
            return
        if isinstance(event, DataGap):
            journal.record("rain.data_gap", event.gauge_id, "system", kind=event.kind.value,
                           previous_raw=event.previous_raw, raw=event.raw, detail=event.detail,
                           since=event.since.isoformat())
            self.pending.counter(event.gauge_id, CounterReading(event.raw, event.at),
                                 urgent=True)
            self.evaluate(event.gauge_id)
            return
        gauge = self.gauges[event.gauge_id]
        if event.since is not None and event.mm > 0:
            self.windows[event.gauge_id].add_spread(event.since, event.at, event.mm)
            if isinstance(gauge, ModbusRainGauge):
                self._mark_outage_lump(event)  # a tip is a tip; a counter can hide an outage
            self.pending.book(event.gauge_id, event.since, event.at, event.mm)
        if isinstance(gauge, ModbusRainGauge):
            self.pending.counter(event.gauge_id, CounterReading(event.raw, event.at))
        self.evaluate(event.gauge_id)

    def _mark_outage_lump(self, event: RainIncrement) -> None:
        """Journal the rain of an outage (polls missed, a fault, a restart); hold short windows.

        The lump is spread over the outage; a window shorter than the outage would see a
        guess, so it is held until the lump has slid out of it.
        """
        assert event.since is not None
        span = (event.at - event.since).total_seconds()
        held = {}
        if span > 2 * self.poll_interval_s(event.gauge_id) + 1.0:
            for window, window_s in WINDOWS.items():
                if window_s < span:
                    held[window] = event.at + timedelta(seconds=window_s)
            self.untrusted_until[event.gauge_id].update(held)
        if held or event.missed:
            self.station.journal.record(
                "rain.outage_increment", event.gauge_id, "system", mm=round(event.mm, 4),
                span_s=round(span, 1), since=event.since.isoformat(),
                missed_polls=event.missed, windows_held=sorted(held))

    # -- levels ----------------------------------------------------------------------------

    def trusted_totals(self, gauge_id: str) -> dict[str, float] | None:
        """Every window's total, without those held; None while the gauge is not fresh."""
        gauge = self.gauges[gauge_id]
        if not gauge.is_fresh(self.stale_after_s(gauge_id)):
            return None
        now = self.clock.now()
        totals = self.windows[gauge_id].totals(now)
        held = self.untrusted_until[gauge_id]
        for window, until in list(held.items()):
            if now < until:
                totals.pop(window, None)
            else:
                del held[window]
        return totals

    def evaluate(self, gauge_id: str) -> list[GaugeTransition]:
        transitions = self.board.update(gauge_id, self.trusted_totals(gauge_id))
        self._tell(transitions)
        return transitions

    def acknowledge(self, gauge_id: str) -> list[GaugeTransition]:
        transitions = self.board.acknowledge(gauge_id)
        self._tell(transitions)
        return transitions

    def _tell(self, transitions: list[GaugeTransition]) -> None:
        for transition in transitions:
            for listener in self.listeners:
                listener(transition)

    def stopped_at(self, gauge_id: str) -> datetime | None:
        """When the gauge's data stopped (its last good reading), or None while fresh."""
        gauge = self.gauges[gauge_id]
        if gauge.is_fresh(self.stale_after_s(gauge_id)):
            return None
        return self.last_reading(gauge_id)

    def last_reading(self, gauge_id: str) -> datetime | None:
        """The last counter read (Modbus) or tip (pulse); None before the first."""
        gauge = self.gauges[gauge_id]
        if isinstance(gauge, ModbusRainGauge):
            return gauge.last.at if gauge.last else None
        return gauge.last_tip

    def series_minutes(self, gauge_id: str, start: datetime,
                       end: datetime) -> list[tuple[int, float]]:
        """Stored, on their way and not yet handed over: the minutes of ``(start, end]``."""
        merged = dict(self.store.minutes(gauge_id, start, end))
        for minute, mm in self.pending.pending_minutes(gauge_id):
            merged[minute] = merged.get(minute, 0.0) + mm
        return sorted(merged.items())
