"""Bring-up commands while the daemon runs: they find it by the station lock and go
through its API (its local admin token) instead of fighting it for a port; a token made
with ``station-edge token add`` signs in at once and is refused once revoked.

One simulated station (``station-edge run --sim``, a child process with its simulators)
serves every test of this module.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from edge.cli import main
from tests.helpers import SIM_OPERATOR, SimStationProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimStationProcess]:
    running = SimStationProcess(tmp_path_factory.mktemp("bringup") / "data", time_scale=10)
    try:
        running.wait_ready()
        deadline = time.monotonic() + 30
        while running.get("/api/v1/health").json()["status"] != "ok":  # type: ignore[attr-defined]
            assert time.monotonic() < deadline, running.get("/api/v1/health").json()  # type: ignore[attr-defined]
            time.sleep(0.1)
        yield running
        assert running.stop() == 0
    finally:
        running.kill()  # whatever happened: the station and its simulators die with the module


def cli(capsys: pytest.CaptureFixture[str], station: SimStationProcess,
        *args: str) -> tuple[int, str, str]:
    code = main([*args, "--config", str(station.data_dir / "config.toml")])
    out, err = capsys.readouterr()
    return code, out, err


def test_devices_come_from_the_daemons_health(capsys: pytest.CaptureFixture[str],
                                              station: SimStationProcess) -> None:
    code, out, err = cli(capsys, station, "devices")
    assert code == 0, err
    assert f"daemon running (pid {station.process.pid}): going through its API" in out
    rows = {line.split()[0]: line for line in out.splitlines() if line and line[0] != "-"}
    assert "registered, signal" in rows["sat_phone"]
    assert "rs485 unit 1 holding 0" in rows["rg-1"] and "answering" in rows["rg-1"]
    assert "BCM16 (pin 36)" in rows["siren-1"]


def test_outputs_sirens_and_audio_are_switched_by_the_daemon(
        capsys: pytest.CaptureFixture[str], station: SimStationProcess) -> None:
    code, out, err = cli(capsys, station, "test", "output", "amplifier.zone-25",
                         "--seconds", "0.3")
    assert code == 0, err
    assert "the daemon switched amplifier.zone-25 ON" in out
    assert "amplifier.zone-25 OFF (the daemon confirms)" in out
    code, out, err = cli(capsys, station, "test", "siren", "siren-2", "--seconds", "0.2")
    assert code == 0, err
    code, out, err = cli(capsys, station, "test", "audio", "--zone", "south", "--tone")
    assert code == 0, err
    assert "the daemon accepted broadcast" in out and "broadcast done" in out
    events = station.get("/api/v1/events?kind=output.test&limit=100").json()["events"]  # type: ignore[attr-defined]
    assert [(e["source"], e["actor"]) for e in events] == [
        ("amplifier.zone-25", "local-cli"), ("siren-2", "local-cli")], "the local token"


def test_a_weaker_token_is_refused_for_actuation(capsys: pytest.CaptureFixture[str],
                                                 station: SimStationProcess) -> None:
    code, _, err = cli(capsys, station, "test", "output", "siren-1", "--token", "sim-operator")
    assert code == 1 and "(403)" in err and "needs an admin token" in err
    code, _, err = cli(capsys, station, "modbus", "poll", "rs485", "1", "--token", "nope")
    assert code == 1 and "the daemon refused the token (401)" in err


def test_modbus_goes_through_the_daemons_bus(capsys: pytest.CaptureFixture[str],
                                             station: SimStationProcess) -> None:
    code, out, err = cli(capsys, station, "modbus", "poll", "rs485", "2")
    assert code == 0, err
    assert "(the daemon's bus)" in out and "rg-2: counter" in out
    code, out, err = cli(capsys, station, "modbus", "scan", "rs485", "--units", "9-10")
    assert code == 0 and "found 1 unit(s): 10" in out, err
    code, out, err = cli(capsys, station, "modbus", "poll", "rs485", "3")
    assert code == 1 and "[no_reply]" in out and "1 of 1 polls failed" in err


def test_the_terminal_is_asked_through_the_daemons_channel(
        capsys: pytest.CaptureFixture[str], station: SimStationProcess) -> None:
    code, out, err = cli(capsys, station, "modem", "info")
    assert code == 0, err
    assert "IMEI          300234010753370" in out and "signal        " in out
    code, out, err = cli(capsys, station, "modem", "at", "AT+CGMM")
    assert code == 0 and "9555 Satellite Handset" in out, err
    code, _, err = cli(capsys, station, "modem", "at", "AT+CMGS=12")
    assert code == 1 and "SMS text entry is not a bring-up question" in err


def test_gpio_watch_follows_the_daemons_inputs(capsys: pytest.CaptureFixture[str],
                                               station: SimStationProcess) -> None:
    def press() -> None:
        time.sleep(0.5)
        for level in (0, 1):
            station.post("/api/v1/sim/gpio/6", {"level": level}, headers=SIM_OPERATOR)
            time.sleep(0.2)

    finger = threading.Thread(target=press)
    finger.start()
    try:
        code, out, err = cli(capsys, station, "gpio", "watch", "--count", "2", "--seconds", "20")
    finally:
        finger.join()
    assert code == 0, err
    assert re.search(r"ha-1 BCM6 \(pin 31\): pressed \(pulled low\)\n.*ha-1 BCM6 \(pin 31\): "
                     r"released \(high\)", out), out


def test_a_new_token_signs_in_at_once_and_is_refused_once_revoked(
        capsys: pytest.CaptureFixture[str], station: SimStationProcess) -> None:
    code, out, err = cli(capsys, station, "token", "add", "duty-pc", "--role", "operator")
    assert code == 0, err
    secret = re.search(r"secret \(shown only now[^)]*\): ([0-9a-f]{32})", out).group(1)  # type: ignore[union-attr]
    assert secret not in (station.data_dir / "api-tokens.json").read_text()
    url = f"{station.base_url}/api/v1/health"
    assert httpx.get(url, headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    panel = httpx.Client(base_url=station.base_url)
    signed = panel.post("/api/v1/sign-in", json={"token": secret})
    assert signed.status_code == 200, signed.text
    assert panel.get("/api/v1/health").status_code == 200, "the panel session works"
    code, out, _ = cli(capsys, station, "token", "list")
    assert re.search(r"duty-pc +operator +\S+api-tokens.json", out)
    assert re.search(r"sim-admin +admin +\S+config.toml \[\[api.tokens\]\]", out)
    code, _, _ = cli(capsys, station, "token", "revoke", "duty-pc")
    assert code == 0
    assert httpx.get(url, headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert panel.get("/api/v1/health").status_code == 401, "its panel session ends with it"
    panel.close()
    code, _, err = cli(capsys, station, "token", "revoke", "sim-admin")
    assert code == 1 and "delete that [[api.tokens]] block" in err


def test_the_daemon_writes_who_holds_the_station(station: SimStationProcess) -> None:
    lock = Path(station.data_dir / "station.lock").read_text()
    assert f'"pid": {station.process.pid}' in lock and '"what": "daemon"' in lock
    assert f"127.0.0.1:{station.port}" in lock
