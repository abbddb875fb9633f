"""Pieces of Prometheus exposition shared by the station's parts.

* :func:`unix_seconds`: a moment as a ``*_timestamp_seconds`` value, ``0`` for "never".
* :class:`ResponseTimes`: how long people took to respond (an alarm acknowledged, a spot
  check answered, a 叫应 answered). The county asks "how fast do our duty officers
  react?" across stations and months, which is a histogram question
  (``histogram_quantile`` over ``rate(..._bucket)``), not a list of events. The buckets
  are human times, from ten seconds to an hour. Counts live for the life of the process,
  as Prometheus counters do; a restart starts them again at zero.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from datetime import datetime

from prometheus_client.core import HistogramMetricFamily


def unix_seconds(moment: datetime | None) -> float:
    """A moment as a ``*_timestamp_seconds`` value; 0 for "never"."""
    return moment.timestamp() if moment is not None else 0.0


HUMAN_BUCKETS_S: tuple[float, ...] = (10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


class ResponseTimes:
    """Observed response times, kept as histogram buckets."""

    def __init__(self, buckets: Sequence[float] = HUMAN_BUCKETS_S) -> None:
        if list(buckets) != sorted(set(buckets)):
            raise ValueError(f"buckets must be strictly increasing, got {buckets}")
        self.buckets = tuple(buckets)
        self._counts = [0] * (len(self.buckets) + 1)  # the last one: above every bound
        self.sum_s = 0.0

    def observe(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self._counts[bisect.bisect_left(self.buckets, seconds)] += 1
        self.sum_s += seconds

    @property
    def count(self) -> int:
        return sum(self._counts)

    def cumulative(self) -> list[tuple[str, float]]:
        """``(le, count)`` pairs as Prometheus exposes them, ending with ``+Inf``."""
        out: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip((*map(str, self.buckets), "+Inf"), self._counts, strict=True):
            running += count
            out.append((bound, running))
        return out


def histogram_family(name: str, documentation: str, labels: Sequence[str],
                     series: Mapping[tuple[str, ...], ResponseTimes]) -> HistogramMetricFamily:
    """One histogram family with a series per label-value tuple (each present from start)."""
    family = HistogramMetricFamily(name, documentation, labels=list(labels))
    for values, times in series.items():
        family.add_metric(list(values), times.cumulative(), sum_value=times.sum_s)
    return family
