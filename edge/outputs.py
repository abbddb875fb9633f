"""One registry of every output the station can energise, and the rules that keep it safe.

Every output (amplifier power, zone relays, sirens on GPIO or on a remote Modbus
module, LEDs) has OFF as its safe state and a maximum on-time declared when the
configuration loads. Switching is journaled as an intent before the output moves and
an outcome after. An output still ON past its maximum on-time is cut, journaled and
reported as a fault: never silently.

The registry keeps, per output, what the station *wants* of it and what the output
has *confirmed* (``switch.state``; a remote coil is unknown until read back). Whenever
the two differ -- a remote coil at start or after its module came back, a switch that
failed -- :meth:`Outputs.watch` drives it to what is wanted, unconditionally, retrying
with backoff. A failure is a fault in health (the fault LED lights) and is journaled
once when it begins and once when it ends, with the number of failed attempts, never
once per attempt. Timing rules (chatter guard, backoff) are in :mod:`edge.output_rules`.

The watch sleeps until something falls due (a maximum on-time, a retry, the end of a
chatter guard) and is woken when an output is asked to switch or loses its confirmation,
so an idle station with every output confirmed OFF wakes for it only every
``WATCH_IDLE_S`` (a safety net), not four times a second, and a cut comes at its deadline.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from drivers.clock import Clock
from drivers.gpio import Switch
from drivers.tasks import cancel_and_wait
from edge.health import Health
from edge.journal import Journal
from edge.output_rules import ChatterGuard, retry_delay_s

log = logging.getLogger(__name__)

#: How soon the watch looks again when it cannot tell when something falls due (a switch
#: in progress) or a pass left something overdue (it is not retried in a tight loop).
WATCH_INTERVAL_S = 0.25
#: The longest the watch sleeps with nothing due: a safety net for a change of an output's
#: state that did not come through this registry.
WATCH_IDLE_S = 5.0


def state_word(state: bool | None) -> str:
    return {True: "on", False: "off", None: "unknown"}[state]


@dataclass
class Output:
    id: str
    kind: str  # "relay", "zone", "siren", "led", "buzzer"
    switch: Switch
    max_on_s: float | None
    on_since: float | None = None  # since when the station has wanted it ON
    health_id: str | None = None
    cut_count: int = 0
    on_cut: list[Callable[[Output], None]] = field(default_factory=list)
    min_switch_s: float = 0.0
    wanted: bool = False
    failures: int = 0  # failed attempts in a row
    failing_since: float | None = None
    retry_at: float = 0.0
    recheck_reason: str = "station start: not confirmed off"
    guard: ChatterGuard = field(init=False)
    lock: asyncio.Lock = field(init=False, default_factory=asyncio.Lock, repr=False)
    _requests: int = field(init=False, default=0, repr=False)

    def __post_init__(self) -> None:
        self.guard = ChatterGuard(self.min_switch_s)

    def __repr__(self) -> str:
        limit = f"{self.max_on_s:g} s" if self.max_on_s is not None else "none"
        since = f" since {self.on_since:.3f}" if self.on_since is not None else ""
        failing = f" failures={self.failures}" if self.failures else ""
        return (f"<Output {self.id} ({self.kind}) {self.switch!r} wanted="
                f"{state_word(self.wanted)}{since} max_on={limit} cuts={self.cut_count}{failing}>")

    @property
    def state(self) -> str:
        """``on``, ``off`` or ``unknown`` (not confirmed): what anyone is told."""
        return state_word(self.switch.state)

    @property
    def energised(self) -> bool:
        """Confirmed ON, or wanted ON and not confirmed either way."""
        state = self.switch.state
        return state is True or (state is None and self.wanted)

    def request(self, on: bool, now: float) -> int:
        """A new wish for this output; returns its number (the last request wins)."""
        self._requests += 1
        self.wanted = on
        if not on:
            self.on_since = None
        elif self.on_since is None:
            self.on_since = now
        return self._requests

    def superseded(self, request: int) -> bool:
        return request != self._requests

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
        self._changed = asyncio.Event()  # wakes the watch

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
        return [o.id for o in self._outputs.values() if o.energised]

    async def set(self, output_id: str, on: bool, *, actor: str, reason: str,
                  quiet: bool = False) -> None:
        """Switch an output, journaling intent and outcome; raises :class:`OutputFailed`.

        An ON inside the chatter guard's interval waits for its end, and is dropped
        (returns) if another request for the output came in meanwhile; OFF never waits.
        ``quiet``: an indicator's blinking is not journaled step by step (a failure is).
        """
        output = self._outputs[output_id]
        request = output.request(on, self.clock.monotonic())
        self._changed.set()
        while (wait := output.guard.wait_s(on, self.clock.monotonic())) > 0:
            await self.clock.sleep(wait)
            if output.superseded(request):
                return
        async with output.lock:
            if output.superseded(request) or output.switch.state == on:
                return
            await self._switch(output, on, actor=actor, reason=reason, quiet=quiet)

    async def _switch(self, output: Output, on: bool, *, actor: str, reason: str,
                      quiet: bool) -> None:
        """One attempt, under the output's lock; failures are counted, journaled once."""
        state = state_word(on)
        quiet = quiet or output.failures > 0
        if not quiet:
            self.journal.record("output.switching", output.id, actor, to=state, reason=reason)
        before = output.switch.state
        try:
            await output.switch.set(on)
        except Exception as exc:
            self._failed(output, on, actor, exc)
            raise OutputFailed(f"{output.id}: cannot switch {state}: {exc}") from exc
        finally:
            if before != on:
                output.guard.switched(self.clock.monotonic())
        self._succeeded(output, on, actor)
        if not quiet:
            self.journal.record("output.switched", output.id, actor, to=state)

    def _failed(self, output: Output, on: bool, actor: str, exc: Exception) -> None:
        now = self.clock.monotonic()
        state = state_word(on)
        output.failures += 1
        delay = retry_delay_s(output.failures)
        output.retry_at = now + delay
        if output.failures == 1:
            output.failing_since = now
            self.journal.record("output.failed", output.id, actor, to=state, error=str(exc),
                                retry_in_s=delay)
        if output.health_id:
            self.health.report(output.health_id, "fault",
                               f"cannot switch {state}: {exc} ({output.failures} attempts;"
                               f" next in {delay:g} s)")

    def _succeeded(self, output: Output, on: bool, actor: str) -> None:
        state = state_word(on)
        health = self.health.get(output.health_id) if output.health_id else None
        if output.failures:
            since = output.failing_since if output.failing_since is not None else 0.0
            self.journal.record("output.recovered", output.id, actor, state=state,
                                failed_attempts=output.failures,
                                failing_for_s=round(self.clock.monotonic() - since, 3))
            output.failures, output.failing_since = 0, None
            if health is not None:
                self.health.report(health.id, "ok", state)
        elif health is not None and health.status == "unknown":
            self.health.report(health.id, "ok", state)

    def unconfirmed(self, output_id: str, reason: str) -> None:
        """The output may have changed behind our back (its module came back): unknown in
        health, and driven to what is wanted at the next watch, whatever it was believed."""
        output = self._outputs[output_id]
        output.switch.forget()
        output.recheck_reason = reason
        output.retry_at = 0.0
        self._changed.set()
        if output.health_id and self.health.get(output.health_id).status == "ok":
            self.health.report(output.health_id, "unknown", f"not confirmed: {reason}")

    async def read_back(self, output_id: str, read: Callable[[], Awaitable[bool]]) -> None:
        """Read an output back between switches (a remote coil): one found other than the
        station wants -- switched at the module, its power-on default after a brown-out --
        is journaled and driven again at the next watch; one that cannot be read is
        unknown until it is driven again."""
        output = self._outputs[output_id]
        if output.lock.locked() or output.failures:
            return  # being switched, or already being retried
        async with output.lock:
            try:
                level = await read()
            except Exception as exc:
                self.unconfirmed(output_id, f"read-back failed: {exc}")
                return
        if level != output.wanted:
            self.journal.record("output.found", output.id, "system", state=state_word(level),
                                wanted=state_word(output.wanted))
            self.unconfirmed(output_id, f"found {state_word(level)}")

    async def all_off(self, *, actor: str, reason: str) -> list[str]:
        """Drive every output OFF; every one is tried even if another fails. Returns failures.

        A remote coil is written even when it is believed OFF (it may not be)."""
        failed = []
        for output in self._outputs.values():
            output.switch.forget()
            try:
                await self.set(output.id, False, actor=actor, reason=reason)
            except OutputFailed as exc:
                log.error("%s", exc)
                failed.append(output.id)
        return failed

    def force_all_off_now(self) -> None:
        """Synchronous last resort (signal handlers, start-up): GPIO levels OFF at once."""
        now = self.clock.monotonic()
        for output in self._outputs.values():
            output.request(False, now)
            drive = getattr(output.switch, "drive", None)
            if drive is not None:
                try:
                    drive(False)
                except Exception:
                    log.exception("cannot drive %s OFF", output.id)

    async def cut_overdue(self) -> list[str]:
        """Cut every output wanted ON past its maximum on-time; each cut is a journaled fault.

        A cut happens once: the output is then wanted OFF, and if the OFF fails the watch
        retries it with backoff (journaled when the failure begins and ends)."""
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

    async def confirm_due(self) -> None:
        """Drive each output whose confirmed state is not what the station wants (a remote
        coil not read back, a failed switch) once its retry time and chatter guard allow."""
        now = self.clock.monotonic()
        for output in self._outputs.values():
            if (output.switch.state == output.wanted or now < output.retry_at
                    or output.lock.locked() or output.guard.wait_s(output.wanted, now) > 0):
                continue
            async with output.lock:
                if output.switch.state == output.wanted:
                    continue
                try:
                    await self._switch(output, output.wanted, actor="system",
                                       reason=output.recheck_reason, quiet=False)
                except OutputFailed:
                    output.recheck_reason = "retry"

    def next_due(self, now: float) -> float:
        """When the watch has something to do next: the first maximum on-time, retry or end
        of a chatter guard; ``now + WATCH_IDLE_S`` at the latest."""
        due = now + WATCH_IDLE_S
        for output in self._outputs.values():
            if output.on_since is not None and output.max_on_s is not None:
                due = min(due, output.on_since + output.max_on_s)
            if output.switch.state != output.wanted:
                if output.lock.locked():
                    due = min(due, now + WATCH_INTERVAL_S)
                else:
                    due = min(due, max(output.retry_at,
                                       now + output.guard.wait_s(output.wanted, now)))
        return due

    async def watch(self) -> None:
        """Forever: confirm what is not confirmed, cut what outlives its maximum on-time,
        then sleep until the next of these falls due or an output changes."""
        while True:
            try:
                await self.confirm_due()
                await self.cut_overdue()
            except Exception:
                log.exception("output watchdog failed")
            now = self.clock.monotonic()
            due = self.next_due(now)
            await self._sleep_until(due if due > now else now + WATCH_INTERVAL_S)

    async def _sleep_until(self, due: float) -> None:
        self._changed.clear()
        waits = [asyncio.create_task(self._changed.wait()),
                 asyncio.create_task(self.clock.sleep(due - self.clock.monotonic()))]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await cancel_and_wait(waits)
