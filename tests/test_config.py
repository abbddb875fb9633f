"""A bad configuration is refused with the key path of every problem, and never starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edge.config import ConfigError, load, parse
from tests.helpers import REPO

MINIMAL = '''
[station]
id = "SG-001"
name = "沙沟镇应急管理站"
data_dir = "/tmp/x"
'''
HA1 = "0" * 32


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(text)
    return caught.value.problems


def test_the_documented_example_config_is_valid() -> None:
    config = load(REPO / "docs" / "config.example.toml")
    assert config.station.id == "SG-001"
    assert {s.id for s in config.sirens} == {"siren-1", "siren-2"}
    gauge = config.rain_gauges[0]
    assert (gauge.model, gauge.function, gauge.register_address, gauge.scale_mm) == (
        "xm9505", "holding", 0, 0.1)


def test_minimal_config_is_valid() -> None:
    config = parse(MINIMAL)
    assert config.amplifier is None and config.sirens == []


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ('[gpio]\nbakend = "mock"', 'gpio.bakend: unknown key "bakend"; did you mean "backend"?'),
        ('[amplifier]\npower_relay = 23\nwarmup_s = 20\nzones = {all=[24]}',
         "amplifier.warmup_s: must be 0..10, got 20"),
        ('[amplifier]\nwarmup_s = 1\nzones = {all=[24]}', "amplifier.power_relay: required"),
        ('[amplifier]\npower_relay = 40\nzones = {all=[24]}',
         "amplifier.power_relay: must be 0..27, got 40"),
        ('[amplifier]\npower_relay = "x"\nzones = {all=[24]}', "amplifier.power_relay:"),
        ('[amplifier]\npower_relay = 23\nzones = {}', "amplifier.zones:"),
        ('[modbus.buses.rs485]\nport = "/dev/ttyUSB0"\n[[rain_gauges]]\nid = "rg-1"\n'
         'bus = "rs485"\nunit = 0', "rain_gauges[0].unit: must be 1..247, got 0"),
        ('[[rain_thresholds]]\nwindow = "2h"\nprepare_mm = 1\nevacuate_mm = 2',
         "rain_thresholds[0].window: must be '10min'"),
        ('[audio]\nbackend = "pulse"', "audio.backend: must be 'sounddevice' or 'file'"),
        ('[api]\nlisten = "8080"', "api.listen: must be HOST:PORT"),
        ('[[api.tokens]]\nname = "c"\nrole = "root"\nsha256 = "' + "a" * 64 + '"',
         "api.tokens[0].role:"),
        ('[[api.tokens]]\nname = "c"\nrole = "viewer"\nsha256 = "secret"',
         "api.tokens[0].sha256: must match"),
        ('[sip]\nusername = "s"\nrealm = "r"\npassword_ha1 = "s3cret"',
         "sip.password_ha1: must match"),
    ],
)
def test_each_kind_of_bad_value_is_reported_with_its_key_path(snippet: str, expected: str) -> None:
    found = problems(MINIMAL + snippet)
    assert any(p.startswith(expected) for p in found), found


def test_every_problem_is_reported_at_once() -> None:
    found = problems(MINIMAL + '[gpio]\nbakend = 1\n[panel]\nhold_s = 99\nfault_led = -1\n')
    assert len(found) == 3
    assert {p.split(":")[0] for p in found} == {"gpio.bakend", "panel.hold_s", "panel.fault_led"}


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ('[panel]\nfault_led = 16\n[[sirens]]\nid = "s"\nrelay = 16',
         "sirens[0].relay: pin 16 is already used by panel.fault_led"),
        ('[amplifier]\npower_relay = 23\nzones = {all=[24, 25], north=[24]}\n'
         '[[hand_alarms]]\nid = "h"\npin = 25',
         "hand_alarms[0].pin: pin 25 is already used by amplifier.zones.all[1]"),
        ('[[sirens]]\nid = "s"\nbus = "nope"\nunit = 1\ncoil = 0',
         "sirens[0].bus: no such bus 'nope'"),
        ('[[sirens]]\nid = "s"\nrelay = 16\nbus = "b"', "sirens[0]: give either relay"),
        ('[[sirens]]\nid = "s"', "sirens[0]: give either relay"),
        ('[[sirens]]\nid = "x"\nrelay = 16\n[[hand_alarms]]\nid = "x"\npin = 6',
         "hand_alarms[0].id: 'x' is already used by sirens[0]"),
        ('[[rain_thresholds]]\ngauge = "rg-9"\nwindow = "1h"\nprepare_mm = 30\nevacuate_mm = 50',
         "rain_thresholds[0].gauge: no such gauge 'rg-9'"),
        ('[[rain_thresholds]]\nwindow = "1h"\nprepare_mm = 50\nevacuate_mm = 30',
         "rain_thresholds[0].evacuate_mm: must be above prepare_mm"),
        ('[gpio]\nbackend = "mock"', "gpio.backend: 'mock' only in a simulated station"),
        ('[api]\nlisten = "0.0.0.0:8080"', "api.allowed_hosts: required when listening on every"),
        ('[[api.tokens]]\nname = "c"\nrole = "admin"\nsha256 = '
         '"6a2a8a3bf554543fceb1d7cc344a872e16fd0617072c74c6af1872b342853bce"',
         "api.tokens[0].sha256: a simulator token is never accepted by a real station"),
        ('[sip]\nusername = "s"\npassword = "p"\nrealm = "r"\npassword_ha1 = "' + HA1 + '"',
         "sip.password: give password_ha1 or password, not both"),
        ('[sip]\nusername = "s"', "sip.password_ha1: required with username"),
        ('[sip]\nrtp_ports = [20000, 10000]', "sip.rtp_ports: must be [low, high]"),
        ('[sip]\npassword = "p"', "sip.username: required with password"),
        ('[sip]\nusername = "s"\npassword_ha1 = "' + HA1 + '"',
         "sip.realm: required with password_ha1"),
    ],
)
def test_problems_across_sections_are_reported(snippet: str, expected: str) -> None:
    found = problems(MINIMAL + snippet)
    assert any(p.startswith(expected) for p in found), found


def test_broken_toml_and_missing_file_are_reported(tmp_path: Path) -> None:
    assert problems("[station\nid=1")[0].startswith("(toml):")
    with pytest.raises(ConfigError) as caught:
        load(tmp_path / "absent.toml")
    assert caught.value.problems[0].startswith("(file): cannot read")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edge.cli", *args],
                          capture_output=True, text=True, timeout=60)


def test_check_config_exit_codes(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text(MINIMAL)
    bad.write_text(MINIMAL + '[panel]\nfault_led = 99\n[gpio]\nbakend = 1\n')
    ok = run_cli("check-config", str(good))
    assert ok.returncode == 0, ok.stderr
    refused = run_cli("check-config", str(bad))
    assert refused.returncode != 0
    assert refused.stderr.splitlines() == [
        'gpio.bakend: unknown key "bakend"; did you mean "backend"?',
        "panel.fault_led: must be 0..27, got 99",
    ]


def test_run_refuses_a_bad_config_without_touching_outputs(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(MINIMAL.replace("/tmp/x", str(tmp_path / "data"))
                   + '[sim]\n[gpio]\nbackend = "mock"\n[amplifier]\npower_relay = 23\n'
                   'zones = {all = [24]}\nhold_s = -1\n')
    result = run_cli("run", "--config", str(bad))
    assert result.returncode == 2
    assert "amplifier.hold_s: must be 0..3600, got -1" in result.stderr
    assert not (tmp_path / "data").exists(), "a refused config must not start anything"


def test_a_simulated_station_takes_its_identity_from_the_command_line(tmp_path: Path) -> None:
    from edge.cli import main
    from edge.sim.station import sim_config_text

    config = parse(sim_config_text(tmp_path, "127.0.0.1:0", 1.0, {}, {
        "station_id": "SIM-017", "station_name": "河口镇应急管理站（模拟）",
        "area_code": "421127102"}))
    assert (config.station.id, config.station.name) == ("SIM-017", "河口镇应急管理站（模拟）")
    assert config.cap is not None and config.cap.area_codes == ["421127102"]
    default = parse(sim_config_text(tmp_path, "127.0.0.1:0", 1.0, {}))
    assert default.cap is not None
    assert (default.station.id, default.cap.area_codes) == ("SIM-001", ["421127"])
    real = tmp_path / "real.toml"
    real.write_text(MINIMAL)
    assert main(["run", "--config", str(real), "--station-id", "SG-009"]) == 2, \
        "a real station's identity is its configuration's"


def test_cap_signatures_need_readable_certificates(tmp_path: Path) -> None:
    cap = '[cap]\narea_codes = ["421127"]\nrequire_signature = true\n'
    assert problems(MINIMAL + cap) == [
        "cap.trusted_certificates: required with require_signature = true: the PEM files "
        "of the county's alert-signing certificates"]
    assert problems(MINIMAL + cap + 'trusted_certificates = ["county.pem"]')[0].startswith(
        "cap.trusted_certificates[0]: must be an absolute path")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    config = tmp_path / "config.toml"
    config.write_text(MINIMAL + cap + f'trusted_certificates = ["{tmp_path}/absent.pem", '
                      f'"{garbage}"]\n')
    checked = run_cli("check-config", str(config))
    assert checked.returncode == 1
    assert [line.split(": ")[0] for line in checked.stderr.splitlines()] == [
        "cap.trusted_certificates[0]", "cap.trusted_certificates[1]"]
    assert "cannot read" in checked.stderr and "is not a PEM certificate" in checked.stderr
