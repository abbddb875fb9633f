"""The broadcast scheduler: one program on air at a time, by priority.

A request goes on air at once if the air is free or it outranks what is playing (the
other fades out within a block and waits to resume from the repetition it was in);
otherwise it waits its turn. Each broadcast on air powers the amplifier, selects its
zones, and plays its program block by block so that a stop, a preemption or a fault
takes effect between blocks. What really went out (the play count, start and end) is
kept on the :class:`~broadcast.record.Broadcast` and reported through ``on_event``.
"""

from __future__ import annotations

import asyncio
import builtins
import itertools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from broadcast.amplifier import Amplifier
from broadcast.priority import AirQueue, Decision, Priority, Request
from broadcast.program import LiveContent, Program, Repertoire
from broadcast.record import (
    Broadcast,
    BroadcastLevel,
    BroadcastSource,
    BroadcastState,
    BroadcastType,
)
from drivers.audio import AudioOutput
from drivers.clock import Clock
from drivers.tasks import run_to_the_end

log = logging.getLogger(__name__)

EventSink = Callable[[str, Broadcast, dict[str, Any]], None]
#: How long a stop may take beyond the amplifier's warm-up before the audio is cut hard.
STOP_GRACE_S = 2.0


@dataclass
class _OnAir:
    broadcast: Broadcast
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    silent: asyncio.Event = field(default_factory=asyncio.Event)
    reason: str | None = None
    task: asyncio.Task[None] | None = None
    first_sound_at: float | None = None


#: Finished broadcasts kept for the API (``GET /broadcasts``); older ones live on in the
#: journal only, so a station that runs for years does not grow a record per broadcast.
KEEP_FINISHED = 200


def to_forget(broadcasts: Iterable[Broadcast], keep: int = KEEP_FINISHED) -> list[str]:
    """Ids of the oldest finished broadcasts beyond the newest ``keep``; never an active one
    (someone may still wait for it, stop it, or see it on air)."""
    finished = [b.id for b in broadcasts if not b.active]
    return finished[:max(0, len(finished) - keep)]


