"""Do one thing at every chosen station at once, with a progress line.

Each station's work runs as its own task under its own deadline, so one slow or dead
station is reported as such and never holds the others; how many requests are in flight
at once is bounded by the pool of :class:`~county.client.StationClient`.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TextIO, TypeVar

import httpx

from county.client import StationClient, StationRefused, StationUnreachable
from county.stations import Station

T = TypeVar("T")


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What came of one station: its value, or why there is none."""

    station: Station
    value: T | None = None
    unreachable: str | None = None
    refused: StationRefused | None = None

    @property
    def problem(self) -> str | None:
        if self.unreachable is not None:
            return f"不可达 unreachable: {self.unreachable}"
        if self.refused is not None:
            return f"被拒绝 refused: HTTP {self.refused.status} {self.refused.detail}"
        return None


class Progress:
    """``spot-check 进度 progress 12/50 …`` on stderr, rewritten in place on a terminal."""

    def __init__(self, label: str, total: int, stream: TextIO = sys.stderr) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.failed = 0
        self.stream = stream
        self.live = stream.isatty()

    def line(self) -> str:
        return (f"{self.label} 进度 progress {self.done}/{self.total}"
                + (f"，失败 failed {self.failed}" if self.failed else ""))

    def step(self, ok: bool) -> None:
        self.done += 1
        self.failed += 0 if ok else 1
        if self.live:
            self.stream.write("\r" + self.line())
            self.stream.flush()

    def finish(self) -> None:
        self.stream.write(("\r" if self.live else "") + self.line() + "\n")
        self.stream.flush()


class Fanout:
    """The shared HTTP client and request pool of one command run."""

    def __init__(self, http: httpx.AsyncClient, *, concurrency: int, timeout_s: float,
                 progress_stream: TextIO = sys.stderr) -> None:
        self.http = http
        self.slots = asyncio.Semaphore(concurrency)
        self.timeout_s = timeout_s
        self.progress_stream = progress_stream

    def client(self, station: Station) -> StationClient:
        return StationClient(station, self.http, self.slots, self.timeout_s)

    async def run(self, label: str, stations: list[Station],
                  work: Callable[[StationClient], Awaitable[T]],
                  *, station_budget_s: float) -> list[Outcome[T]]:
        """``work`` at every station; outcomes in the stations' order."""
        progress = Progress(label, len(stations), self.progress_stream)

        async def one(station: Station) -> Outcome[T]:
            try:
                value = await asyncio.wait_for(work(self.client(station)), station_budget_s)
                outcome: Outcome[T] = Outcome(station, value)
            except StationUnreachable as exc:
                outcome = Outcome(station, unreachable=str(exc))
            except StationRefused as exc:
                outcome = Outcome(station, refused=exc)
            except TimeoutError:
                outcome = Outcome(station, unreachable=f"超时 no result within "
                                                      f"{station_budget_s:g} s")
            progress.step(outcome.problem is None)
            return outcome

        outcomes = await asyncio.gather(*(one(s) for s in stations))
        progress.finish()
        return list(outcomes)
