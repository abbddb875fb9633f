"""Debouncing done by our own code, on the injected clock.

gpiozero's ``bounce_time`` is ignored by its mock pins and behaves differently per pin
factory, so a contact's chatter is filtered here: a level counts once it has held for
``stable_s``. The rule is a small pure class (:class:`Debounce`), tested without an
event loop; :class:`DebouncedInput` runs it on the loop for a GPIO input.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from drivers.clock import Clock

#: Clock arithmetic is floating point: a level held "exactly" stable_s must count.
EPSILON_S = 1e-9


class Debounce:
    """A level is accepted once the raw input has stayed at it for ``stable_s``."""

    def __init__(self, stable_s: float, initial: bool = False) -> None:
        self.stable_s = stable_s
        self.stable = initial
        self.raw = initial
        self.raw_since = float("-inf")

    def edge(self, level: bool, t: float) -> None:
        if level != self.raw:
            self.raw = level
            self.raw_since = t

    def settle(self, t: float) -> bool | None:
        """The new stable level if one became stable by ``t``, else None."""
        if self.raw != self.stable and t - self.raw_since >= self.stable_s - EPSILON_S:
            self.stable = self.raw
            return self.stable
        return None

    def seconds_to_settle(self, t: float) -> float | None:
        if self.raw == self.stable:
            return None
        return max(0.0, self.stable_s - (t - self.raw_since))


class RawInput(Protocol):
    @property
    def is_active(self) -> bool: ...

    def on_change(self, callback: Callable[[bool], None]) -> None: ...


class DebouncedInput:
    """A raw input whose settled changes reach ``on_level(active, t)`` on the event loop.

    ``t`` is when the raw level *began* (clock monotonic), so a hold time is measured
    from the real press, not from the end of the debounce window.
    """

    def __init__(
        self,
        raw: RawInput,
        clock: Clock,
        stable_s: float,
        on_level: Callable[[bool, float], None],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.clock = clock
        self.on_level = on_level
        self._loop = loop
        self._debounce = Debounce(stable_s, initial=raw.is_active)
        self._task: asyncio.Task[None] | None = None

        def hop_to_loop(level: bool) -> None:  # called in gpiozero's thread
            loop.call_soon_threadsafe(self._edge, level)

        raw.on_change(hop_to_loop)

    @property
    def active(self) -> bool:
        return self._debounce.stable

    def unsettled(self) -> tuple[float, float] | None:
        """A raw change not yet believed: when it began and the seconds until it settles
        (None: the raw level is the settled one)."""
        wait = self._debounce.seconds_to_settle(self.clock.monotonic())
        return None if wait is None else (self._debounce.raw_since, wait)

    def _edge(self, level: bool) -> None:
        self._debounce.edge(level, self.clock.monotonic())
        if self._task is None or self._task.done():
            self._task = self._loop.create_task(self._settle())

    async def _settle(self) -> None:
        while (wait := self._debounce.seconds_to_settle(self.clock.monotonic())) is not None:
            await self.clock.sleep(wait)
            began = self._debounce.raw_since
            settled = self._debounce.settle(self.clock.monotonic())
            if settled is not None:
                self.on_level(settled, began)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
