"""p50 / p99 / max of latency samples, as every latency benchmark prints them."""

from __future__ import annotations

import statistics


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def summary(samples: list[float]) -> str:
    """``p50 … ms, p99 … ms, max … ms (n=…)`` for samples in seconds."""
    return (f"p50 {1000 * statistics.median(samples):.2f} ms, p99 {1000 * p99(samples):.2f} ms, "
            f"max {1000 * max(samples):.2f} ms (n={len(samples)})")
