"""Finished broadcasts are forgotten beyond a bound: a station that runs for years must not
keep a record per broadcast in memory (the journal keeps them all)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import get_args

from broadcast.priority import Priority
from broadcast.program import Program, SirenContent
from broadcast.record import Broadcast, BroadcastState
from broadcast.service import to_forget


def _broadcast(number: int, state: BroadcastState) -> Broadcast:
    return Broadcast(id=f"b{number}", program=Program(SirenContent("wail")), zones=["all"],
                     priority=Priority.ALARM_SIREN, type="emergency", source="rain_rule",
                     actor="gauge", created=datetime(2026, 7, 1, tzinfo=UTC), state=state)


def test_the_oldest_finished_are_forgotten_never_an_active_one() -> None:
    states: list[BroadcastState] = ["done", "playing", "failed", "waiting", "cancelled",
                                    "interrupted", "done"]
    assert set(states) <= set(get_args(BroadcastState))
    records = [_broadcast(n, s) for n, s in enumerate(states)]
    assert to_forget(records, keep=2) == ["b0", "b2", "b4"]
    assert to_forget(records, keep=5) == []
    assert to_forget(records, keep=0) == ["b0", "b2", "b4", "b5", "b6"]
