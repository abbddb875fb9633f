"""``station-edge safe-off`` works from anything: GPIO relays and the remote siren's coil
OFF from a valid file, a broken one, the daemon's last good copy, or nothing but text.

The I/O module is the real simulator, running on its own as a module in a far village
does; each case first switches its coil ON from the module's side and latches the
relays ON (as a Pi's kernel keeps them after ``kill -9``), then reads both back after
safe-off has run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gauge_sim_process import GaugeSim

from drivers.gpio import PinLatch
from edge import cli
from edge.config import parse
from edge.last_good_config import save_last_good
from edge.sim.station import sim_config_text

pytestmark = pytest.mark.waits  # on a simulated line's silences: see tests/conftest.py

RELAYS = (5, 12, 13, 16, 19, 23, 24, 25)  # LEDs, buzzer, siren-1, amplifier power and zones


@pytest.fixture(scope="module")
def module() -> Iterator[GaugeSim]:
    """The remote I/O module (unit 10, the siren's coil 0) on its own RS-485 line."""
    with GaugeSim("--unit", "10") as sim:
        yield sim


def valid_text(data_dir: Path, module: GaugeSim) -> str:
    return sim_config_text(data_dir, "127.0.0.1:0", 1.0, {"gauge_port": module.url})


def truncated(text: str) -> str:
    """Cut mid-string after the RS-485 line, as a half-saved edit."""
    return text[:text.index('name = "后山') + 10]


def not_utf8(text: str) -> bytes:
    return text.encode().replace("沙沟镇".encode(), b"\xff\xfe\xfd", 1)


BROKEN: dict[str, Callable[[str], str | bytes]] = {
    "truncated": truncated,
    "not UTF-8": not_utf8,
    "duplicated table": lambda text: text + '\n[gpio]\nbackend = "mock"\n',
    "nested deeply": lambda text: text + "\nx = " + "[" * 5000 + "]" * 5000 + "\n",
    "unknown key": lambda text: text.replace("[gpio]", "[gpio]\nbakend = 1"),
    "a number too long to read": lambda text: text + "\nx = " + "9" * 5000 + "\n",
}


def leave_everything_on(data_dir: Path, module: GaugeSim) -> None:
    latch = PinLatch(data_dir / "sim-gpio-latch.json")
    for pin in RELAYS:
        latch.write(pin, True)
    module.command("coil 10 0 1")
    assert module.status(10)["coils"].startswith("1")


def safe_off(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["safe-off", "--timeout", "1", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def assert_all_off(data_dir: Path, module: GaugeSim) -> None:
    latched = PinLatch(data_dir / "sim-gpio-latch.json").read()
    assert {pin: latched[pin] for pin in RELAYS} == dict.fromkeys(RELAYS, False)
    assert module.status(10)["coils"].startswith("0"), "the siren's coil read back OFF"


@pytest.mark.parametrize("variant", BROKEN)
def test_a_broken_file_still_drives_every_output_it_names_off(
    tmp_path: Path, module: GaugeSim, capsys: pytest.CaptureFixture[str], variant: str,
) -> None:
    data_dir = tmp_path / "data"
    broken = BROKEN[variant](valid_text(data_dir, module))
    path = tmp_path / "config.toml"
    path.write_bytes(broken if isinstance(broken, bytes) else broken.encode())
    leave_everything_on(data_dir, module)
    code, out, err = safe_off(capsys, "--config", str(path))
    assert code == 0, err
    assert "does not validate" in err and "no usable copy of a last good configuration" in err
    assert "siren-2 (rs485 unit 10 coil 0), read back" in out
    assert_all_off(data_dir, module)


def test_a_file_that_names_nothing_falls_back_on_the_last_good_copy(
    tmp_path: Path, module: GaugeSim, capsys: pytest.CaptureFixture[str],
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    save_last_good(parse(valid_text(data_dir, module)))
    path = tmp_path / "config.toml"
    path.write_text(f'[station]\ndata_dir = "{data_dir}"\n[panel\n')  # found by its text
    for args in (["--config", str(path)],
                 ["--config", str(tmp_path / "gone.toml"), "--data-dir", str(data_dir)]):
        leave_everything_on(data_dir, module)
        code, out, err = safe_off(capsys, *args)
        assert code == 0, err
        assert f"last started with: {data_dir / 'config.last-good.json'}" in err
        assert "amplifier.power (pin 23)" in out and "siren-2" in out
        assert_all_off(data_dir, module)


def test_an_unusable_copy_is_named_and_a_line_that_breaks_is_one_not_off_line(
    tmp_path: Path, module: GaugeSim, capsys: pytest.CaptureFixture[str],
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "config.last-good.json").write_text("[" * 100_000)
    text = valid_text(data_dir, module).replace("[[sirens]]", """[[sirens]]
id = "siren-9"
bus = "loop"
unit = 10
coil = 0

[modbus.buses.loop]
port = "loop://"

[[sirens]]""", 1)
    path = tmp_path / "config.toml"
    path.write_text(text + "\n[gpio\n")  # does not parse: its text is read
    leave_everything_on(data_dir, module)
    code, out, err = safe_off(capsys, "--config", str(path))
    assert code == 1
    assert f"{data_dir / 'config.last-good.json'} is not usable: invalid JSON" in err
    [failure] = [line for line in err.splitlines() if line.startswith("NOT OFF:")]
    assert failure.startswith("NOT OFF: siren-9 (loop unit 10 coil 0) on loop://")
    assert "siren-2 (rs485 unit 10 coil 0), read back" in out
    assert_all_off(data_dir, module)


def test_a_coil_that_cannot_be_reached_is_reported_and_fails_the_command(
    tmp_path: Path, module: GaugeSim, capsys: pytest.CaptureFixture[str],
) -> None:
    data_dir = tmp_path / "data"
    path = tmp_path / "config.toml"
    path.write_text(valid_text(data_dir, module))
    leave_everything_on(data_dir, module)
    module.command("fault 10 silence")
    try:
        code, out, err = safe_off(capsys, "--config", str(path))
    finally:
        module.command("fault 10 none")
    assert code == 1
    [failure] = [line for line in err.splitlines() if line.startswith("NOT OFF:")]
    assert failure.startswith("NOT OFF: siren-2 (rs485 unit 10 coil 0) on socket://")
    assert "did not answer" in failure
    assert "amplifier.power (pin 23)" in out, "every other output is still driven OFF"
    assert not any(PinLatch(data_dir / "sim-gpio-latch.json").read().values())


def test_check_config_refuses_deep_nesting_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "deep.toml"
    path.write_text('[station]\nid = "A"\nname = "a"\nx = ' + "[" * 5000 + "]" * 5000 + "\n")
    assert cli.main(["check-config", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [f"{path}: TOML syntax: arrays or tables nested too deeply to "
                                "read (a station's config nests a few levels)"]
