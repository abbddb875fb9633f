"""Prometheus metrics, read from the station's state at scrape time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CollectorRegistry, CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from edge.health import STATUSES

if TYPE_CHECKING:
    from edge.station import Station


class StationCollector(Collector):
    def __init__(self, station: Station) -> None:
        self.station = station

    def collect(self) -> Iterator[Metric]:
        s = self.station
        info = GaugeMetricFamily("station_edge_info", "Station identity",
                                 labels=["station", "version"])
        info.add_metric([s.config.station.id, s.version], 1)
        yield info
        yield GaugeMetricFamily("station_edge_uptime_seconds", "Seconds since start",
                                value=s.uptime_s())
        status = GaugeMetricFamily("station_edge_status", "Station status (1 = current)",
                                   labels=["status"])
        current = s.health.status()
        for name in ("ok", "degraded", "fault"):
            status.add_metric([name], 1 if name == current else 0)
        yield status
        device = GaugeMetricFamily("station_edge_device_status", "Device status (1 = current)",
                                   labels=["device", "kind", "status"])
        for d in s.health.devices():
            for name in STATUSES:
                device.add_metric([d.id, d.kind, name], 1 if d.status == name else 0)
        yield device
        yield GaugeMetricFamily("station_edge_journal_size_bytes", "Journal size on disk",
                                value=s.journal.size_bytes())
        yield GaugeMetricFamily("station_edge_journal_writable", "1 if the journal can write",
                                value=1 if s.journal.writable else 0)
        yield GaugeMetricFamily("station_edge_journal_pending_events",
                                "Events recorded but not yet on disk",
                                value=s.journal.pending_count)
        last = s.journal.last_write_monotonic
        age = s.clock.monotonic() - last if last is not None else float("nan")
        yield GaugeMetricFamily("station_edge_journal_last_write_age_seconds",
                                "Seconds since the journal last wrote", value=age)
        on = GaugeMetricFamily("station_edge_output_on", "1 while an output is energised",
                               labels=["output", "kind"])
        cuts = CounterMetricFamily("station_edge_output_max_on_cuts",
                                   "Outputs cut for outliving their maximum on-time",
                                   labels=["output"])
        for o in s.outputs.all():
            on.add_metric([o.id, o.kind], 1 if o.switch.is_on else 0)
            cuts.add_metric([o.id], o.cut_count)
        yield on
        yield cuts
        for extra in s.metric_sources:
            yield from extra()


def registry_for(station: Station) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StationCollector(station))
    return registry
