"""The Modbus line against the simulated devices, with a real pymodbus client."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator

import pytest
from gauge_sim_process import GaugeSim

from drivers.modbus_bus import (
    BadReply,
    DeviceRefused,
    ModbusBus,
    NoReply,
    PortUnavailable,
)
from drivers.modbus_switch import CoilSwitch

pytestmark = pytest.mark.waits  # on a simulated line's silences: see tests/conftest.py

TIMEOUT_S = 0.25
QUIET_S = 0.15


@pytest.fixture
def sim() -> Iterator[GaugeSim]:
    with GaugeSim(
        "--unit", "1,start=4660",
        "--unit", "2,width=32,word_order=big,start=0x12345678",
        "--unit", "3,width=32,word_order=little,function=input,register=4,start=0x12345678",
    ) as s:
        yield s


@pytest.fixture
async def bus(sim: GaugeSim) -> AsyncIterator[ModbusBus]:
    b = ModbusBus(sim.url, timeout_s=TIMEOUT_S, quiet_s=QUIET_S, name="rs485")
    yield b
    await b.close()


async def test_reads_registers_as_the_device_keeps_them(bus: ModbusBus) -> None:
    assert await bus.read_holding_registers(1, 0, 1) == [4660]
    assert await bus.read_holding_registers(2, 0, 2) == [0x1234, 0x5678]
    assert await bus.read_input_registers(3, 4, 2) == [0x5678, 0x1234]


async def test_coils_discrete_inputs_and_register_writes(sim: GaugeSim, bus: ModbusBus) -> None:
    sim.command("di 2 3 1")
    assert await bus.read_discrete_inputs(2, 0, 5) == [False, False, False, True, False]
    await bus.write_coil(2, 1, True)
    assert sim.status(2)["coils"].startswith("01")
    await bus.write_coil(2, 1, False)
    assert sim.status(2)["coils"].startswith("00")
    await bus.write_register(1, 10, 0xBEEF)
    assert await bus.read_holding_registers(1, 10, 1) == [0xBEEF]


async def test_a_cancelled_task_can_still_switch_a_coil_off_in_its_finally(
    sim: GaugeSim, bus: ModbusBus
) -> None:
    """A siren cadence cancelled by an ACK writes its coil OFF while unwinding: that write
    must count as done (not be re-raised as a cancellation) and reach the wire."""
    await bus.write_coil(2, 0, True)
    unwound: list[str] = []
    started = asyncio.Event()

    async def cadence() -> None:
        try:
            started.set()
            await asyncio.Event().wait()
        finally:
            await bus.write_coil(2, 0, False)
            unwound.append("off written")

    task = asyncio.create_task(cadence())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert unwound == ["off written"]
    assert sim.status(2)["coils"].startswith("0")


async def test_a_modbus_exception_is_a_refusal_not_silence(bus: ModbusBus) -> None:
    with pytest.raises(DeviceRefused) as refused:
        await bus.read_holding_registers(1, 63, 2)   # past the device's map
    assert refused.value.code == 2
    with pytest.raises(DeviceRefused):
        await bus.read_holding_registers(1, 100, 1)
    assert await bus.read_holding_registers(1, 0, 1) == [4660]


async def test_late_replies_never_shift_readings(sim: GaugeSim, bus: ModbusBus) -> None:
    """A reply after the timeout must not become the answer to a later request."""
    expected = {1: [4660], 2: [0x1234, 0x5678]}
    count = {1: 1, 2: 2}
    failures = {1: 0, 2: 0}
    # late by a little (inside the quiet time) and by a lot (after it)
    for delay in (TIMEOUT_S + 0.05, TIMEOUT_S + QUIET_S + 0.1):
        sim.command(f"fault 1 late {delay} 1")
        for unit in (1, 1, 2, 1, 2, 2, 1):
            try:
                value = await bus.read_holding_registers(unit, 0, count[unit])
            except NoReply:
                failures[unit] += 1
                continue
            assert value == expected[unit]
    # The two late requests failed; a late frame landing in the same read as
    # another unit's reply may cost that reply too, never a wrong value.
    assert failures[1] == 2
    assert failures[2] <= 1


async def test_a_late_reply_of_another_size_is_refused(sim: GaugeSim, bus: ModbusBus) -> None:
    sim.command(f"fault 1 late {TIMEOUT_S + 0.03} 1")
    with pytest.raises(NoReply):
        await bus.read_holding_registers(1, 0, 2)
    bus.quiet_s = 0.0  # let the late two-register reply run into the next request
    results = []
    for _ in range(3):
        try:
            results.append(await bus.read_holding_registers(1, 0, 1))
        except (BadReply, NoReply) as exc:
            results.append(type(exc).__name__)
    assert all(r in ([4660], "BadReply", "NoReply") for r in results)
    assert results[-1] == [4660]


async def test_crc_garbage_and_noise_are_no_reply(sim: GaugeSim, bus: ModbusBus) -> None:
    sim.command("fault 1 garbage 1")
    with pytest.raises(NoReply):
        await bus.read_holding_registers(1, 0, 1)
    sim.command("fault 2 noise 1")
    with pytest.raises(NoReply):
        await bus.read_holding_registers(2, 0, 2)
    assert await bus.read_holding_registers(1, 0, 1) == [4660]
    assert await bus.read_holding_registers(2, 0, 2) == [0x1234, 0x5678]


async def test_a_torn_reply_never_spoils_the_next_answer(sim: GaugeSim, bus: ModbusBus) -> None:
    """The first bytes of a reply that broke off stay in pymodbus's receive buffer; the
    next answer is only right because pymodbus empties that buffer as it sends (the line
    relies on it instead of reaching into the client: a pymodbus that stops doing it
    fails here, where the torn bytes and the next reply would fail their CRC together)."""
    for unit, count, value in ((1, 1, [4660]), (2, 2, [0x1234, 0x5678])):
        sim.command(f"fault {unit} torn 1")
        with pytest.raises(NoReply):
            await bus.read_holding_registers(unit, 0, count)
        assert await bus.read_holding_registers(unit, 0, count) == value


async def test_the_line_and_a_coil_show_their_state_and_close_once(
    sim: GaugeSim, bus: ModbusBus
) -> None:
    where = f"<ModbusBus rs485 on {sim.url}"
    assert repr(bus) == f"{where} closed requests=0 replies=0 no_reply=0 silent_units=[]>"
    coil = CoilSwitch(bus, 2, 1)
    assert repr(coil) == "<CoilSwitch rs485 unit 2 coil 1 unknown>", "not read back yet"
    await coil.set(True)
    assert repr(coil) == "<CoilSwitch rs485 unit 2 coil 1 on>"
    with pytest.raises(NoReply):
        await bus.read_holding_registers(9, 0, 1)
    assert repr(bus) == f"{where} open requests=3 replies=2 no_reply=1 silent_units=[9]>"
    coil.close()
    coil.close()
    assert repr(coil) == "<CoilSwitch rs485 unit 2 coil 1 closed>"
    with pytest.raises(RuntimeError, match="closed"):
        await coil.set(False)
    await bus.close()
    await bus.close()
    assert repr(bus).startswith(f"{where} closed requests=3 ")


async def test_a_dead_unit_costs_one_timeout_and_no_retries(sim: GaugeSim, bus: ModbusBus) -> None:
    loop = asyncio.get_running_loop()
    dead_costs = []
    for _ in range(4):
        assert await bus.read_holding_registers(1, 0, 1) == [4660]
        started = loop.time()
        with pytest.raises(NoReply):
            await bus.read_holding_registers(9, 0, 1)
        dead_costs.append(loop.time() - started)
    assert sim.requests(9) == 4   # one request per poll: no retries
    assert sim.requests(1) == 4
    # Far from pymodbus's defaults (3 s x 4 attempts); the quiet time before the
    # next request is the only other cost.
    assert max(dead_costs) < TIMEOUT_S + QUIET_S + 1.0


async def test_a_lost_peer_is_reopened(sim: GaugeSim, bus: ModbusBus) -> None:
    assert await bus.read_holding_registers(1, 0, 1) == [4660]
    sim.command("disconnect")
    results = []
    for _ in range(3):
        try:
            results.append(await bus.read_holding_registers(1, 0, 1))
        except (NoReply, PortUnavailable) as exc:
            results.append(type(exc).__name__)
    assert results[-1] == [4660]
    assert bus.counters.opened == 2


async def test_a_port_that_cannot_open() -> None:
    with GaugeSim() as gone:
        url = gone.url
    bus = ModbusBus(url, timeout_s=0.2)
    with pytest.raises(PortUnavailable):
        await bus.read_holding_registers(1, 0, 1)
    await bus.close()


async def test_misses_are_logged_once_per_change_of_state(
    sim: GaugeSim, bus: ModbusBus, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for _ in range(3):
        with pytest.raises(NoReply):
            await bus.read_holding_registers(9, 0, 1)
    await bus.read_holding_registers(1, 0, 1)
    sim.command("fault 1 silence 2")
    for _ in range(2):
        with pytest.raises(NoReply):
            await bus.read_holding_registers(1, 0, 1)
    await bus.read_holding_registers(1, 0, 1)
    assert not [r for r in caplog.records if r.name.startswith("pymodbus")]
    messages = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert messages == [
        ("WARNING", "rs485: unit 9 stopped answering (no reply)"),
        ("WARNING", "rs485: unit 1 stopped answering (no reply)"),
        ("INFO", "rs485: unit 1 answers again"),
    ]


async def test_requests_on_one_line_never_overlap(sim: GaugeSim, bus: ModbusBus) -> None:
    reads = [bus.read_holding_registers(u, 0, n) for u, n in [(1, 1), (2, 2), (9, 1)] * 3]
    results = await asyncio.gather(*reads, return_exceptions=True)
    for (unit, _), result in zip([(1, 1), (2, 2), (9, 1)] * 3, results, strict=True):
        if unit == 9:
            assert isinstance(result, NoReply)
        else:
            assert result == {1: [4660], 2: [0x1234, 0x5678]}[unit]
