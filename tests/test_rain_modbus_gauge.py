"""A Modbus rain gauge against the simulator: rain counted once, faults never rain.

Faults a gauge reports itself (status register, error value), power lost near the top
of the counter, and replies that are sometimes late, each through the real Modbus
line against ``hw-sim/modbus_gauge_sim.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from gauge_sim_process import GaugeSim

from drivers.clock import ManualClock
from drivers.modbus_bus import ModbusBus
from sensors.counter import CounterOutcome
from sensors.gauge_events import (
    CounterReading,
    DataGap,
    GaugeEvent,
    GaugeState,
    RainIncrement,
    StatusChange,
)
from sensors.gauge_models import CATALOGUE
from sensors.modbus_gauge import ModbusRainGauge
from sensors.register_map import RegisterMap

pytestmark = pytest.mark.waits  # on a simulated line's silences: see tests/conftest.py

MAPS = {
    1: RegisterMap(),
    2: RegisterMap(width=32, word_order="big", scale_mm=0.0001),
    3: RegisterMap(function="input", register=2, width=32, word_order="little", scale_mm=0.2),
    4: CATALOGUE["lambrecht-rain-e"].register_map,
}


@pytest.fixture
def sim() -> Iterator[GaugeSim]:
    with GaugeSim(
        "--unit", "1,start=65530",
        "--unit", "2,width=32,scale_mm=0.0001,start=0xFFFFD8F0",
        "--unit", "3,function=input,register=2,width=32,word_order=little,scale_mm=0.2",
        "--unit", "4,model=lambrecht-rain-e,start=2999000",
    ) as s:
        yield s


@pytest.fixture
async def bus(sim: GaugeSim) -> AsyncIterator[ModbusBus]:
    b = ModbusBus(sim.url, timeout_s=0.25, quiet_s=0.15)
    yield b
    await b.close()


class Gauges:
    def __init__(self, bus: ModbusBus, clock: ManualClock) -> None:
        self.events: list[GaugeEvent] = []
        self.clock = clock
        self.gauges = {
            unit: ModbusRainGauge(f"rg-{unit}", bus, unit, m, clock, offline_after=2,
                                  on_event=self.events.append)
            for unit, m in MAPS.items()
        }

    def rain_mm(self, unit: int) -> float:
        return sum(e.mm for e in self.events
                   if isinstance(e, RainIncrement) and e.gauge_id == f"rg-{unit}")

    def of(self, kind: type, unit: int) -> list:
        return [e for e in self.events if isinstance(e, kind) and e.gauge_id == f"rg-{unit}"]


@pytest.fixture
def gauges(bus: ModbusBus) -> Gauges:
    return Gauges(bus, ManualClock())


async def test_every_register_map_reads_the_rain_that_fell(sim: GaugeSim, gauges: Gauges) -> None:
    for gauge in gauges.gauges.values():
        baseline = await gauge.poll()
        assert isinstance(baseline, RainIncrement) and baseline.outcome is None
        assert gauge.status.state is GaugeState.OK
    sim.command("rain * 2.4")
    await gauges.clock.advance(60)
    for unit, gauge in gauges.gauges.items():
        step = await gauge.poll()
        assert isinstance(step, RainIncrement)
        assert step.mm == pytest.approx(2.4)
        assert step.raw == sim.raw(unit)
    # the counters at the top of their range wrapped (the rain[e] at 3000 mm, below its
    # 32 bits), and the wrap was counted
    assert gauges.of(RainIncrement, 1)[-1].outcome is CounterOutcome.WRAP
    assert gauges.of(RainIncrement, 2)[-1].outcome is CounterOutcome.WRAP
    assert gauges.of(RainIncrement, 3)[-1].outcome is CounterOutcome.RAIN
    assert gauges.of(RainIncrement, 4)[-1].outcome is CounterOutcome.WRAP


async def test_late_replies_and_garbage_neither_create_nor_lose_rain(
    sim: GaugeSim, gauges: Gauges
) -> None:
    gauge = gauges.gauges[1]
    sim.command("set 1 100")  # away from the top: a wrap across a missed poll is a reset
    await gauge.poll()
    start_raw = sim.raw(1)
    faults = ["late 0.35 1", "garbage 1", "late 0.6 1", "noise 1", "none", "slow 0.02 2"]
    for fault in faults:
        sim.command(f"fault 1 {fault}")
        sim.command("rain 1 0.3")
        await gauges.clock.advance(30)
        await gauge.poll()
        await gauges.clock.advance(30)
        await gauge.poll()
    assert gauges.of(DataGap, 1) == []
    fell = (sim.raw(1) - start_raw) % 65536 * 0.1
    assert fell == pytest.approx(0.3 * len(faults))
    assert gauges.rain_mm(1) == pytest.approx(fell)


async def test_a_reset_is_a_gap_and_nothing_is_counted(sim: GaugeSim, gauges: Gauges) -> None:
    gauge = gauges.gauges[3]
    await gauge.poll()
    sim.command("rain 3 10")
    await gauges.clock.advance(120)
    await gauge.poll()
    sim.command("reset 3")
    sim.command("rain 3 0.4")
    await gauges.clock.advance(60)
    gap = await gauge.poll()
    assert isinstance(gap, DataGap) and gap.kind is CounterOutcome.RESET
    assert (gap.previous_raw, gap.raw) == (50, 2)
    assert "nothing counted" in gap.detail
    sim.command("rain 3 0.6")
    await gauges.clock.advance(60)
    after = await gauge.poll()
    assert isinstance(after, RainIncrement) and after.mm == pytest.approx(0.6)
    assert gauges.rain_mm(3) == pytest.approx(10.6)


async def test_a_jump_is_implausible_then_the_wrap_after_it_counts(
    sim: GaugeSim, gauges: Gauges
) -> None:
    gauge = gauges.gauges[1]
    sim.command("set 1 100")
    await gauge.poll()
    sim.command("rain 1 30")           # 30 mm in 5 s: more than 2 mm/s, what it can count
    await gauges.clock.advance(5)
    gap = await gauge.poll()
    assert isinstance(gap, DataGap) and gap.kind is CounterOutcome.IMPLAUSIBLE
    sim.command("wrap 1 2")            # the counter jumps to 65534: another gap
    await gauges.clock.advance(60)
    assert isinstance(await gauge.poll(), DataGap)
    sim.command("rain 1 0.5")
    await gauges.clock.advance(60)
    wrap = await gauge.poll()
    assert isinstance(wrap, RainIncrement) and wrap.outcome is CounterOutcome.WRAP
    assert (wrap.raw, wrap.mm) == (3, pytest.approx(0.5))
    assert gauges.rain_mm(1) == pytest.approx(0.5)


async def test_offline_after_n_failures_and_back(sim: GaugeSim, gauges: Gauges) -> None:
    gauge = gauges.gauges[2]
    sim.command("set 2 1000")
    await gauge.poll()
    sim.command("fault 2 silence")
    assert await gauge.poll() is None
    assert gauge.status.state is GaugeState.OK          # one miss is not offline
    await gauges.clock.advance(10)
    assert await gauge.poll() is None
    assert gauge.status.state is GaugeState.OFFLINE
    assert gauge.status.since == gauges.clock.now()
    assert gauge.status.detail.startswith("no reply for 2 polls")
    assert not gauge.is_fresh(60)
    await gauge.poll()
    sim.command("fault 2 none")
    sim.command("rain 2 1.5")
    await gauges.clock.advance(600)
    back = await gauge.poll()
    assert isinstance(back, RainIncrement) and back.mm == pytest.approx(1.5)
    assert back.missed == 3
    assert gauge.status.state is GaugeState.OFFLINE, "one good reply is not yet ok"
    await gauges.clock.advance(10)
    await gauge.poll()
    assert gauge.is_fresh(60)
    changes = [(e.previous.state, e.status.state) for e in gauges.of(StatusChange, 2)]
    assert changes == [
        (GaugeState.UNKNOWN, GaugeState.OK),
        (GaugeState.OK, GaugeState.OFFLINE),
        (GaugeState.OFFLINE, GaugeState.OK),
    ]


async def test_a_dead_gauge_beside_a_live_one(sim: GaugeSim, bus: ModbusBus) -> None:
    clock = ManualClock()
    events: list[GaugeEvent] = []
    live = ModbusRainGauge("live", bus, 1, MAPS[1], clock, on_event=events.append)
    dead = ModbusRainGauge("dead", bus, 42, MAPS[1], clock, on_event=events.append)
    for _ in range(4):
        sim.command("rain 1 0.1")
        await clock.advance(60)
        assert await dead.poll() is None
        assert isinstance(await live.poll(), RainIncrement)
    assert dead.status.state is GaugeState.OFFLINE and live.status.state is GaugeState.OK
    assert sum(e.mm for e in events if isinstance(e, RainIncrement)) == pytest.approx(0.3)
    assert sim.requests(42) == 4


async def test_restored_counter_counts_rain_of_the_downtime_once(
    sim: GaugeSim, bus: ModbusBus
) -> None:
    clock = ManualClock()
    first = ModbusRainGauge("rg-3", bus, 3, MAPS[3], clock)
    await first.poll()
    saved = first.last
    assert saved is not None
    sim.command("rain 3 4.0")
    await clock.advance(3600)
    restarted = ModbusRainGauge("rg-3", bus, 3, MAPS[3], clock, last=saved)
    step = await restarted.poll()
    assert isinstance(step, RainIncrement)
    assert step.mm == pytest.approx(4.0) and step.since == saved.at
    with pytest.raises(ValueError, match="does not fit"):
        ModbusRainGauge("rg-1", bus, 1, MAPS[1], clock, last=CounterReading(70000, clock.now()))
    # a board without a real-time clock booted with a time before the stored reading
    sim.command("rain 3 1.0")
    future = CounterReading(restarted.last.raw if restarted.last else 0,
                            clock.now() + timedelta(hours=1))
    behind = ModbusRainGauge("rg-3", bus, 3, MAPS[3], clock, last=future)
    gap = await behind.poll()
    assert isinstance(gap, DataGap) and gap.kind is CounterOutcome.UNTIMED
    assert "clock went back 3600 s" in gap.detail


async def test_a_status_register_fault_holds_the_gauge_and_its_rain_comes_back(
    sim: GaugeSim, gauges: Gauges
) -> None:
    gauge = gauges.gauges[4]
    sim.command("set 4 1000")
    await gauge.poll()
    sim.command("sensor 4 fault 0x0008")          # temperature sensor at the funnel
    sim.command("rain 4 2.0")
    await gauges.clock.advance(60)
    assert await gauge.poll() is None
    assert gauge.status.state is GaugeState.FAULT
    assert "status register 34901 = 0x0008" in gauge.status.detail
    assert not gauge.is_fresh(600)
    sim.command("sensor 4 fault 0x0001")          # a heater warning alone is no fault
    sim.command("rain 4 1.5")
    await gauges.clock.advance(60)
    back = await gauge.poll()
    # the counter kept counting: the fault's 3.5 mm come back, in total, over the fault
    assert isinstance(back, RainIncrement) and back.mm == pytest.approx(3.5)
    assert (back.missed, back.since) == (1, gauges.clock.now() - timedelta(seconds=120))
    assert gauge.status.state is GaugeState.FAULT, "ok again only after two good replies"
    await gauges.clock.advance(60)
    await gauge.poll()
    assert gauge.status.state is GaugeState.OK


async def test_an_error_value_is_a_fault_never_rain(sim: GaugeSim, gauges: Gauges) -> None:
    gauge = gauges.gauges[4]
    sim.command("set 4 1000")
    await gauge.poll()
    sim.command("error 4 on")                     # the counter reads -9999999
    for _ in range(3):
        sim.command("rain 4 0.4")
        await gauges.clock.advance(60)
        assert await gauge.poll() is None
    assert gauge.status.state is GaugeState.FAULT
    assert "error value 0xff676981 (-9999999)" in gauge.status.detail
    sim.command("error 4 off")
    await gauges.clock.advance(60)
    back = await gauge.poll()
    assert isinstance(back, RainIncrement) and back.mm == pytest.approx(1.2)
    assert gauges.of(DataGap, 4) == []


async def test_power_lost_near_the_top_of_the_counter_is_a_reset_not_phantom_rain(
    sim: GaugeSim, gauges: Gauges
) -> None:
    gauge = gauges.gauges[1]
    sim.command("set 1 65532")
    await gauge.poll()
    sim.command("power 1 off")
    await gauges.clock.advance(60)
    assert await gauge.poll() is None
    sim.command("power 1 on")                    # back at 0
    sim.command("rain 1 0.3")
    await gauges.clock.advance(60)
    gap = await gauge.poll()
    # 65532 -> 3 would be a wrap of 7 counts: but a poll was missed in between
    assert isinstance(gap, DataGap) and gap.kind is CounterOutcome.RESET
    assert "across 1 missed polls" in gap.detail
    assert gauges.rain_mm(1) == 0.0


async def test_replies_that_are_sometimes_late_do_not_make_the_gauge_flap(
    sim: GaugeSim, gauges: Gauges
) -> None:
    gauge = gauges.gauges[2]
    sim.command("set 2 1000")
    await gauge.poll()
    sim.command("fault 2 late 0.6 every 2")
    for _ in range(8):
        sim.command("rain 2 0.1")
        await gauges.clock.advance(5)
        await gauge.poll()
    assert gauge.status.state is GaugeState.OK
    assert [e.status.state for e in gauges.of(StatusChange, 2)] == [GaugeState.OK]
    assert gauges.rain_mm(2) == pytest.approx(0.7, abs=0.1001)


async def test_run_polls_on_the_clock(sim: GaugeSim, bus: ModbusBus) -> None:
    clock = ManualClock()
    readings: asyncio.Queue[GaugeEvent] = asyncio.Queue()
    gauge = ModbusRainGauge("rg-1", bus, 1, MAPS[1], clock, on_event=readings.put_nowait)
    task = asyncio.create_task(gauge.run(interval_s=10))

    async def next_increment() -> RainIncrement:
        while not isinstance(event := await asyncio.wait_for(readings.get(), 5), RainIncrement):
            pass
        return event

    try:
        first = await next_increment()
        sim.command("rain 1 0.2")
        await clock.advance(10)
        second = await next_increment()
        assert second.at - first.at == timedelta(seconds=10)
        assert second.mm == pytest.approx(0.2)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_bad_register_maps_are_refused() -> None:
    for kwargs, message in [
        ({"function": "coil"}, "function"), ({"width": 8}, "width"),
        ({"word_order": "middle"}, "word_order"), ({"scale_mm": 0}, "scale_mm"),
        ({"register": 65535, "width": 32}, "register"), ({"rollover": 70000}, "rollover"),
        ({"error_values": frozenset({70000})}, "error_values"),
    ]:
        with pytest.raises(ValueError, match=message):
            RegisterMap(**kwargs)


async def test_a_gauge_shows_its_state_and_counter_and_closes_once(
    sim: GaugeSim, gauges: Gauges
) -> None:
    gauge = gauges.gauges[1]
    where = f"<ModbusRainGauge rg-1 unit 1 on {sim.url}"
    assert repr(gauge) == f"{where} unknown counter=None failures=0>"
    await gauge.poll()
    assert repr(gauge) == f"{where} ok counter=65530 failures=0>"
    sim.command("fault 1 silence 2")
    await gauge.poll()
    await gauge.poll()
    assert repr(gauge) == f"{where} offline counter=65530 failures=2>"
    gauge.close()
    gauge.close()
    assert repr(gauge) == f"{where} closed>"
    with pytest.raises(RuntimeError, match="closed"):
        await gauge.poll()
