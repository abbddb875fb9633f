"""Bring-up commands with the daemon stopped: each opens the devices itself, against the
simulators of hw-sim/ (Modbus gauges and an I/O module over socket://, the satellite
terminal on a pty), and each fails with its reason: device absent, wrong unit, port busy,
another command holding the station.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from edge.cli import main
from edge.sim.simulators import Simulator
from edge.sim.station import sim_config_text
from edge.station_lock import Holder, StationLock
from tests.gauge_sim_process import GaugeSim

pytestmark = pytest.mark.waits  # on a simulated line's silences: see tests/conftest.py

UNITS = ["--unit", "1", "--unit", "2,function=input,width=32,word_order=little,scale_mm=0.01",
         "--unit", "10"]


@pytest.fixture(scope="module")
def gauges() -> Iterator[GaugeSim]:
    with GaugeSim(*UNITS) as sim:
        yield sim


@pytest.fixture(scope="module")
def modem(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    link = tmp_path_factory.mktemp("modem") / "tty"
    sim = Simulator("at_modem_sim.py", ["--personality", "iridium", "--csq-delay", "0.1",
                                        "--link", str(link)])
    try:
        yield str(link), int(sim.address.partition(" control=")[2])
    finally:
        sim.stop()


def control(port: int, **request: object) -> dict[str, object]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s, \
            s.makefile("rw") as stream:
        stream.write(json.dumps(request) + "\n")
        stream.flush()
        reply: dict[str, object] = json.loads(stream.readline())
    assert reply["ok"], reply
    return reply


def station_config(tmp_path: Path, gauges: GaugeSim, modem_port: str,
                   **replace: str) -> Path:
    """The simulated station's config on these simulators, ten times faster than real."""
    text = sim_config_text(tmp_path / "data", "127.0.0.1:0", 10.0,
                           {"gauge_port": gauges.url, "modem_port": modem_port})
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def config(tmp_path: Path, gauges: GaugeSim, modem: tuple[str, int]) -> Path:
    return station_config(tmp_path, gauges, modem[0])


# -- Modbus ----------------------------------------------------------------------------


def test_modbus_poll_shows_raw_registers_and_the_gauges_reading(
        capsys: pytest.CaptureFixture[str], config: Path, gauges: GaugeSim) -> None:
    gauges.command("reset 1")
    gauges.command("rain 1 12.3")
    code, out, _ = cli(capsys, "modbus", "poll", "rs485", "1", "--repeat", "2",
                       "--interval", "0", "--config", str(config))
    assert code == 0, out
    assert "daemon not running: using the devices directly" in out
    assert "123 (0x007B)" in out
    assert "counter 123 × 0.1 mm = 12.3 mm" in out
    assert "2 polls: 2 answered; errors by kind: none" in out


