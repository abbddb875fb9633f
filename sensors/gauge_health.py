"""A gauge's health with hysteresis: offline after N failed polls, ok after M good ones.

A gauge whose replies are sometimes late must not flap offline/ok every few polls:
each flap is a health change the county sees and the journal records. The rules:

* a poll with no usable reply counts toward ``offline_after`` failures in a row, which
  make the gauge offline (from any state);
* a reply that says the gauge is broken (a fault bit in its status register, an error
  value in its counter) makes it ``fault`` at once: the gauge itself said so;
* a good reply brings a never-seen gauge to ok at once, and an offline or faulty one
  back to ok only after ``online_after`` good replies in a row.

Plain logic, no clock and no I/O: the gauge asks it what a poll's outcome does.
"""

from __future__ import annotations

from sensors.gauge_events import GaugeState


class HealthHysteresis:
    def __init__(self, offline_after: int = 3, online_after: int = 2) -> None:
        if offline_after < 1 or online_after < 1:
            raise ValueError("offline_after and online_after must be >= 1")
        self.offline_after = offline_after
        self.online_after = online_after
        self.state = GaugeState.UNKNOWN
        self.failures = 0   # polls without a usable reply, in a row
        self.good = 0       # good replies in a row

    def failed(self) -> GaugeState | None:
        """A poll without a usable reply; returns the new state if it changed."""
        self.failures += 1
        self.good = 0
        if self.failures >= self.offline_after:
            return self._enter(GaugeState.OFFLINE)
        return None

    def faulty(self) -> GaugeState | None:
        """The gauge answered and said it is broken."""
        self.failures = 0
        self.good = 0
        return self._enter(GaugeState.FAULT)

    def answered(self) -> GaugeState | None:
        """A good reply."""
        self.failures = 0
        self.good += 1
        if self.state is GaugeState.UNKNOWN or self.good >= self.online_after:
            return self._enter(GaugeState.OK)
        return None

    def _enter(self, state: GaugeState) -> GaugeState | None:
        if self.state is state:
            return None
        self.state = state
        return state
