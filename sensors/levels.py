"""Warning levels per gauge and window: 准备转移 and 立即转移, latched until handled.

Mountain-torrent warning (山洪灾害预警) has two levels per gauge, each with its own
thresholds per window from the village's critical-rainfall analysis. The rules:

* A level rises the moment a window's total reaches its threshold.
* A raised level latches: it falls only once it has been acknowledged AND the total
  is below ``clear_fraction`` x its threshold (hysteresis against flapping when the
  rain hovers at the threshold). It then falls to the highest lower level whose own
  hold condition (total >= clear_fraction x threshold) still stands, acknowledged.
* Escalation prepare -> evacuate happens at once, acknowledged or not, and the new
  level needs its own acknowledgement.
* A stale gauge (total ``None``) neither raises nor clears: a missing gauge is
  "unknown", never "no rain". An acknowledgement is still taken while stale.

The latch only returns :class:`Transition` values; journaling and actions are the
caller's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum


class WarningLevel(IntEnum):
    NONE = 0
    PREPARE = 1   # 准备转移
    EVACUATE = 2  # 立即转移


class TransitionKind(StrEnum):
    RAISED = "raised"              # from NONE to a level
    ESCALATED = "escalated"        # from PREPARE to EVACUATE
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"            # down to a lower level (or NONE)


@dataclass(frozen=True)
class Thresholds:
    """Thresholds of one window; either level may be absent (``None``)."""

    prepare_mm: float | None
    evacuate_mm: float | None
    clear_fraction: float = 0.8

    def __post_init__(self) -> None:
        for name in ("prepare_mm", "evacuate_mm"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        if self.prepare_mm is None and self.evacuate_mm is None:
            raise ValueError("at least one of prepare_mm, evacuate_mm is needed")
        if (
            self.prepare_mm is not None
            and self.evacuate_mm is not None
            and self.evacuate_mm <= self.prepare_mm
        ):
            raise ValueError(
                f"evacuate_mm ({self.evacuate_mm}) must be > prepare_mm ({self.prepare_mm})"
            )
        if not 0 < self.clear_fraction <= 1:
            raise ValueError(f"clear_fraction must be in (0, 1], got {self.clear_fraction}")

    def threshold(self, level: WarningLevel) -> float | None:
        if level is WarningLevel.PREPARE:
            return self.prepare_mm
        if level is WarningLevel.EVACUATE:
            return self.evacuate_mm
        return None

    def reached(self, total_mm: float) -> WarningLevel:
        """The highest level whose threshold ``total_mm`` reaches."""
        return self._highest(lambda t: total_mm >= t)

    def held(self, total_mm: float, below: WarningLevel) -> WarningLevel:
        """The highest level under ``below`` still held by ``total_mm`` (hysteresis)."""
        return self._highest(lambda t: total_mm >= self.clear_fraction * t, below)

    def _highest(
        self, holds: Callable[[float], bool], below: WarningLevel | None = None
    ) -> WarningLevel:
        for level in (WarningLevel.EVACUATE, WarningLevel.PREPARE):
            if below is not None and level >= below:
                continue
            threshold = self.threshold(level)
            if threshold is not None and holds(threshold):
                return level
        return WarningLevel.NONE


@dataclass(frozen=True)
class Transition:
    kind: TransitionKind
    previous: WarningLevel
    level: WarningLevel
    total_mm: float | None      # the total that caused it (None: an ack while stale)
    threshold_mm: float | None  # the threshold crossed (raise/escalate) or released (clear)


@dataclass(frozen=True)
class LatchState:
    """What a latch must remember across a restart (the totals come back with the rain)."""

    level: WarningLevel
    acknowledged: bool


class WarningLatch:
    """The warning level of one gauge for one window."""

    def __init__(self, thresholds: Thresholds) -> None:
        self.thresholds = thresholds
        self.level = WarningLevel.NONE
        self.acknowledged = False
        self.last_total_mm: float | None = None

    def update(self, total_mm: float | None) -> list[Transition]:
        """Take the window's current total (``None``: the gauge is stale)."""
        self.last_total_mm = total_mm
        if total_mm is None:
            return []
        reached = self.thresholds.reached(total_mm)
        if reached > self.level:
            kind = (
                TransitionKind.RAISED
                if self.level is WarningLevel.NONE
                else TransitionKind.ESCALATED
            )
            previous, self.level, self.acknowledged = self.level, reached, False
            threshold = self.thresholds.threshold(reached)
            return [Transition(kind, previous, reached, total_mm, threshold)]
        return self._clear_if_due()

    def acknowledge(self) -> list[Transition]:
        """The duty officer acknowledged; clears at once if the rain has already eased."""
        if self.level is WarningLevel.NONE or self.acknowledged:
            return []
        self.acknowledged = True
        ack = Transition(
            TransitionKind.ACKNOWLEDGED, self.level, self.level, self.last_total_mm, None
        )
        return [ack, *self._clear_if_due()]

    def state(self) -> LatchState:
        return LatchState(self.level, self.acknowledged)

    def restore(self, state: LatchState) -> None:
        """Take back a level from before a restart, without a transition. A level these
        thresholds no longer define (the config changed) falls to the highest one they
        do; the total stays unknown until the next reading."""
        level = state.level
        if level is not WarningLevel.NONE and self.thresholds.threshold(level) is None:
            level = self.thresholds.held(float("inf"), below=level)
        self.level = level
        self.acknowledged = state.acknowledged and level is not WarningLevel.NONE

    def _clear_if_due(self) -> list[Transition]:
        total = self.last_total_mm
        threshold = self.thresholds.threshold(self.level)
        if (
            total is None
            or threshold is None
            or not self.acknowledged
            or total >= self.thresholds.clear_fraction * threshold
        ):
            return []
        previous = self.level
        self.level = self.thresholds.held(total, below=previous)
        return [Transition(TransitionKind.CLEARED, previous, self.level, total, threshold)]


