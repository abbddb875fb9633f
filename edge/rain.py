"""The station's rain gauges, wired: polling, the archive, windows, warning levels, health.

Each gauge's increments feed its rainfall windows; after every reading (and every
second, as windows slide) the warning board is fed the totals, or ``None`` when the
gauge is stale, so a silent gauge never raises and never clears an alarm. The board's
transitions go to the listeners (the alarms).

An increment that spans an outage (a gauge back after minutes offline, or the station
restarted) carries rain whose timing inside the outage is unknown. It is counted in the
24 h and daily totals, but windows shorter than the outage are treated as stale until
the lump has slid out of them: never guessed, never a false alarm, never a false clear.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from drivers.modbus_bus import ModbusBus
from drivers.tasks import cancel_and_wait
from edge.exposition import unix_seconds
from edge.health import DeviceStatus
from edge.rain_store import RainStore
from sensors.levels import GaugeTransition, Thresholds, WarningBoard
from sensors.modbus_gauge import (
    CounterClear,
    CounterReading,
    DataGap,
    GaugeEvent,
    GaugeState,
    ModbusRainGauge,
    RainIncrement,
    RegisterMap,
    StatusChange,
)
from sensors.pulse_gauge import PulseRainGauge
from sensors.windows import WINDOWS, RainfallWindows

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from edge.config import RainGaugeConfig
    from edge.station import Station

log = logging.getLogger(__name__)

EVALUATE_INTERVAL_S = 1.0
HEALTH_STATE: dict[GaugeState, DeviceStatus] = {
    GaugeState.OK: "ok", GaugeState.OFFLINE: "offline", GaugeState.UNKNOWN: "unknown",
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


class Rain:
    def __init__(self, station: Station, buses: dict[str, ModbusBus]) -> None:
        self.station = station
        self.clock = station.clock
        self.store = RainStore(station.config.station.data_dir / "readings.db")
        self.board = WarningBoard(thresholds_for(station))
        self.thresholds = thresholds_for(station)
        self.configs = {g.id: g for g in station.config.rain_gauges}
        self.windows = {g.id: RainfallWindows() for g in station.config.rain_gauges}
        self.untrusted_until: dict[str, dict[str, datetime]] = {g: {} for g in self.configs}
        self.listeners: list[Callable[[GaugeTransition], None]] = []
        self.gauges: dict[str, ModbusRainGauge | PulseRainGauge] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._archive_failing = False
        for cfg in station.config.rain_gauges:
            station.health.register(cfg.id, "rain_gauge", "not read yet")
            self._restore_windows(cfg.id)
            if cfg.kind == "modbus":
                assert cfg.bus is not None and cfg.unit is not None
                self.gauges[cfg.id] = self._modbus_gauge(cfg, buses[cfg.bus])
            else:
                self.gauges[cfg.id] = PulseRainGauge(cfg.id, cfg.mm_per_tip, self.clock.now(),
                                                     self._on_event)
                station.on_input(cfg.id, self._pulse_handler(cfg.id))
                station.health.report(cfg.id, "ok", "pulse input")
        station.lifecycle.on("ready", "rain", self._start)
        station.lifecycle.on("stopping", "rain", self._stop)
        station.metric_sources.append(self._metrics)

    # -- building ------------------------------------------------------------------------

    def _modbus_gauge(self, cfg: RainGaugeConfig, bus: ModbusBus) -> ModbusRainGauge:
        clear = (CounterClear(cfg.clear.register_address, cfg.clear.value)
                 if cfg.clear is not None else None)
        register_map = RegisterMap(function=cfg.function, register=cfg.register_address,
                                   width=cfg.width, word_order=cfg.word_order,
                                   scale_mm=cfg.scale_mm, clear=clear)
        stored = self.store.counter(cfg.id)
        last = CounterReading(stored[0], stored[1]) if stored else None
        assert cfg.unit is not None
        return ModbusRainGauge(cfg.id, bus, cfg.unit, register_map, self.clock,
                               offline_after=cfg.offline_after, last=last,
                               on_event=self._on_event)

    def _restore_windows(self, gauge_id: str) -> None:
        now = self.clock.now()
        for at, mm in self.store.increments(gauge_id, now - timedelta(hours=24), now):
            self.windows[gauge_id].add(at, mm)

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
        for gauge_id, gauge in self.gauges.items():
            if isinstance(gauge, ModbusRainGauge):
                self._tasks.append(asyncio.create_task(
                    gauge.run(self.poll_interval_s(gauge_id)), name=f"gauge-{gauge_id}"))
        self._tasks.append(asyncio.create_task(self._evaluate_forever(), name="rain-levels"))

    async def _stop(self) -> None:
        await cancel_and_wait(self._tasks)
        for gauge in self.gauges.values():
            gauge.close()
        self.store.close()

    async def _evaluate_forever(self) -> None:
        while True:
            await self.clock.sleep(EVALUATE_INTERVAL_S)
            for gauge_id in self.gauges:
                self.evaluate(gauge_id)

    def _on_event(self, event: GaugeEvent) -> None:
        journal = self.station.journal
        if isinstance(event, StatusChange):
            status = HEALTH_STATE[event.status.state]
            self.station.health.report(event.gauge_id, status, event.status.detail)
            return
        if isinstance(event, DataGap):
            journal.record("rain.data_gap", event.gauge_id, "system", kind=event.kind.value,
                           previous_raw=event.previous_raw, raw=event.raw, detail=event.detail,
                           since=event.since.isoformat())
            self._keep(self.store.set_counter, event.gauge_id, event.raw, event.at)
            self.evaluate(event.gauge_id)
            return
        assert isinstance(event, RainIncrement)
        if event.since is not None and event.mm > 0:
            self.windows[event.gauge_id].add(event.at, event.mm)
            if isinstance(self.gauges[event.gauge_id], ModbusRainGauge):
                self._mark_outage_lump(event)  # a tip is a tip; a counter can hide an outage
            self._keep(self.store.add, event.gauge_id, event.at, event.mm, event.since)
        if isinstance(self.gauges[event.gauge_id], ModbusRainGauge):
            self._keep(self.store.set_counter, event.gauge_id, event.raw, event.at)
        self.evaluate(event.gauge_id)

    def _keep(self, write: Callable[..., None], *args: Any) -> None:
        """Archive a reading; a full or read-only disk loses the archive's copy, never the
        warning (the windows are in memory), and never stops the gauge's polling."""
        try:
            write(*args)
        except sqlite3.Error as exc:
            if not self._archive_failing:
                log.error("rain readings not archived: %s", exc)
                self.station.journal.record("fault.rain_archive", "rain", "system",
                                            error=str(exc))
            self._archive_failing = True
        else:
            self._archive_failing = False

    def _mark_outage_lump(self, event: RainIncrement) -> None:
        assert event.since is not None
        span = (event.at - event.since).total_seconds()
        if span <= 2 * self.poll_interval_s(event.gauge_id) + 1.0:
            return
        poisoned = {}
        for window, seconds in WINDOWS.items():
            if seconds < span:
                poisoned[window] = event.at + timedelta(seconds=seconds)
        self.untrusted_until[event.gauge_id].update(poisoned)
        self.station.journal.record("rain.outage_increment", event.gauge_id, "system",
                                    mm=round(event.mm, 4), span_s=round(span, 1),
                                    windows_held=sorted(poisoned))

    # -- levels ----------------------------------------------------------------------------

    def trusted_totals(self, gauge_id: str) -> dict[str, float] | None:
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
        for transition in transitions:
            for listener in self.listeners:
                listener(transition)
        return transitions

    def acknowledge(self, gauge_id: str) -> list[GaugeTransition]:
        transitions = self.board.acknowledge(gauge_id)
        for transition in transitions:
            for listener in self.listeners:
                listener(transition)
        return transitions

    # -- reading ---------------------------------------------------------------------------

    def last_reading(self, gauge_id: str) -> datetime | None:
        """The last counter read (Modbus) or tip (pulse); None before the first."""
        gauge = self.gauges[gauge_id]
        if isinstance(gauge, ModbusRainGauge):
            return gauge.last.at if gauge.last else None
        return gauge.last_tip

    def gauge_json(self, gauge_id: str, iso: Callable[[datetime], str]) -> dict[str, Any]:
        cfg, gauge = self.configs[gauge_id], self.gauges[gauge_id]
        now = self.clock.now()
        last = self.last_reading(gauge_id)
        fresh = gauge.is_fresh(self.stale_after_s(gauge_id))
        return {
            "id": gauge_id,
            "name": cfg.name,
            "kind": cfg.kind,
            "status": self.station.health.get(gauge_id).status,
            "fresh": fresh,
            "last_reading": iso(last) if last else None,
            "totals": {w: round(v, 2) for w, v in self.windows[gauge_id].totals(now).items()},
            "day_total": round(self.windows[gauge_id].day_total(now), 2),
            "level": self.board.level(gauge_id).name.lower(),
            "thresholds": [
                {"window": w, "prepare_mm": t.prepare_mm, "evacuate_mm": t.evacuate_mm,
                 "clear_fraction": t.clear_fraction}
                for w, t in self.thresholds[gauge_id].items()
            ],
        }

    def _metrics(self) -> list[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        totals = GaugeMetricFamily("station_edge_rain_window_mm",
                                   "Rainfall over each window, per gauge",
                                   labels=["gauge", "window"])
        level = GaugeMetricFamily("station_edge_rain_warning_level",
                                  "0 none, 1 准备转移 prepare, 2 立即转移 evacuate",
                                  labels=["gauge"])
        fresh = GaugeMetricFamily("station_edge_rain_sensor_fresh",
                                  "1 if the gauge was read recently (0: stale)",
                                  labels=["gauge"])
        last = GaugeMetricFamily("station_edge_rain_last_reading_timestamp_seconds",
                                 "When the gauge was last read (a tip, for a pulse gauge; "
                                 "0: never)", labels=["gauge"])
        now = self.clock.now()
        for gauge_id, gauge in self.gauges.items():
            for window, mm in self.windows[gauge_id].totals(now).items():
                totals.add_metric([gauge_id, window], mm)
            level.add_metric([gauge_id], int(self.board.level(gauge_id)))
            fresh.add_metric([gauge_id], 1 if gauge.is_fresh(self.stale_after_s(gauge_id)) else 0)
            last.add_metric([gauge_id], unix_seconds(self.last_reading(gauge_id)))
        return [totals, level, fresh, last]
