"""The duty officer's panel buttons: hold to act, so a brush of the hand does nothing.

EVACUATE must be held ``panel.hold_s`` (1.5 s by default) before it starts the
evacuation order. STOP stops the broadcast on air; held, it stops every broadcast.
The timing rule is :class:`HoldButton`, driven by settled (debounced) button levels and
measured from the raw edges: a let-go that began before ``hold_s`` was up is a short press,
even when its debounce window (or a busy CPU) makes it settle after.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from drivers.clock import Clock

Action = Callable[[], None]
#: The button's raw change not yet settled, as ``(began, seconds to settle)``, or None.
Unsettled = Callable[[], tuple[float, float] | None]


class HoldButton:
    """Calls ``on_hold`` once the button has been held ``hold_s``, else ``on_short`` on release."""

    def __init__(self, clock: Clock, hold_s: float, on_hold: Action,
                 on_short: Action | None = None, unsettled: Unsettled | None = None) -> None:
        self.clock = clock
        self.unsettled = unsettled
        self.hold_s = hold_s
        self.on_hold = on_hold
        self.on_short = on_short
        self._press = 0
        self._held_fired = False
        self._timer: asyncio.Task[None] | None = None

    def changed(self, active: bool, began: float) -> None:
        if active:
            self._press += 1
            self._held_fired = False
            self._timer = asyncio.get_running_loop().create_task(self._wait(self._press, began))
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._held_fired and self.on_short is not None:
            self.on_short()

    async def _wait(self, press: int, began: float) -> None:
        deadline = began + self.hold_s
        await self.clock.sleep(max(0.0, deadline - self.clock.monotonic()))
        # A let-go begun in time is waited out: it settles (and cancels this wait), or it
        # was a bounce and the button is still held.
        while self.unsettled is not None and (change := self.unsettled()) is not None \
                and change[0] < deadline:
            await self.clock.sleep(change[1])
        if press == self._press:
            self._held_fired = True
            self.on_hold()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