@dataclass(frozen=True)
class GaugeTransition:
    """A transition with where it happened."""

    gauge_id: str
    window: str
    transition: Transition


class WarningBoard:
    """Every gauge's latches, one per configured window.

    The level of a gauge is the highest of its windows'.
    """

    def __init__(self, thresholds: Mapping[str, Mapping[str, Thresholds]]) -> None:
        self._latches: dict[str, dict[str, WarningLatch]] = {
            gauge: {window: WarningLatch(t) for window, t in windows.items()}
            for gauge, windows in thresholds.items()
        }

    def update(
        self, gauge_id: str, totals: Mapping[str, float] | None
    ) -> list[GaugeTransition]:
        """Feed a gauge's window totals (``None``: the gauge is stale)."""
        out = []
        for window, latch in self._latches.get(gauge_id, {}).items():
            total = None if totals is None else totals.get(window)
            out += [GaugeTransition(gauge_id, window, t) for t in latch.update(total)]
        return out

    def acknowledge(self, gauge_id: str, window: str | None = None) -> list[GaugeTransition]:
        """Acknowledge one window of a gauge, or all of its windows."""
        out = []
        for name, latch in self._latches.get(gauge_id, {}).items():
            if window is None or name == window:
                out += [GaugeTransition(gauge_id, name, t) for t in latch.acknowledge()]
        return out

    def states(self, gauge_id: str) -> dict[str, LatchState]:
        """Every window's latch of a gauge, to be kept across a restart."""
        return {w: latch.state() for w, latch in self._latches.get(gauge_id, {}).items()}

    def restore(self, gauge_id: str, states: Mapping[str, LatchState]) -> None:
        """Take back a gauge's latches (a window no longer configured is ignored)."""
        for window, latch in self._latches.get(gauge_id, {}).items():
            latch.restore(states.get(window, LatchState(WarningLevel.NONE, False)))

    def level(self, gauge_id: str) -> WarningLevel:
        latches = self._latches.get(gauge_id, {}).values()
        return max((latch.level for latch in latches), default=WarningLevel.NONE)

    def latch(self, gauge_id: str, window: str) -> WarningLatch:
        return self._latches[gauge_id][window]
