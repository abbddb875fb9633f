"""The systemd unit: hardened (exposure ≤ 3.0), watchdog and safe-off wired as designed."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import REPO

UNIT = REPO / "systemd" / "station-edge.service"


def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_exposure_is_at_most_3(tmp_path: Path) -> None:
    copy = tmp_path / "station-edge.service"
    copy.write_text(UNIT.read_text())
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--threshold=30", str(copy)],
        capture_output=True, text=True, timeout=120,
    )
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 3.0
    assert result.returncode == 0


def test_unit_runs_safe_off_after_stop_and_uses_the_watchdog() -> None:
    settings = unit_settings()
    assert settings["Type"] == ["notify"]
    assert settings["Restart"] == ["always"] and settings["RestartSec"] == ["3"]
    assert "safe-off" in settings["ExecStopPost"][0]
    assert int(settings["WatchdogSec"][0]) > 0
    assert settings["SupplementaryGroups"] == ["dialout gpio audio"]
    assert settings["NoNewPrivileges"] == ["yes"] and settings["CapabilityBoundingSet"] == [""]
    assert any("gpiochip" in d for d in settings["DeviceAllow"])
    configparser.ConfigParser(strict=False, interpolation=None).read_string(
        UNIT.read_text().replace("%", "%%"))


def test_udev_rule_keeps_modemmanager_off_the_station_ports() -> None:
    rules = (REPO / "systemd" / "99-station-edge.rules").read_text()
    for line in (r for r in rules.splitlines() if r and not r.startswith("#")):
        assert 'ENV{ID_MM_DEVICE_IGNORE}="1"' in line
        assert "SYMLINK+=" in line
