"""The gauge simulator as a device: profiles, pty line, control channels, start-up errors."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from gauge_sim_process import SIM, GaugeSim

from drivers.modbus_bus import DeviceRefused, ModbusBus, NoReply

pytestmark = pytest.mark.waits  # on a simulated line's silences: see tests/conftest.py


def test_a_storm_delivers_its_total_on_the_fast_clock() -> None:
    # 80 mm over 60 simulated seconds; at 10^6 x the storm is over at once.
    with GaugeSim("--unit", "1", "--rain", "storm:80:60", "--time-scale", "1e6") as sim:
        assert float(sim.status(1)["rain_mm"]) == pytest.approx(80.0)
        assert sim.raw(1) == 800


def test_csv_and_constant_profiles_per_unit(tmp_path: Path) -> None:
    series = tmp_path / "rain.csv"
    series.write_text("seconds,mm\n0,0.5\n30,1.5\n# comment\n1e9,9\n")  # 1e9 s: never
    with GaugeSim(
        "--unit", f"1,rain=csv:{series}",
        "--unit", "2,rain=constant:36,scale_mm=0.0001,width=32",
        "--time-scale", "1e6",
    ) as sim:
        assert float(sim.status(1)["rain_mm"]) == pytest.approx(2.0)
        sim_s = float(sim.command("time").split("=")[1])
        rain = float(sim.status(2)["rain_mm"])
        assert rain >= 36 * sim_s / 3600          # 36 mm/h since start
        sim.command("profile 2 none")
        frozen = sim.status(2)["rain_mm"]
        assert sim.status(2)["rain_mm"] == frozen


async def test_a_pty_line_carries_modbus() -> None:
    with GaugeSim("--unit", "5,start=77", pty=True) as sim:
        assert sim.url.startswith("/dev/pts/")
        bus = ModbusBus(sim.url, baudrate=19200, timeout_s=0.2)
        try:
            assert await bus.read_holding_registers(5, 0, 1) == [77]
            with pytest.raises(NoReply):
                await bus.read_holding_registers(6, 0, 1)
        finally:
            await bus.close()


async def test_an_8e1_line_goes_over_socket() -> None:
    with GaugeSim("--unit", "1,start=9", "--baud", "19200", "--parity", "E") as sim:
        bus = ModbusBus(sim.url, baudrate=19200, parity="E", timeout_s=0.2)
        try:
            assert await bus.read_holding_registers(1, 0, 1) == [9]
            with pytest.raises(ValueError, match=r"1\.\.247"):
                await bus.read_holding_registers(0, 0, 1)
        finally:
            await bus.close()


async def test_the_three_gauge_models_register_maps() -> None:
    with GaugeSim("--unit", "1,model=xm9505", "--unit", "2,model=dfrobot-sen0575",
                  "--unit", "3,model=lambrecht-rain-e,start=2999000") as sim:
        sim.command("rain * 6.5536")
        bus = ModbusBus(sim.url, timeout_s=0.3)
        try:
            assert await bus.read_holding_registers(1, 0, 1) == [65]
            # 65536 counts of 0.0001 mm, low word first at 0x0008
            assert await bus.read_input_registers(2, 8, 2) == [0x0000, 0x0001]
            # high word first at wire address 31101, rolling over at 3 000 000 counts
            assert await bus.read_input_registers(3, 31101, 2) == [0, 5553]
            sim.command("error 3 on")
            sim.command("sensor 3 fault 0x20")
            assert await bus.read_input_registers(3, 31101, 2) == [0xFF67, 0x6981]
            assert await bus.read_input_registers(3, 34901, 1) == [0x20]
            with pytest.raises(DeviceRefused):
                await bus.read_input_registers(3, 31000, 1)
            sim.command("power 1 off")
            with pytest.raises(NoReply):
                await bus.read_holding_registers(1, 0, 1)
            sim.command("power 1 on 7")
            assert await bus.read_holding_registers(1, 0, 1) == [7]
        finally:
            await bus.close()
        assert sim.status(3)["error"] == "on"
        with pytest.raises(RuntimeError, match="no status register"):
            sim.command("sensor 1 fault")


def test_tcp_control_channel() -> None:
    with GaugeSim("--unit", "1", "--control") as sim:
        host, port = sim.extra["control"].split(":")
        with socket.create_connection((host, int(port)), timeout=5) as s, s.makefile("rw") as f:
            f.write("rain 1 1.2\nstatus 1\nfault 9 silence\nbogus\n")
            f.flush()
            replies = [f.readline().strip() for _ in range(4)]
    assert replies[0] == "OK"
    assert "raw=12" in replies[1]
    assert replies[2] == "ERR no unit 9"
    assert replies[3] == "ERR unknown command bogus"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--pty", "--parity", "E"], "pty refuses parity"),
        (["--listen", "socket://127.0.0.1:0", "--unit", "1,width=24"], "bad function or width"),
        (["--listen", "socket://127.0.0.1:0", "--unit", "0"], "1..247"),
        (["--listen", "socket://127.0.0.1:0", "--rain", "drizzle"], "bad rain profile"),
        (["--listen", "socket://127.0.0.1:0", "--unit", "1,model=bucket9"], "unknown model"),
    ],
)
def test_bad_start_up_arguments_fail_with_a_reason(args: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, str(SIM), *args], capture_output=True, text=True, timeout=10,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode != 0
    assert message in done.stderr


def test_sigterm_stops_it_cleanly() -> None:
    sim = GaugeSim("--unit", "1", "--stdin", "ignore")
    sim.process.send_signal(signal.SIGTERM)
    assert sim.process.wait(timeout=5) == 0
    sim.close()
