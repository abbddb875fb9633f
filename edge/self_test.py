"""Scheduled self-tests of the broadcast chain, so a dead amplifier is found before a storm.

* Daily, silent: the amplifier's power relay is cycled (warm-up included) with every zone
  OFF, and the audio device is opened and fed silence — the loudspeakers say nothing.
* Weekly, audible: the ``test`` message (chime + "这是应急广播测试…") on every zone.

Times are Beijing time (the station's working day). A test never interrupts a broadcast:
it waits for the air to be free, and counts as *missed* if it could not run within
``grace_s``. A failed or missed test makes the ``self_test`` device ``degraded`` in health
(never silent) until the next test passes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Literal

from broadcast.priority import Priority
from broadcast.program import LiveContent, MessageContent, Program
from drivers.clock import BEIJING
from drivers.tasks import cancel_and_wait

if TYPE_CHECKING:
    import numpy as np

    from edge.broadcasting import Broadcasting
    from edge.station import Station

log = logging.getLogger(__name__)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
RETRY_WHILE_BUSY_S = 60.0
SILENCE_S = 0.5
TestKind = Literal["silent", "audible"]


def next_daily(after: datetime, at: time) -> datetime:
    """The first ``at`` (Beijing time) strictly after ``after``."""
    local = after.astimezone(BEIJING)
    candidate = datetime.combine(local.date(), at, BEIJING)
    if candidate <= local:
        candidate += timedelta(days=1)
    return candidate


def next_weekly(after: datetime, weekday: int, at: time) -> datetime:
    """The first ``weekday`` (0 = Monday) at ``at`` (Beijing time) strictly after ``after``."""
    candidate = next_daily(after, at)
    while candidate.weekday() != weekday:
        candidate += timedelta(days=1)
    return candidate


class Silence:
    """Half a second of silence as a live source: the audio device is opened and fed."""

    def __init__(self, rate: int) -> None:
        self.rate = rate

    async def blocks(self) -> AsyncIterator[np.ndarray]:
        import numpy as np
        yield np.zeros(round(self.rate * SILENCE_S), dtype=np.float32)


class SelfTests:
    def __init__(self, station: Station, broadcasting: Broadcasting) -> None:
        self.station = station
        self.broadcasting = broadcasting
        self.config = station.config.self_test
        self._tasks: list[asyncio.Task[None]] = []
        self.results: dict[TestKind, tuple[datetime, str]] = {}
        station.health.register("self_test", "self_test", "no test run yet")
        station.health.report("self_test", "ok", "no test due yet")
        station.lifecycle.on("ready", "self-tests", self._start)
        station.lifecycle.on("stopping", "self-tests", self._stop, first=True)

    def _start(self) -> None:
        cfg = self.config
        self._tasks.append(asyncio.create_task(
            self._schedule("silent", lambda now: next_daily(now, cfg.silent_daily_at)),
            name="self-test-silent"))
        weekday = WEEKDAYS.index(cfg.audible_weekday)
        self._tasks.append(asyncio.create_task(
            self._schedule("audible", lambda now: next_weekly(now, weekday, cfg.audible_at)),
            name="self-test-audible"))

    async def _stop(self) -> None:
        await cancel_and_wait(self._tasks)

    async def _schedule(
        self, kind: TestKind, next_time: Callable[[datetime], datetime]
    ) -> None:
        clock = self.station.clock
        while True:
            due = next_time(clock.now())
            await clock.sleep((due - clock.now()).total_seconds())
            await self.run_when_free(kind, due)

    async def run_when_free(self, kind: TestKind, due: datetime) -> str:
        """Run the test as soon as the air is free; ``missed`` after the grace time."""
        clock = self.station.clock
        while not self._air_is_free():
            if (clock.now() - due).total_seconds() > self.config.grace_s:
                return self._result(kind, "missed", "the air was busy for the whole grace time")
            await clock.sleep(RETRY_WHILE_BUSY_S)
        try:
            detail = await (self._silent() if kind == "silent" else self._audible())
        except Exception as exc:
            log.exception("%s self-test failed", kind)
            return self._result(kind, "failed", f"{type(exc).__name__}: {exc}")
        return self._result(kind, "passed", detail)

    def _air_is_free(self) -> bool:
        return self.broadcasting.service.on_air is None

    async def _silent(self) -> str:
        """Through the scheduler at the lowest priority, so any real broadcast preempts it."""
        program = Program(LiveContent("self-test silence", Silence(self.broadcasting.output.rate)),
                          chime=False)
        return await self._broadcast(program, zones=[], what="power relay cycled, audio "
                                                              "device opened, zones off")

    async def _audible(self) -> str:
        return await self._broadcast(Program(MessageContent("test")),
                                     zones=sorted(self.broadcasting.amplifier.zones),
                                     what="test message played")

    async def _broadcast(self, program: Program, *, zones: list[str], what: str) -> str:
        service = self.broadcasting.service
        broadcast = await service.submit(program, zones=zones, priority=Priority.ROUTINE,
                                         type="routine", source="self_test", actor="self_test")
        final = await service.wait_final(broadcast.id)
        if final.state != "done":
            raise RuntimeError(f"test broadcast {final.id} ended {final.state}: {final.error}")
        return f"{what} ({final.id})"

    def _result(self, kind: TestKind, outcome: str, detail: str) -> str:
        now = self.station.clock.now()
        self.results[kind] = (now, outcome)
        self.station.journal.record(f"self_test.{outcome}", "self_test", "self_test",
                                    test=kind, detail=detail)
        failing = [k for k, (_, o) in self.results.items() if o != "passed"]
        if failing:
            self.station.health.report("self_test", "degraded",
                                       f"{', '.join(sorted(failing))} test {outcome}: {detail}")
        else:
            self.station.health.report("self_test", "ok", f"{kind} test passed")
        return outcome