class BroadcastService:
    def __init__(
        self,
        clock: Clock,
        amplifier: Amplifier,
        output: AudioOutput,
        repertoire: Repertoire,
        *,
        on_event: EventSink,
        max_on_s: float,
    ) -> None:
        self.clock = clock
        self.amplifier = amplifier
        self.output = output
        self.repertoire = repertoire
        self.on_event = on_event
        self.max_on_s = max_on_s
        self.queue = AirQueue()
        self._broadcasts: dict[str, Broadcast] = {}
        self._final: dict[str, asyncio.Event] = {}
        self._running: _OnAir | None = None
        self._lock = asyncio.Lock()
        self._numbers = itertools.count(1)
        self._stopped = False

    # -- reading -----------------------------------------------------------------------

    def get(self, broadcast_id: str) -> Broadcast:
        return self._broadcasts[broadcast_id]

    def find(self, broadcast_id: str) -> Broadcast | None:
        """The broadcast, or None once it is finished and forgotten (see :func:`to_forget`)."""
        return self._broadcasts.get(broadcast_id)

    def list(self, *, active: bool = False) -> list[Broadcast]:
        return [b for b in self._broadcasts.values() if b.active or not active]

    @property
    def on_air(self) -> Broadcast | None:
        return self._running.broadcast if self._running else None

    async def wait_final(self, broadcast_id: str) -> Broadcast:
        """Wait until the broadcast is done, failed, cancelled or interrupted."""
        await self._final[broadcast_id].wait()
        return self._broadcasts[broadcast_id]

    def check(self, program: Program, zones: builtins.list[str]) -> None:
        """Raise (UnknownZone / UnknownContent) before anything is switched on."""
        self.amplifier.check_zones(zones)
        self.repertoire.check(program)

    # -- requests ----------------------------------------------------------------------

    async def submit(
        self,
        program: Program,
        *,
        zones: builtins.list[str],
        priority: Priority,
        type: BroadcastType,
        source: BroadcastSource,
        actor: str,
        level: BroadcastLevel | None = None,
        ttl_s: float | None = None,
        labels: dict[str, Any] | None = None,
    ) -> Broadcast:
        if self._stopped:
            raise RuntimeError("the broadcast service is stopped")
        self.check(program, zones)
        now = self.clock.now()
        broadcast = Broadcast(
            id=f"b{now:%Y%m%d%H%M%S}-{next(self._numbers)}", program=program, zones=zones,
            priority=priority, type=type, source=source, actor=actor, created=now,
            level=level, labels=dict(labels or {}),
            expires_at=self.clock.monotonic() + ttl_s if ttl_s is not None else None,
        )
        for old in to_forget(self._broadcasts.values()):
            del self._broadcasts[old], self._final[old]
        self._broadcasts[broadcast.id] = broadcast
        self._final[broadcast.id] = asyncio.Event()
        self.on_event("requested", broadcast, {})
        # Made whole even if the caller is cancelled meanwhile (an alarm acknowledged
        # while its siren signal preempts a message): the queue would otherwise expect a
        # broadcast that never starts. The broadcast is then the canceller's to stop.
        await run_to_the_end(self._enqueue(broadcast))
        return broadcast

    async def _enqueue(self, broadcast: Broadcast) -> None:
        async with self._lock:
            decision = self.queue.submit(Request(broadcast.id, broadcast.priority,
                                                 broadcast.expires_at))
            if decision.stop is not None:
                await self._silence(reason="preempted")
                stopped = self._broadcasts[decision.stop.id]
                stopped.state = "waiting"
                stopped.preemptions += 1
                self.on_event("preempted", stopped, {"by": broadcast.id})
            if decision.queued is not None:
                behind = self.on_air.id if self.on_air else None
                self.on_event("queued", broadcast, {"behind": behind})
            await self._apply(decision)

    async def cancel(self, broadcast_id: str, *, actor: str, reason: str = "stopped") -> Broadcast:
        """Stop a broadcast on air, or withdraw a waiting one (made whole even if the
        caller is cancelled meanwhile: a stop half done leaves it on air with no one to
        end it)."""
        broadcast = self._broadcasts[broadcast_id]
        await run_to_the_end(self._cancel(broadcast, actor=actor, reason=reason))
        return broadcast

    async def _cancel(self, broadcast: Broadcast, *, actor: str, reason: str) -> None:
        async with self._lock:
            if not broadcast.active:
                return
            on_air = self._running is not None and self._running.broadcast is broadcast
            if on_air:
                await self._silence(reason="cancelled")
            decision = self.queue.cancel(broadcast.id, self.clock.monotonic())
            self._finish(broadcast, "cancelled", actor=actor, reason=reason)
            await self._apply(decision)

    async def stop_current(self, *, actor: str) -> Broadcast | None:
        current = self.on_air
        if current is None:
            return None
        return await self.cancel(current.id, actor=actor)

    async def stop_all(self, *, actor: str, reason: str = "stop all") -> builtins.list[Broadcast]:
        stopped = []
        for broadcast in [b for b in self._broadcasts.values() if b.active]:
            stopped.append(await self.cancel(broadcast.id, actor=actor, reason=reason))
        return stopped

    async def shutdown(self, *, reason: str) -> builtins.list[Broadcast]:
        """Interrupt everything (daemon stopping): returns the broadcasts interrupted."""
        self._stopped = True
        async with self._lock:
            if self._running is not None:
                await self._silence(reason="shutdown")
            interrupted = [b for b in self._broadcasts.values() if b.active]
            for broadcast in interrupted:
                broadcast.state = "interrupted"
                broadcast.ended = self.clock.now()
                self.on_event("interrupted", broadcast, {"reason": reason})
                self._final[broadcast.id].set()
            await self.amplifier.off_now(actor="system", reason=reason)
        return interrupted

    async def fault_stop(self, *, reason: str) -> None:
        """Outputs were cut (maximum on-time): the broadcast on air failed."""
        current = self.on_air
        self.amplifier.forget_relays()
        if current is not None:
            await run_to_the_end(self._fail(current, reason))

    async def _fail(self, current: Broadcast, reason: str) -> None:
        async with self._lock:
            await self._silence(reason="fault")
            decision = self.queue.cancel(current.id, self.clock.monotonic())
            current.error = reason
            self._finish(current, "failed", actor="system", reason=reason)
            await self._apply(decision)

    # -- the air -------------------------------------------------------------------------

    async def _apply(self, decision: Decision) -> None:
        """Carry out a decision of the air queue (call with the lock held)."""
        for dropped in decision.dropped:
            broadcast = self._broadcasts[dropped.id]
            broadcast.error = "expired before it could play"
            self._finish(broadcast, "failed", actor="system", reason="expired")
        if decision.start is None:
            if self._running is None and self.amplifier.state in ("on", "warming"):
                await self.amplifier.release(actor="broadcast")
            return
        broadcast = self._broadcasts[decision.start.id]
        if decision.resumed:
            self.on_event("resumed", broadcast, {"from_repeat": broadcast.resume_from})
        run = _OnAir(broadcast)
        self._running = run
        run.task = asyncio.create_task(self._air(run), name=f"broadcast-{broadcast.id}")

    async def _silence(self, *, reason: str) -> None:
        """Fade out what is on air and wait until it is quiet (lock held)."""
        run = self._running
        if run is None:
            return
        run.reason = reason
        run.cancel.set()
        try:
            await asyncio.wait_for(run.silent.wait(),
                                   self.amplifier.warmup_s + STOP_GRACE_S)
        except TimeoutError:
            log.error("broadcast %s did not go quiet in time; stopping audio", run.broadcast.id)
            await self.output.stop()
        self._running = None

    async def _air(self, run: _OnAir) -> None:
        broadcast = run.broadcast
        outcome: BroadcastState = "done"
        error: str | None = None
        try:
            await self._play(run)
        except Exception as exc:  # a device failed: the broadcast failed, loudly
            log.exception("broadcast %s failed", broadcast.id)
            outcome, error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            run.silent.set()
        if run.cancel.is_set() and outcome == "done":
            if run.reason == "max_on":
                outcome, error = "failed", f"cut after the maximum on-time ({self.max_on_s:.0f} s)"
            else:
                return  # whoever stopped it decides what happens next
        async with self._lock:
            if self._running is not run:
                return
            self._running = None
            broadcast.error = error
            self._finish(broadcast, outcome, actor="broadcast")
            if outcome == "failed" and run.reason == "max_on":
                self.on_event("fault", broadcast, {"reason": "max_on_s"})
            decision = self.queue.finished(broadcast.id, self.clock.monotonic())
            await self._apply(decision)

    async def _play(self, run: _OnAir) -> None:
        broadcast = run.broadcast
        await self.amplifier.acquire(broadcast.zones, actor="broadcast")
        if run.cancel.is_set():
            return
        first_time = broadcast.started is None
        if first_time:
            broadcast.started = self.clock.now()
        broadcast.state = "playing"
        self.on_event("started" if first_time else "playing", broadcast,
                      {"from_repeat": broadcast.resume_from})
        began = self.clock.monotonic()
        await self.output.open(broadcast.id)
        live = isinstance(broadcast.program.content, LiveContent)
        try:
            previous_part = None
            async for block in self.repertoire.blocks(broadcast.program,
                                                      from_repeat=broadcast.resume_from):
                if previous_part == "content" and block.part != "content":
                    self._played_once(broadcast, block.repeat)
                previous_part = block.part
                if self.clock.monotonic() - began > self.max_on_s:
                    run.reason = "max_on"
                    run.cancel.set()
                if run.cancel.is_set() or not await self.output.play(
                        block.pcm, cancel=run.cancel, live=live and block.part == "content"):
                    return
            if not await self.output.drain(cancel=run.cancel):
                return
            if previous_part == "content":
                repeat = broadcast.program.repeat
                if isinstance(broadcast.program.content, LiveContent):
                    repeat = 1
                self._played_once(broadcast, repeat - 1)
        finally:
            await self.output.close()

    def _played_once(self, broadcast: Broadcast, repeat: int) -> None:
        broadcast.plays += 1
        broadcast.resume_from = repeat + 1
        self.on_event("played", broadcast, {"repeat": repeat})

    def _finish(self, broadcast: Broadcast, state: BroadcastState, *, actor: str,
                reason: str | None = None) -> None:
        broadcast.state = state
        broadcast.ended = self.clock.now()
        self._final[broadcast.id].set()
        self.on_event(state, broadcast, {"by": actor, **({"reason": reason} if reason else {})})
