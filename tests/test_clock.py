import asyncio

import pytest

from drivers.clock import ManualClock, SystemClock


async def test_manual_clock_wakes_sleepers_in_deadline_order() -> None:
    clock = ManualClock()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.monotonic()))

    tasks = [asyncio.create_task(sleeper("b", 2.0)), asyncio.create_task(sleeper("a", 1.0))]
    await clock.advance(1.5)
    assert woke == [("a", 1.0)]
    await clock.advance(1.0)
    assert woke == [("a", 1.0), ("b", 2.0)]
    assert clock.monotonic() == 2.5
    await asyncio.gather(*tasks)


async def test_manual_clock_rewakes_a_periodic_task_within_one_advance() -> None:
    clock = ManualClock()
    ticks: list[float] = []

    async def periodic() -> None:
        for _ in range(5):
            await clock.sleep(1.0)
            ticks.append(clock.monotonic())

    task = asyncio.create_task(periodic())
    await clock.advance(3.5)
    assert ticks == [1.0, 2.0, 3.0]
    await clock.advance(10)
    assert ticks == [1.0, 2.0, 3.0, 4.0, 5.0]
    await task


def test_manual_clock_now_follows_monotonic() -> None:
    clock = ManualClock()
    start = clock.now()
    asyncio.run(clock.advance(90))
    assert (clock.now() - start).total_seconds() == 90


async def test_system_clock_time_scale_speeds_up_sleep_and_time() -> None:
    clock = SystemClock(time_scale=100.0)
    t0, w0 = clock.monotonic(), clock.now()
    await clock.sleep(5.0)  # 50 ms of real time
    elapsed = clock.monotonic() - t0
    assert 5.0 <= elapsed < 50.0
    assert (clock.now() - w0).total_seconds() == pytest.approx(elapsed, abs=0.5)


def test_system_clock_refuses_non_positive_scale() -> None:
    with pytest.raises(ValueError, match="time_scale"):
        SystemClock(time_scale=0)
