"""A tipping-bucket gauge wired to a GPIO input: each (debounced) tip is ``mm_per_tip``.

It reports the same events as a Modbus gauge, so windows and warning levels do not
care how a gauge is wired. A tip is known at an instant: its increment's interval is
that instant (``since == at``). A pulse gauge cannot tell "no rain" from "cable cut",
so it is always ``ok`` once wired; the station can only watch its silence against the
others.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sensors.counter import CounterOutcome
from sensors.gauge_events import GaugeEvent, GaugeState, GaugeStatus, RainIncrement


class PulseRainGauge:
    def __init__(self, gauge_id: str, mm_per_tip: float, now: datetime,
                 on_event: Callable[[GaugeEvent], None]) -> None:
        if mm_per_tip <= 0:
            raise ValueError(f"mm_per_tip must be > 0, got {mm_per_tip}")
        self.gauge_id = gauge_id
        self.mm_per_tip = mm_per_tip
        self.on_event = on_event
        self.tips = 0
        self.started = now
        self.last_tip: datetime | None = None
        self.status = GaugeStatus(GaugeState.OK, now, "pulse input")
        self.closed = False

    def __repr__(self) -> str:
        if self.closed:
            return f"<PulseRainGauge {self.gauge_id} closed>"
        last = self.last_tip.isoformat() if self.last_tip is not None else None
        return (f"<PulseRainGauge {self.gauge_id} tips={self.tips}"
                f" mm_per_tip={self.mm_per_tip:g} last_tip={last}>")

    def close(self) -> None:
        """No more tips are counted (a tip after this raises); closing again does nothing."""
        self.closed = True

    def tip(self, at: datetime) -> RainIncrement:
        if self.closed:
            raise RuntimeError(f"{self!r}: closed")
        self.tips += 1
        event = RainIncrement(self.gauge_id, at, self.mm_per_tip, self.tips, at,
                              CounterOutcome.RAIN)
        self.last_tip = at
        self.on_event(event)
        return event

    def is_fresh(self, max_age_s: float) -> bool:
        return True
