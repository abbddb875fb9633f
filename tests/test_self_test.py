"""Self-tests: scheduled in Beijing time, silent daily and audible weekly, never silent
when they fail or are missed."""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path

from broadcast.priority import Priority
from broadcast.program import MessageContent, Program
from drivers.clock import ManualClock
from edge.self_test import RETRY_WHILE_BUSY_S, next_daily, next_weekly
from tests.helpers import StationRun, sim_config


def test_schedules_are_in_beijing_time() -> None:
    at = datetime(2026, 7, 1, 18, 0, tzinfo=UTC)  # 02:00 Beijing, 2 July
    assert next_daily(at, time(3, 0)) == datetime(2026, 7, 1, 19, 0, tzinfo=UTC)
    assert next_daily(datetime(2026, 7, 1, 19, 0, tzinfo=UTC), time(3, 0)) == \
        datetime(2026, 7, 2, 19, 0, tzinfo=UTC)
    monday_10 = next_weekly(datetime(2026, 7, 1, tzinfo=UTC), 0, time(10, 0))
    assert monday_10 == datetime(2026, 7, 6, 2, 0, tzinfo=UTC)


async def started(tmp_path: Path, start: datetime) -> StationRun:
    run = StationRun(sim_config(tmp_path), ManualClock(start))
    await run.__aenter__()
    await run.station.parts.broadcasting.library.prepare()
    return run


async def test_the_daily_silent_test_cycles_the_power_relay_with_the_zones_off(
    tmp_path: Path,
) -> None:
    run = await started(tmp_path, datetime(2026, 7, 1, 18, 59, 50, tzinfo=UTC))
    try:
        await run.clock.advance(20)
        history = [(c.pin, c.level) for c in run.station.gpio.factory.history]
        assert (23, True) in history, "the power relay was switched ON"
        assert (24, True) not in history and (25, True) not in history, "no loudspeaker"
        await run.clock.advance(15)
        passed = [e for e in await run.settled_events() if e["kind"] == "self_test.passed"]
        assert [e["data"]["test"] for e in passed] == ["silent"]
        assert run.station.health.get("self_test").status == "ok"
        assert not run.station.outputs["amplifier.power"].switch.is_on
    finally:
        await run.__aexit__()


async def test_the_weekly_audible_test_plays_the_test_message(tmp_path: Path) -> None:
    run = await started(tmp_path, datetime(2026, 7, 6, 1, 59, 50, tzinfo=UTC))
    try:
        await run.clock.advance(60)
        played = [b for b in run.station.parts.broadcasting.service.list()
                  if b.source == "self_test" and b.content_json() == {"message": "test"}]
        assert played and played[0].state == "done" and played[0].zones == ["all", "north",
                                                                            "south"]
        assert any(e["kind"] == "self_test.passed" and e["data"]["test"] == "audible"
                   for e in await run.settled_events())
    finally:
        await run.__aexit__()


async def test_a_test_that_cannot_run_is_missed_and_degrades_health(tmp_path: Path) -> None:
    grace_s = 60.0  # the shortest allowed: every minute of it is a minute of audio to write
    config = sim_config(tmp_path, f"[self_test]\ngrace_s = {grace_s}\n")
    run = StationRun(config, ManualClock(datetime(2026, 7, 1, 18, 59, 0, tzinfo=UTC)))
    await run.__aenter__()
    try:
        await run.station.parts.broadcasting.library.prepare()
        service = run.station.parts.broadcasting.service
        await service.submit(Program(MessageContent("evacuate"), repeat=100), zones=["all"],
                             priority=Priority.EVACUATION, type="emergency", source="api",
                             actor="test")
        await run.clock.advance(60 + grace_s + RETRY_WHILE_BUSY_S + 10)  # due at 03:00
        health = run.station.health.get("self_test")
        assert health.status == "degraded" and "missed" in health.detail
        assert any(e["kind"] == "self_test.missed" for e in await run.settled_events())
        assert service.on_air is not None and service.on_air.source == "api", \
            "the test never interrupted the evacuation order"
    finally:
        await run.__aexit__()
