"""A Modbus rain gauge against the simulator: rain counted once, faults never rain."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from gauge_sim_process import GaugeSim

from drivers.clock import ManualClock
from drivers.modbus_bus import BusError, ModbusBus
from sensors.counter import CounterOutcome
from sensors.modbus_gauge import (
    CounterClear,
    CounterReading,
    DataGap,
    GaugeEvent,
    GaugeState,
    ModbusRainGauge,
    RainIncrement,
    RegisterMap,
    StatusChange,
)

MAPS = {
    1: RegisterMap(),
    2: RegisterMap(width=32, word_order="big", scale_mm=0.0001),
    3: RegisterMap(function="input", register=2, width=32, word_order="little", scale_mm=0.2,
                   clear=CounterClear(0, 0x5A)),
}


@pytest.fixture
def sim() -> Iterator[GaugeSim]:
    with GaugeSim(
        "--unit", "1,start=65530",
        "--unit", "2,width=32,scale_mm=0.0001,start=0xFFFFD8F0",
        "--unit", "3,function=input,register=2,width=32,word_order=little,scale_mm=0.2,"
        "clear=0:0x5A",
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
    # both counters at the top of their range wrapped, and the wrap was counted
    assert gauges.of(RainIncrement, 1)[-1].outcome is CounterOutcome.WRAP
    assert gauges.of(RainIncrement, 2)[-1].outcome is CounterOutcome.WRAP
    assert gauges.of(RainIncrement, 3)[-1].outcome is CounterOutcome.RAIN


async def test_late_replies_and_garbage_neither_create_nor_lose_rain(
    sim: GaugeSim, gauges: Gauges
) -> None:
    gauge = gauges.gauges[1]
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
    sim.command("rain 1 10")           # 10 mm in 5 s: more than 8 mm/min
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


async def test_clearing_the_counter_keeps_the_rain(sim: GaugeSim, gauges: Gauges) -> None:
    gauge = gauges.gauges[3]
    await gauge.poll()
    sim.command("rain 3 1.0")
    await gauges.clock.advance(60)
    await gauge.clear_counter()
    assert sim.raw(3) == 0
    sim.command("rain 3 0.4")
    await gauges.clock.advance(60)
    step = await gauge.poll()
    assert isinstance(step, RainIncrement) and step.raw == 2
    assert gauges.rain_mm(3) == pytest.approx(1.4)
    with pytest.raises(ValueError, match="no clear command"):
        await gauges.gauges[1].clear_counter()
    sim.command("fault 3 silence")
    with pytest.raises(BusError):
        await gauge.clear_counter()


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
        ({"register": 65535, "width": 32}, "register"),
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
