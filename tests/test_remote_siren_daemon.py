"""A remote siren through the real daemon, with the I/O-module simulator running on its
own as a module in a far village does: what a killed daemon left ON stays ON in the
module until ``safe-off`` or the next start writes it OFF.

The issue's row: a coil ON, ``kill -9``, ``safe-off``, restart -- the coil stayed ON for
good while health and ``/outputs`` said it was off.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gauge_sim_process import GaugeSim

from drivers.gpio import PinLatch
from tests.helpers import SIM_ADMIN, SimStationProcess, sim_config_text_for, wait_for

pytestmark = pytest.mark.slow
StartStation = Callable[..., SimStationProcess]


@pytest.fixture
def module() -> Iterator[GaugeSim]:
    """The station's RS-485 line: its two gauges and the I/O module (unit 10, coil 0)."""
    with GaugeSim("--unit", "1", "--unit", "2,function=input,width=32,word_order=little",
                  "--unit", "10") as sim:
        yield sim


def coil_on(module: GaugeSim) -> bool:
    return module.status(10)["coils"][0] == "1"


def siren_state(station: SimStationProcess) -> str:
    outputs = station.get("/api/v1/outputs").json()["outputs"]
    return str(next(o["state"] for o in outputs if o["id"] == "siren-2"))


def test_a_remote_siren_left_on_by_kill_9_is_off_after_safe_off_and_at_the_next_start(
    tmp_path: Path, sim_station: StartStation, module: GaugeSim,
) -> None:
    def config(data_dir: Path, listen: str) -> str:
        return sim_config_text_for(data_dir, listen=listen, devices={"gauge_port": module.url})

    station = sim_station(config=config)
    wait_for("siren-2 confirmed off", lambda: siren_state(station) == "off")
    for output in ("siren-2", "amplifier.power"):
        reply = station.post(f"/api/v1/outputs/{output}/test", {"seconds": 60},
                             headers=SIM_ADMIN)
        assert reply.status_code == 202
    assert siren_state(station) == "on" and coil_on(module)
    station.kill()
    assert coil_on(module), "the module keeps its coil ON"
    latch = PinLatch(station.data_dir / "sim-gpio-latch.json")
    assert latch.read()[23], "the kernel keeps the relay ON"

    # The file is half-saved when systemd runs safe-off: the daemon's copy is used.
    broken = tmp_path / "broken.toml"
    broken.write_text(f'[station]\ndata_dir = "{station.data_dir}"\n[amplifier\n')
    result = subprocess.run([sys.executable, "-m", "edge.cli", "safe-off", "--config",
                             str(broken)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "siren-2 (rs485 unit 10 coil 0), read back" in result.stdout
    assert not coil_on(module) and not any(latch.read().values())

    module.command("coil 10 0 1")  # ON again, behind the station's back
    again = sim_station(config=config)
    wait_for("siren-2 confirmed off at start", lambda: siren_state(again) == "off")
    assert not coil_on(module)
    starts = [e for e in again.events("output.switching") if e["source"] == "siren-2"]
    assert starts[-1]["data"] == {"to": "off", "reason": "station start: not confirmed off"}
    assert again.stop() == 0
