"""What the API and the metrics say about the gauges: held values, never a false 0.

A gauge that is stale, offline or in fault has no totals: each window's total is
``null`` in ``/api/v1/rain`` and NaN in ``/metrics``, with the time its data stopped
(``stopped_at``; ``station_edge_rain_last_reading_timestamp_seconds``, 0 for never). A window held
after an outage (the outage's rain has not yet slid out of it) is ``null`` too: the
alarm board does not see it either. A series' buckets after the data stopped are
``null`` too (the chart draws a gap).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from edge.exposition import unix_seconds
from sensors.windows import WINDOWS

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from edge.rain import Rain


def held_totals(rain: Rain, gauge_id: str) -> dict[str, float | None]:
    """Each window's total as the alarm board sees it (None: held)."""
    trusted = rain.trusted_totals(gauge_id)
    return {w: (trusted.get(w) if trusted is not None else None) for w in WINDOWS}


def stopped_at(rain: Rain, gauge_id: str) -> datetime | None:
    """When the gauge's data stopped (never read: since its health said so); None while
    it is fresh."""
    if rain.gauges[gauge_id].is_fresh(rain.stale_after_s(gauge_id)):
        return None
    return rain.stopped_at(gauge_id) or rain.station.health.get(gauge_id).since


def held_series(points: list[tuple[datetime, float]],
                stopped: datetime | None) -> list[tuple[datetime, float | None]]:
    """A series' buckets (each ``(end, mm)``) with those that end after the gauge's data
    stopped held (None): not known, never a flat 0 across an outage."""
    return [(t, None if stopped is not None and t > stopped else mm) for t, mm in points]


def gauge_json(rain: Rain, gauge_id: str, iso: Callable[[datetime], str]) -> dict[str, Any]:
    cfg = rain.configs[gauge_id]
    now = rain.clock.now()
    totals = held_totals(rain, gauge_id)
    fresh = rain.gauges[gauge_id].is_fresh(rain.stale_after_s(gauge_id))
    last = rain.last_reading(gauge_id)
    health = rain.station.health.get(gauge_id)
    stopped = stopped_at(rain, gauge_id)
    return {
        "id": gauge_id,
        "name": cfg.name,
        "kind": cfg.kind,
        "model": cfg.model,
        "status": health.status,
        "detail": health.detail,
        "fresh": fresh,
        "last_reading": iso(last) if last else None,
        "stopped_at": iso(stopped) if stopped else None,
        "totals": {w: (round(v, 2) if v is not None else None) for w, v in totals.items()},
        "day_total": round(rain.windows[gauge_id].day_total(now), 2) if fresh else None,
        "level": rain.board.level(gauge_id).name.lower(),
        "thresholds": [
            {"window": w, "prepare_mm": t.prepare_mm, "evacuate_mm": t.evacuate_mm,
             "clear_fraction": t.clear_fraction}
            for w, t in rain.thresholds[gauge_id].items()
        ],
    }


def rain_metrics(rain: Rain) -> list[Metric]:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    totals = GaugeMetricFamily("station_edge_rain_window_mm",
                               "Rainfall over each window, per gauge (NaN: held, stale or fault)",
                               labels=["gauge", "window"])
    level = GaugeMetricFamily("station_edge_rain_warning_level",
                              "0 none, 1 准备转移 prepare, 2 立即转移 evacuate",
                              labels=["gauge"])
    fresh = GaugeMetricFamily("station_edge_rain_sensor_fresh",
                              "1 if the gauge was read recently and is ok (0: stale or fault)",
                              labels=["gauge"])
    last = GaugeMetricFamily("station_edge_rain_last_reading_timestamp_seconds",
                             "When the gauge was last read (a tip, for a pulse gauge; "
                             "0: never): when its data stopped, while it is stale",
                             labels=["gauge"])
    for gauge_id, gauge in rain.gauges.items():
        for window, mm in held_totals(rain, gauge_id).items():
            totals.add_metric([gauge_id, window], math.nan if mm is None else mm)
        level.add_metric([gauge_id], int(rain.board.level(gauge_id)))
        fresh.add_metric([gauge_id], 1 if gauge.is_fresh(rain.stale_after_s(gauge_id)) else 0)
        last.add_metric([gauge_id], unix_seconds(rain.last_reading(gauge_id)))
    pending = GaugeMetricFamily("station_edge_rain_archive_pending_mm",
                                "Rain counted but not yet written to the archive (a crash "
                                "leaves it to be recovered from the gauges' counters)",
                                value=sum(rain.pending.minutes.values())
                                + rain.store.unwritten_mm())
    writes = CounterMetricFamily("station_edge_rain_archive_writes",
                                 "Transactions handed to the rain archive's writer",
                                 value=rain.archive_writes)
    return [totals, level, fresh, last, pending, writes]
