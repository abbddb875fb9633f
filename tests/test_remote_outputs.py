"""Remote sirens (a coil on a Modbus I/O module) have a safe state too, and relays never
chatter: an in-process station on a manual clock, the real I/O-module simulator on the
wire.

Bus timeouts are wire time (real seconds), so after moving the clock a test awaits what
the module and the station say (``until``), never a fixed sleep.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gauge_sim_process import GaugeSim

from edge.api.app import create_app
from edge.output_rules import ChatterGuard, retry_delay_s
from edge.outputs import Output
from tests.helpers import SIM_VIEWER, StationRun, sim_config, until

pytestmark = pytest.mark.waits  # on a simulated line's silences: see tests/conftest.py

SIREN = "siren-2"


@pytest.fixture
def module() -> Iterator[GaugeSim]:
    """The I/O module: unit 10, the siren on coil 0."""
    with GaugeSim("--unit", "10") as sim:
        yield sim


def remote_siren(module: GaugeSim) -> str:
    return f"""
[modbus.buses.rs485]
port = "{module.url}"
timeout_s = 0.2
quiet_s = 0.0

[[sirens]]
id = "{SIREN}"
bus = "rs485"
unit = 10
coil = 0
max_on_s = 60
"""


@pytest.fixture
async def run(tmp_path: Path, module: GaugeSim) -> AsyncIterator[StationRun]:
    async with StationRun(sim_config(tmp_path, remote_siren(module))) as station_run:
        yield station_run


def coil_on(module: GaugeSim) -> bool:
    return module.status(10)["coils"][0] == "1"


def requests(module: GaugeSim) -> int:
    return int(module.status(10)["requests"])


async def outputs_api(run: StationRun) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=create_app(run.station))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        reply = await client.get("/api/v1/outputs", headers=SIM_VIEWER)
    return {o["id"]: o for o in reply.json()["outputs"]}


def events(run: StationRun, *kinds: str) -> list[str]:
    return [e["kind"] for e in run.events() if e["source"] == SIREN and e["kind"] in kinds]


async def idle(run: StationRun) -> None:
    """Until no attempt on the siren is on the wire."""
    output = run.station.outputs[SIREN]
    await until("the attempt on the wire to end", lambda: not output.lock.locked())


def test_backoff_and_chatter_guard_as_plain_rules() -> None:
    assert [retry_delay_s(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert retry_delay_s(10_000) == 30
    guard = ChatterGuard(1.0)
    assert guard.wait_s(True, 5.0) == 0.0, "never switched: no wait"
    guard.switched(5.0)
    assert guard.wait_s(True, 5.25) == 0.75
    assert guard.wait_s(False, 5.25) == 0.0, "OFF is never held back"
    assert guard.wait_s(True, 6.0) == 0.0


async def test_a_module_silent_at_start_is_a_fault_retried_with_backoff_then_confirmed_off(
    tmp_path: Path, module: GaugeSim,
) -> None:
    module.command("coil 10 0 1")  # left ON by a killed predecessor
    module.command("fault 10 silence")
    async with StationRun(sim_config(tmp_path, remote_siren(module))) as run:
        health, clock = run.station.health, run.clock
        output = run.station.outputs[SIREN]
        siren = await until("the first attempt to fail",
                            lambda: health.get(SIREN).status == "fault" and health.get(SIREN))
        await idle(run)
        assert siren.detail.startswith("cannot switch off: ")
        await until("the fault LED to light",
                    lambda: run.station.outputs["panel.fault_led"].switch.is_on)
        assert (await outputs_api(run))[SIREN]["state"] == "unknown", "never 'off' unconfirmed"
        assert requests(module) == 1
        for delay in (1, 2, 4):  # no attempt before the backoff is over, one right after
            await clock.advance(delay - 0.3)
            await idle(run)
            assert requests(module) == output.failures
            await clock.advance(0.6)
            await until("the next attempt", lambda d=delay: requests(module) == d.bit_length() + 1)
            await idle(run)
        assert output.failures == 4 and "4 attempts" in health.get(SIREN).detail
        assert coil_on(module)
        module.command("fault 10 none")
        await clock.advance(8.3)
        await until("the module to confirm OFF", lambda: health.get(SIREN).status == "ok")
        assert not coil_on(module)
        assert health.get(SIREN).detail == "off"
        assert (await outputs_api(run))[SIREN] | {"max_on_s": 0} == {
            "id": SIREN, "kind": "siren", "state": "off", "on": False, "wanted": "off",
            "failed_attempts": 0, "max_on_s": 0, "cut_count": 0}
        await run.settled_events()
        assert events(run, "output.failed", "output.recovered", "output.switching") == [
            "output.switching", "output.failed", "output.recovered"], "journaled once each"
        recovered = next(e for e in run.events("output.recovered"))
        assert recovered["data"]["failed_attempts"] == 4
        await until("the fault LED to go out",
                    lambda: not run.station.outputs["panel.fault_led"].switch.is_on)


async def test_a_failing_maximum_on_time_cut_is_no_flood(
    run: StationRun, module: GaugeSim,
) -> None:
    outputs, clock = run.station.outputs, run.clock
    await until("the coil confirmed OFF at start", lambda: outputs[SIREN].state == "off")
    await idle(run)
    await clock.advance(1.0)  # the chatter guard counts the OFF written at start
    await outputs.set(SIREN, True, actor="test", reason="test")
    assert coil_on(module) and outputs[SIREN].state == "on"
    module.command("fault 10 silence")
    before = requests(module)
    for _ in range(5 * 60):  # five minutes, a second at a time; the cut comes at 60 s
        await clock.advance(1.0)
        await idle(run)
    attempts = requests(module) - before
    assert 8 <= attempts <= 16, "1, 2, 4 … 30 s apart: 15 in five minutes, not 1200"
    await run.settled_events()
    # OFF at start, ON by the test; the read-back (every 10 s) finds the module silent:
    # the siren is unknown, ON is asserted again and fails (journaled once); the cut
    # comes while it keeps failing, and is journaled once.
    assert events(run, "fault.max_on_time", "output.failed", "output.switching") == [
        "output.switching", "output.switching", "output.switching", "output.failed",
        "fault.max_on_time"]
    assert outputs[SIREN].cut_count == 1
    assert run.station.health.get(SIREN).status == "fault"
    module.command("fault 10 none")
    await clock.advance(31)
    await until("the cut to be confirmed", lambda: outputs[SIREN].state == "off")
    assert not coil_on(module)


async def test_a_coil_found_on_between_switches_is_driven_off_again(
    run: StationRun, module: GaugeSim,
) -> None:
    outputs, clock = run.station.outputs, run.clock
    await until("the coil confirmed OFF at start", lambda: outputs[SIREN].state == "off")
    module.command("coil 10 0 1")  # switched at the module (or its power-on default)
    await clock.advance(10.0)
    await until("the read-back to find it ON", lambda: run.events("output.found"))
    await clock.advance(0.3)
    await until("the coil driven OFF again", lambda: not coil_on(module)
                and outputs[SIREN].state == "off")
    [found] = run.events("output.found")
    assert found["data"] == {"state": "on", "wanted": "off"}


async def test_a_relay_is_never_switched_on_sooner_than_its_interval(run: StationRun) -> None:
    import asyncio

    outputs, clock = run.station.outputs, run.clock
    history = run.station.gpio.factory.history
    relay: Output = outputs["siren-1"]  # a GPIO siren relay: 1 s by default
    assert relay.min_switch_s == 1.0
    t0 = clock.monotonic()

    def request(on: bool) -> asyncio.Task[None]:
        return asyncio.create_task(outputs.set("siren-1", on, actor="test", reason="bug"))

    pending = [request(True)]
    await clock.advance(0.1)
    pending.append(request(False))  # OFF at once
    await clock.advance(0.1)
    pending.append(request(True))  # held back to 1.1 …
    await clock.advance(0.3)
    pending.append(request(True))  # … and this one, the last, wins
    await clock.advance(0.7)
    pending.append(request(False))  # 1.2: OFF inside the interval, at once
    await clock.advance(0.1)
    pending.append(request(True))  # held back to 2.2 …
    await clock.advance(0.2)
    pending.append(request(False))  # … and dropped by this OFF
    await clock.advance(3.0)
    await asyncio.gather(*pending)
    changes = [(round(c.t - t0, 3), c.level) for c in history if c.pin == 16 and c.t >= t0]
    assert changes == [(0.0, True), (0.1, False), (1.1, True), (1.2, False)]
