"""Prometheus metrics, read from the station's state at scrape time.

Names and labels are a contract with the county (``docs/county.md`` lists every one with
its unit). Three conventions hold throughout:

* moments are ``*_timestamp_seconds`` (Unix time on the station's clock, ``0`` for "never"
  or "nothing"), and the station's own clock is ``station_edge_time_seconds``, so a rule
  compares the station with itself and a station whose clock is off (a Pi without a
  real-time clock after a power cut) neither hides nor invents an alert;
* every labelled series a rule may look for exists from the start, at 0;
* no label is called ``station``: that is the label the county's scrape configuration
  gives each target.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CollectorRegistry, CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from edge.exposition import unix_seconds
from edge.health import STATUSES

if TYPE_CHECKING:
    from edge.station import Station


class StationCollector(Collector):
    def __init__(self, station: Station) -> None:
        self.station = station

    def collect(self) -> Iterator[Metric]:
        s = self.station
        info = GaugeMetricFamily("station_edge_info", "Station identity (always 1)",
                                 labels=["station_id", "station_name", "version"])
        info.add_metric([s.config.station.id, s.config.station.name, s.version], 1)
        yield info
        yield GaugeMetricFamily("station_edge_time_seconds",
                                "The station's clock, Unix time in seconds",
                                value=s.clock.now().timestamp())
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
        yield from self._journal()
        yield from self._state()
        yield from self._disk()
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

    def _journal(self) -> Iterator[Metric]:
        journal = self.station.journal
        yield GaugeMetricFamily("station_edge_journal_size_bytes", "Journal size on disk",
                                value=journal.size_bytes())
        yield GaugeMetricFamily("station_edge_journal_writable", "1 if the journal can write",
                                value=1 if journal.writable else 0)
        yield GaugeMetricFamily("station_edge_journal_pending_events",
                                "Events recorded but not yet on disk",
                                value=journal.pending_count)
        yield GaugeMetricFamily("station_edge_journal_last_write_timestamp_seconds",
                                "When the journal last wrote to disk (0: not yet)",
                                value=unix_seconds(journal.last_write_at))
        yield GaugeMetricFamily("station_edge_journal_oldest_pending_timestamp_seconds",
                                "When the oldest event still waiting for the disk was recorded "
                                "(0: none waits)",
                                value=unix_seconds(journal.oldest_pending_at))

    def _state(self) -> Iterator[Metric]:
        state = self.station.state
        yield GaugeMetricFamily("station_edge_state_writable",
                                "1 if the state store (what a restart must not forget) can write",
                                value=1 if state.writable else 0)
        yield GaugeMetricFamily("station_edge_state_pending_changes",
                                "State changes made, not yet on disk (kept in memory)",
                                value=state.pending_count)

    def _disk(self) -> Iterator[Metric]:
        config = self.station.config
        try:
            usage = shutil.disk_usage(config.station.data_dir)
            free, size = float(usage.free), float(usage.total)
        except OSError:
            free = size = float("nan")
        yield GaugeMetricFamily("station_edge_disk_free_bytes",
                                "Free space on the file system of data_dir", value=free)
        yield GaugeMetricFamily("station_edge_disk_size_bytes",
                                "Size of the file system of data_dir", value=size)
        yield GaugeMetricFamily("station_edge_disk_min_free_bytes",
                                "Below this free space the journal is a fault "
                                "([journal] min_free_mb)",
                                value=config.journal.min_free_mb * 1024 * 1024)


def registry_for(station: Station) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StationCollector(station))
    return registry
