"""One evacuation order at a time.

Two presses of EVACUATE (the desk and a phone, or a nervous double press) must not
queue two evacuation broadcasts that each need their own STOP. While an evacuation
order is on air or waiting for the air, a new one is decided by ``if_active``:

* ``refuse`` -- nothing new; the caller is told which order is active (the API's
  default: it answers 409 with that broadcast, and the panel offers to restart it);
* ``restart`` -- the active order is stopped and the new one starts from its first
  play (the physical button, an SMS command: a deliberate act, wanting it heard now);
* ``queue`` -- the new one waits behind the active one (only when asked explicitly).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

from broadcast.priority import Priority
from broadcast.record import Broadcast
from broadcast.service import BroadcastService

IfActive = Literal["refuse", "restart", "queue"]
Outcome = Literal["started", "restarted", "queued"]


class EvacuationActive(Exception):
    """Refused: this evacuation order is already on air or waiting."""

    def __init__(self, active: Broadcast) -> None:
        super().__init__(f"an evacuation order is already active: {active.id}")
        self.active = active


def active_evacuation(service: BroadcastService) -> Broadcast | None:
    """The evacuation order on air or waiting (the oldest, if several)."""
    return next((b for b in service.list(active=True) if b.priority == Priority.EVACUATION),
                None)


def decide(if_active: IfActive, active: Broadcast | None) -> Outcome | None:
    """What a new evacuation order does; None: refused."""
    if active is None:
        return "started"
    return {"refuse": None, "restart": "restarted", "queue": "queued"}[if_active]


async def evacuate_once(service: BroadcastService, start: Callable[[], Awaitable[Broadcast]],
                        *, if_active: IfActive, actor: str) -> tuple[Broadcast, Outcome]:
    """Start an evacuation order by ``start()`` unless one is active (see the module)."""
    active = active_evacuation(service)
    outcome = decide(if_active, active)
    if outcome is None:
        assert active is not None
        raise EvacuationActive(active)
    if outcome == "restarted":
        for broadcast in service.list(active=True):
            if broadcast.priority == Priority.EVACUATION:
                await service.cancel(broadcast.id, actor=actor,
                                     reason="restarted by a new evacuation order")
    return await start(), outcome
