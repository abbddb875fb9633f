"""Spot checks (一键通抽查 / 随机签到): the county asks "is someone on duty?".

A check starts from the county (``POST /api/v1/checkins``); the panel shows a prompt, the
alarm LED blinks and the buzzer (if fitted) sounds, until the duty officer answers by the
panel's ACK button or the web panel, or the time to answer runs out. The answer time is
journaled and every check is listed with its result: answered in N s, or missed.

While a check is waiting, a press of ACK answers the check and nothing else (it does not
also acknowledge an alarm): one press, one meaning.

A waiting check is kept in the state store: a restarted station goes on waiting for
the answer until the same deadline (the time to answer runs on through the restart).
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from drivers.clock import iso_utc, monotonic_at
from edge import restore_plan
from edge.exposition import ResponseTimes, histogram_family

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from edge.buzzer import Buzzer
    from edge.station import Station

BLINK_S = 0.5
KIND = "checkin"
CheckState = Literal["waiting", "answered", "missed"]


@dataclass
class Checkin:
    id: str
    requested_by: str
    started: datetime
    started_mono: float
    deadline_s: float
    state: CheckState = "waiting"
    answered_by: str | None = None
    answered_at: datetime | None = None
    response_s: float | None = None

    def as_json(self) -> dict[str, Any]:
        result = {"waiting": "等待应答 waiting",
                  "answered": f"{self.response_s:.0f} 秒内应答 answered in {self.response_s:.0f} s"
                  if self.response_s is not None else "",
                  "missed": "未应答 missed"}[self.state]
        return {"id": self.id, "requested_by": self.requested_by, "state": self.state,
                "started": iso_utc(self.started), "answer_within_s": self.deadline_s,
                "answered_by": self.answered_by,
                "answered_at": iso_utc(self.answered_at) if self.answered_at else None,
                "response_s": round(self.response_s, 1) if self.response_s is not None else None,
                "result": result}


class Checkins:
    def __init__(self, station: Station, buzzer: Buzzer) -> None:
        self.station = station
        self.buzzer = buzzer
        self._checks: dict[str, Checkin] = {}
        self._numbers = itertools.count(1)
        self._signal_task: asyncio.Task[None] | None = None
        led = "panel.alarm_led" if station.config.panel.alarm_led is not None else \
            "panel.fault_led"
        self.led = led if led in station.outputs else None
        self.results = {"answered": 0, "missed": 0}
        self.response_times = ResponseTimes()
        self._restore()
        station.lifecycle.on("ready", "checkins", self._resume)
        station.lifecycle.on("stopping", "checkins", self._stop, first=True)
        station.metric_sources.append(self._metrics)

    def _metrics(self) -> list[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        results = CounterMetricFamily("station_edge_checkins",
                                      "Spot checks (一键通抽查) by result", labels=["result"])
        for result, count in self.results.items():
            results.add_metric([result], count)
        waiting = GaugeMetricFamily("station_edge_checkin_waiting",
                                    "1 while a spot check waits for the duty officer",
                                    value=1 if self.waiting is not None else 0)
        times = histogram_family("station_edge_checkin_response_seconds",
                                 "Seconds the duty officer took to answer a spot check", [],
                                 {(): self.response_times})
        return [results, waiting, times]

    def _restore(self) -> None:
        for check in self.station.state.loaded_as(KIND, Checkin).values():
            check.started_mono = monotonic_at(self.station.clock, check.started)
            self._checks[check.id] = check
        self._numbers = itertools.count(restore_plan.next_number(self._checks))
        self.station.restored["checkins"] = list(self._checks)

    def _resume(self) -> None:
        """A check that was waiting before a restart waits on, until its deadline."""
        check = self.waiting
        if check is not None:
            self._signal_task = asyncio.get_running_loop().create_task(self._signal(check))

    def list(self) -> list[Checkin]:
        return list(self._checks.values())

    @property
    def waiting(self) -> Checkin | None:
        return next((c for c in self._checks.values() if c.state == "waiting"), None)

    def start(self, *, requested_by: str) -> Checkin:
        existing = self.waiting
        if existing is not None:
            return existing
        clock = self.station.clock
        now = clock.now()
        check = Checkin(f"c{now:%Y%m%d%H%M%S}-{next(self._numbers)}", requested_by, now,
                        clock.monotonic(), self.station.config.checkins.answer_within_s)
        self._checks[check.id] = check
        self.station.state.put_record(KIND, check.id, check)
        self.station.journal.record("checkin.started", check.id, requested_by,
                                    answer_within_s=check.deadline_s)
        self._signal_task = asyncio.get_running_loop().create_task(self._signal(check))
        return check

    def answer(self, *, actor: str) -> Checkin | None:
        """The duty officer answered (panel button or web panel)."""
        check = self.waiting
        if check is None:
            return None
        clock = self.station.clock
        check.state = "answered"
        check.answered_by = actor
        check.answered_at = clock.now()
        check.response_s = clock.monotonic() - check.started_mono
        self.results["answered"] += 1
        self.response_times.observe(check.response_s)
        self.station.state.delete(KIND, check.id)
        self.station.journal.record("checkin.answered", check.id, actor,
                                    response_s=round(check.response_s, 1))
        return check

    async def _signal(self, check: Checkin) -> None:
        """Blink the LED and sound the buzzer while the check waits; miss it at the deadline."""
        clock, outputs = self.station.clock, self.station.outputs
        lit = False
        try:
            self.buzzer.want(f"checkin:{check.id}", f"spot check {check.id} waiting")
            while check.state == "waiting":
                if clock.monotonic() - check.started_mono >= check.deadline_s:
                    check.state = "missed"
                    self.results["missed"] += 1
                    self.station.state.delete(KIND, check.id)
                    self.station.journal.record("checkin.missed", check.id, "system",
                                                answer_within_s=check.deadline_s)
                    break
                if self.led:
                    lit = not lit
                    await outputs.set(self.led, lit, actor="checkin", reason="spot check",
                                      quiet=True)
                await clock.sleep(BLINK_S)
        finally:
            self.buzzer.release(f"checkin:{check.id}")
            if self.led and lit:
                await outputs.set(self.led, False, actor="checkin", reason="spot check over",
                                  quiet=True)

    async def _stop(self) -> None:
        if self._signal_task is not None:
            self._signal_task.cancel()
            await asyncio.gather(self._signal_task, return_exceptions=True)
