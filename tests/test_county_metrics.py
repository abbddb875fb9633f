"""What the county runs: the metrics pass promtool, the documented rules are valid and
name only metrics the station really exports."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from edge.api.app import create_app
from tests.helpers import REPO, SIM_VIEWER, StationRun, sim_config

pytestmark = pytest.mark.skipif(shutil.which("promtool") is None,
                                reason="promtool (Debian package prometheus) is not installed")


def yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", (REPO / "docs" / "county.md").read_text(), re.S)


async def scrape(tmp_path: Path) -> str:
    pulse_gauge = '[[rain_gauges]]\nid = "rg-p"\nkind = "pulse"\npin = 20\n'
    async with StationRun(sim_config(tmp_path, pulse_gauge)) as run:
        run.station.parts.alarms.hand_alarm("ha-1", "村口手动报警", True)
        transport = httpx.ASGITransport(app=create_app(run.station))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            reply = await client.get("/metrics", headers=SIM_VIEWER)
    assert reply.status_code == 200
    return reply.text


def test_metrics_pass_promtool(tmp_path: Path) -> None:
    text = asyncio.run(scrape(tmp_path))
    result = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    for needed in ("station_edge_device_status", "station_edge_journal_writable",
                   "station_edge_rain_sensor_fresh", "station_edge_rain_window_mm",
                   "station_edge_alarms_open", "station_edge_output_max_on_cuts_total",
                   "station_edge_audio_underruns_total"):
        assert needed in text


def test_documented_rules_are_valid_and_use_exported_metrics(tmp_path: Path) -> None:
    scrape_config, rules = yaml_blocks()
    assert "station-edge" in scrape_config and "authorization" in scrape_config
    rules_file = tmp_path / "rules.yml"
    rules_file.write_text(rules)
    result = subprocess.run(["promtool", "check", "rules", str(rules_file)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    exported = set(re.findall(r"^(station_edge_\w+?)(?:\{| )", asyncio.run(scrape(tmp_path)),
                              re.M))
    for name in set(re.findall(r"station_edge_\w+", rules)):
        assert name in exported or name.removesuffix("_total") + "_total" in exported, name