def test_modbus_poll_of_a_unit_that_is_not_there_fails_with_no_reply(
        capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, out, err = cli(capsys, "modbus", "poll", "rs485", "7", "--config", str(config))
    assert code == 1
    assert "unit 7: no reply within 0.3 s [no_reply]" in out
    assert "modbus poll: failed: 1 of 1 polls failed (no_reply" in err


def test_modbus_scan_finds_the_units_and_fails_on_an_empty_range(
        capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, out, err = cli(capsys, "modbus", "scan", "rs485", "--units", "1-3,10",
                         "--timeout", "0.1", "--config", str(config))
    assert code == 0, err
    assert "found 3 unit(s): 1, 2, 10" in out
    assert "unit 10 answers" in out and "siren siren-2" in out
    code, _, err = cli(capsys, "modbus", "scan", "rs485", "--units", "20-21", "--timeout",
                       "0.1", "--config", str(config))
    assert code == 1 and "no unit answered on rs485 (units 20-21)" in err


def test_a_modbus_port_that_is_absent_or_busy_is_named_as_such(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, gauges: GaugeSim,
        modem: tuple[str, int]) -> None:
    absent = station_config(tmp_path, gauges, modem[0],
                            **{gauges.url: str(tmp_path / "station-rs485")})
    code, _, err = cli(capsys, "modbus", "poll", "rs485", "1", "--config", str(absent))
    assert code == 1 and "station-rs485 does not exist" in err
    with GaugeSim(*UNITS, pty=True) as on_pty:
        busy = station_config(tmp_path, gauges, modem[0], **{gauges.url: on_pty.url})
        fd = os.open(on_pty.url, os.O_RDWR | os.O_NOCTTY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # as minicom or a second daemon would
            code, _, err = cli(capsys, "modbus", "poll", "rs485", "1", "--config", str(busy))
            assert code == 1 and f"{on_pty.url} is busy: another program holds it" in err
            fcntl.flock(fd, fcntl.LOCK_UN)
            code, out, _ = cli(capsys, "modbus", "poll", "rs485", "1", "--config", str(busy))
            assert code == 0 and "unit 1 answered" in out, "the same line free again"
        finally:
            os.close(fd)


# -- the satellite terminal ------------------------------------------------------------


def test_modem_info_and_one_at_question(capsys: pytest.CaptureFixture[str], config: Path,
                                        modem: tuple[str, int]) -> None:
    code, out, err = cli(capsys, "modem", "info", "--config", str(config))
    assert code == 0, err
    for expected in ("model         9555 Satellite Handset", "IMEI          300234010753370",
                     "SIM (IMSI)    901031234567890", "registered (home)",
                     "SMS centre    +8613800100500", "SM: 0 of 30 messages stored"):
        assert expected in out
    code, out, _ = cli(capsys, "modem", "at", "AT+CSQF", "--config", str(config))
    assert code == 0 and "+CSQF:" in out and "\n  OK\n" in out
    code, _, err = cli(capsys, "modem", "at", "AT+NOSUCH", "--config", str(config))
    assert code == 1 and "AT+NOSUCH: +CME ERROR: 4 (operation not supported)" in err


def test_modem_info_without_a_sim_card_fails_saying_so(
        capsys: pytest.CaptureFixture[str], config: Path, modem: tuple[str, int]) -> None:
    control(modem[1], cmd="fault", name="no_sim")
    try:
        code, out, err = cli(capsys, "modem", "info", "--config", str(config))
    finally:
        control(modem[1], cmd="fault", name="no_sim", on=False)
    assert code == 1
    assert "SIM (IMSI)    +CME ERROR: 10 (SIM not inserted)" in out
    assert "the terminal refused: SIM (IMSI), SMS storage" in err


def test_a_terminal_port_that_is_absent_or_busy_is_named_as_such(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, gauges: GaugeSim,
        modem: tuple[str, int]) -> None:
    absent = station_config(tmp_path, gauges, str(tmp_path / "station-satphone"))
    code, _, err = cli(capsys, "modem", "at", "AT", "--config", str(absent))
    assert code == 1 and "station-satphone does not exist" in err
    config = station_config(tmp_path, gauges, modem[0])
    fd = os.open(os.path.realpath(modem[0]), os.O_RDWR | os.O_NOCTTY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        code, _, err = cli(capsys, "modem", "at", "AT", "--config", str(config))
    finally:
        os.close(fd)
    assert code == 1 and "is busy: another program holds it" in err


# -- outputs, sirens, audio ------------------------------------------------------------


def events(data_dir: Path, kind: str) -> list[dict[str, object]]:
    import sqlite3

    with sqlite3.connect(data_dir / "journal.db") as conn:
        rows = conn.execute("SELECT source, actor, data FROM events WHERE kind = ? ORDER BY seq",
                            (kind,)).fetchall()
    return [{"source": s, "actor": a, **json.loads(d)} for s, a, d in rows]


def test_test_output_switches_one_relay_on_and_off_journaled(
        capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path) -> None:
    code, out, err = cli(capsys, "test", "output", "siren-1", "--seconds", "0.3",
                         "--config", str(config))
    assert code == 0, err
    assert "siren-1 is wired to BCM16 (pin 36)" in out
    switched = [(e["source"], e["to"]) for e in events(tmp_path / "data", "output.switched")
                if e["actor"] == "cli"]
    assert ("siren-1", "on") in switched and switched[-1] != ("siren-1", "on")
    latch = json.loads((tmp_path / "data" / "sim-gpio-latch.json").read_text())
    assert latch["16"] is False, "the relay is OFF at the end"
    code, _, err = cli(capsys, "test", "output", "siren-9", "--config", str(config))
    assert code == 1 and "no output 'siren-9' in the config; outputs: amplifier.power" in err


def test_test_siren_on_a_far_module_reads_the_coil_back(
        capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path, gauges: GaugeSim,
        modem: tuple[str, int]) -> None:
    code, out, err = cli(capsys, "test", "siren", "siren-2", "--seconds", "0.2",
                         "--config", str(config))
    assert code == 0, err
    assert "read back: unit 10 confirms coil 0 is ON" in out
    assert "read back: unit 10 confirms coil 0 is OFF" in out
    wrong = station_config(tmp_path, gauges, modem[0],
                           **{'unit = 10\ncoil = 0': 'unit = 11\ncoil = 0'})
    code, _, err = cli(capsys, "test", "siren", "siren-2", "--config", str(wrong))
    assert code == 1 and "siren-2: cannot switch on: rs485: unit 11 did not answer" in err
    code, _, err = cli(capsys, "test", "siren", "ha-1", "--config", str(config))
    assert code == 1 and "no siren 'ha-1' in the config; sirens: siren-1, siren-2" in err


def test_test_audio_plays_a_tone_on_one_zone(capsys: pytest.CaptureFixture[str], config: Path,
                                             tmp_path: Path) -> None:
    code, out, err = cli(capsys, "test", "audio", "--zone", "north", "--tone",
                         "--config", str(config))
    assert code == 0, err
    assert "amplifier warming" in out and "amplifier on" in out
    (wav_path,) = (tmp_path / "data" / "audio-out").glob("*.wav")
    with wave.open(str(wav_path)) as wav:
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    spectrum = np.abs(np.fft.rfft(samples.astype(float)))
    assert abs(np.argmax(spectrum) * rate / len(samples) - 1000.0) < 5.0, "a 1 kHz tone"
    zones = [e["source"] for e in events(tmp_path / "data", "output.switched")
             if e["to"] == "on" and str(e["source"]).startswith("amplifier.zone")]
    assert zones == ["amplifier.zone-24"], "north only"
    code, _, err = cli(capsys, "test", "audio", "--zone", "east", "--config", str(config))
    assert code == 1 and "no zone 'east'; zones: all, north, south" in err
    code, _, err = cli(capsys, "test", "audio", "--message", "nope", "--config", str(config))
    assert code == 1 and "unknown message 'nope'" in err


# -- devices, gpio watch, the station lock ---------------------------------------------


def test_devices_looks_at_every_device_and_names_the_silent_one(
        capsys: pytest.CaptureFixture[str], config: Path, gauges: GaugeSim) -> None:
    code, out, err = cli(capsys, "devices", "--config", str(config))
    assert code == 0, err + out
    rows = {line.split()[0]: line for line in out.splitlines() if line and line[0] != "-"}
    assert "released (high)" in rows["panel.evacuate_button"]
    assert "ok" in rows["rg-2"] and "answers in" in rows["rg-2"]
    assert "registered (home)" in rows["sat_phone"]
    assert "not driven while the daemon is stopped" in rows["siren-1"]
    gauges.command("fault 2 silence")
    try:
        code, out, err = cli(capsys, "devices", "--config", str(config))
    finally:
        gauges.command("fault 2 none")
    assert code == 1 and "1 device(s) not ok: rg-2 (offline: no reply within 0.3 s" in err


def test_gpio_watch_shows_the_levels_and_fails_when_nothing_moves(
        capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, out, err = cli(capsys, "gpio", "watch", "--seconds", "0.2", "--config", str(config))
    assert code == 1
    assert "now: panel.evacuate_button BCM17 (pin 11): released (high)" in out
    assert "now: ha-1 BCM6 (pin 31): released (high)" in out
    assert "no input changed: check the wiring" in err


async def test_watched_edges_are_printed_with_their_pin() -> None:
    import asyncio

    from edge.cli.console import Console
    from edge.cli.gpio import watch_edges
    from edge.wiring import WiredPin

    class Lines:
        def __init__(self) -> None:
            self.text = ""

        def write(self, s: str) -> None:
            self.text += s

        def flush(self) -> None:
            pass

    lines = Lines()
    queue: asyncio.Queue[tuple[float, WiredPin, bool]] = asyncio.Queue()
    pin = WiredPin(17, "panel.evacuate_button", "EVACUATE", "panel.evacuate_button", "input")
    for active in (True, False, True):
        queue.put_nowait((0.0, pin, active))
    seen = await watch_edges(queue, seconds=5.0, count=2, console=Console(lines))  # type: ignore[arg-type]
    assert seen == 2
    assert lines.text.count("panel.evacuate_button BCM17 (pin 11):") == 2
    assert "pressed (pulled low)" in lines.text and "released (high)" in lines.text


def test_a_command_holding_the_station_stops_the_next_one_and_the_daemon(
        capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path) -> None:
    import asyncio

    from drivers.clock import ManualClock
    from edge.config import load
    from edge.station import Station
    from edge.station_lock import StationBusy

    holder = Holder(os.getpid(), "station-edge modbus scan rs485")
    with StationLock(tmp_path / "data", holder):
        code, _, err = cli(capsys, "modbus", "poll", "rs485", "1", "--config", str(config))
        assert code == 1
        assert "`station-edge modbus scan rs485` (pid" in err and "wait until it has finished" \
            in err
        station = Station(load(config), ManualClock())
        with pytest.raises(StationBusy, match="station-edge modbus scan rs485"):
            asyncio.run(station.start())
    assert not (tmp_path / "data" / "sim-gpio-latch.json").exists(), "no pin was touched"


# -- sound devices ---------------------------------------------------------------------

ASOUNDRC = """
pcm.station_out {
    type null
}
pcm.!default {
    type null
}
"""


def test_audio_devices_lists_them_and_checks_the_configured_one(tmp_path: Path) -> None:
    """In a child process: PortAudio reads the ALSA configuration once, at import."""
    import subprocess
    import sys

    from tests.helpers import REPO

    (tmp_path / "asoundrc").write_text(ASOUNDRC)
    example = (REPO / "docs" / "config.example.toml").read_text(encoding="utf-8")
    env = {**os.environ, "ALSA_CONFIG_PATH": str(tmp_path / "asoundrc")}

    def devices(device: str) -> subprocess.CompletedProcess[str]:
        config = tmp_path / f"{device}.toml"
        config.write_text(example.replace('device = "default"', f'device = "{device}"', 1))
        return subprocess.run([sys.executable, "-m", "edge.cli", "audio", "devices", "--config",
                               str(config)], env=env, cwd=REPO, capture_output=True, text=True,
                              timeout=60, check=False)

    found = devices("station_out")
    assert found.returncode == 0, found.stderr
    assert "station_out" in found.stdout and "'station_out'" in found.stdout
    assert "[audio] device = 'station_out' opens #" in found.stdout
    missing = devices("USB Audio Device")
    assert missing.returncode == 1
    assert "[audio] device = 'USB Audio Device' finds no single output device" in missing.stderr


def test_a_usb_card_is_named_by_its_stable_alsa_id_not_its_number() -> None:
    from drivers.audio_devices import alsa_card_ids, describe

    cards = alsa_card_ids(" 0 [vc4hdmi0       ]: vc4-hdmi - vc4-hdmi-0\n"
                          "                      vc4-hdmi-0\n"
                          " 1 [Device         ]: USB-Audio - USB Audio Device\n")
    assert cards == {0: "vc4hdmi0", 1: "Device"}
    usb = describe({"name": "USB Audio Device: - (hw:1,0)", "index": 3, "hostapi": 0,
                    "max_output_channels": 2, "max_input_channels": 1,
                    "default_samplerate": 48000.0}, "ALSA", cards)
    assert usb.alsa == "hw:CARD=Device,DEV=0" and usb.config_name == "USB Audio Device"
