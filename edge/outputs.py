"""One registry of every output the station can energise, and the rules that keep it safe.

Every output (amplifier power, zone relays, sirens, LEDs) has OFF as its safe state and
a maximum on-time declared when the configuration loads. Switching is journaled as an
intent before the output moves and an outcome after. An output still ON past its
maximum on-time is cut, journaled and reported as a fault: never silently.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from drivers.clock import Clock
from drivers.gpio import Switch
from edge.health import Health
from edge.journal import Journal

log = logging.getLogger(__name__)

WATCH_INTERVAL_S = 0.25


@dataclass
class Output:
    id: str
    kind: str  # "relay", "zone", "siren", "led"
    switch: Switch
    max_on_s: float | None
    on_since: float | None = None
    health_id: str | None = None
    cut_count: int = 0
    on_cut: list[Callable[[Output], None]] = field(default_factory=list)

    def __repr__(self) -> str:
        limit = f"{self.max_on_s:g} s" if self.max_on_s is not None else "none"
        since = f" since {self.on_since:.3f}" if self.on_since is not None else ""
        return (f"<Output {self.id} ({self.kind}) {self.switch!r}{since}"
                f" max_on={limit} cuts={self.cut_count}>")

    def close(self) -> None:
        """Release the switch behind it (idempotent, as every switch's close is)."""
        self.switch.close()


class OutputFailed(Exception):
    pass


class Outputs:
    """Every output of the station, by id."""

    def __init__(self, clock: Clock, journal: Journal, health: Health) -> None:
        self.clock = clock
        self.journal = journal
        self.health = health
        self._outputs: dict[str, Output] = {}

    def add(self, output: Output) -> Output:
        if output.id in self._outputs:
            raise ValueError(f"output {output.id!r} registered twice")
        self._outputs[output.id] = output
        return output

    def __getitem__(self, output_id: str) -> Output:
        return self._outputs[output_id]

    def __contains__(self, output_id: str) -> bool:
        return output_id in self._outputs

    def all(self) -> list[Output]:
        return list(self._outputs.values())

    def energised(self) -> list[str]:
        return [o.id for o in self._outputs.values() if o.switch.is_on]

    async def set(self, output_id: str, on: bool, *, actor: str, reason: str,
                  quiet: bool = False) -> None:
        """Switch an output, journaling intent and outcome; raises :class:`OutputFailed`.

        ``quiet``: an indicator's blinking is not journaled step by step (a failure is).
        """
        output = self._outputs[output_id]
        if output.switch.is_on == on and (not on or output.on_since is not None):
            return
        state = "on" if on else "off"
        if not quiet:
            self.journal.record("output.switching", output_id, actor, to=state, reason=reason)
        try:
            await output.switch.set(on)
        except Exception as exc:
            self.journal.record("output.failed", output_id, actor, to=state, error=str(exc))
            if output.health_id:
                self.health.report(output.health_id, "fault", f"cannot switch {state}: {exc}")
            raise OutputFailed(f"{output_id}: cannot switch {state}: {exc}") from exc
        output.on_since = self.clock.monotonic() if on else None
        if not quiet:
            self.journal.record("output.switched", output_id, actor, to=state)

    async def all_off(self, *, actor: str, reason: str) -> list[str]:
        """Drive every output OFF; every one is tried even if another fails. Returns failures."""
        failed = []
        for output in self._outputs.values():
            try:
                await self.set(output.id, False, actor=actor, reason=reason)
            except OutputFailed as exc:
                log.error("%s", exc)
                failed.append(output.id)
        return failed

    def force_all_off_now(self) -> None:
        """Synchronous last resort (signal handlers, start-up): GPIO levels OFF at once."""
        for output in self._outputs.values():
            drive = getattr(output.switch, "drive", None)
            if drive is not None:
                try:
                    drive(False)
                    output.on_since = None
                except Exception:
                    log.exception("cannot drive %s OFF", output.id)

    async def cut_overdue(self) -> list[str]:
        """Cut every output ON past its maximum on-time; each cut is a journaled fault."""
        now = self.clock.monotonic()
        cut = []
        for output in self._outputs.values():
            if output.on_since is None or output.max_on_s is None:
                continue
            on_for = now - output.on_since
            if on_for < output.max_on_s:
                continue
            self.journal.record("fault.max_on_time", output.id, "system",
                                on_for_s=round(on_for, 3), max_on_s=output.max_on_s)
            try:
                await self.set(output.id, False, actor="system", reason="maximum on-time")
            except OutputFailed:
                pass
            output.cut_count += 1
            if output.health_id:
                self.health.report(output.health_id, "fault",
                                   f"cut after {on_for:.0f} s (max {output.max_on_s:.0f} s)")
            for callback in output.on_cut:
                callback(output)
            cut.append(output.id)
        return cut

    async def watch(self) -> None:
        """Forever: cut what outlives its maximum on-time."""
        while True:
            await self.clock.sleep(WATCH_INTERVAL_S)
            try:
                await self.cut_overdue()
            except Exception:
                log.exception("output watchdog failed")
                await asyncio.sleep(0)
