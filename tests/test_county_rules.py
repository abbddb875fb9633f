"""The county's shipped Prometheus and Alertmanager files (docs/county/) are valid, and every
alert rule is unit-tested by ``promtool test rules``: it fires and it resolves."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO

COUNTY = REPO / "docs" / "county"
pytestmark = pytest.mark.skipif(
    shutil.which("promtool") is None or shutil.which("amtool") is None,
    reason="promtool / amtool (Debian: prometheus, prometheus-alertmanager) not installed")


def run(*args: str, cwd: Path = COUNTY) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=cwd)


def test_rules_are_valid() -> None:
    result = run("promtool", "check", "rules", "rules.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rule_fires_and_resolves_in_its_unit_test() -> None:
    result = run("promtool", "test", "rules", "rules_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    rules = yaml.safe_load((COUNTY / "rules.yml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    tests = yaml.safe_load((COUNTY / "rules_test.yml").read_text())["tests"]
    fired: dict[str, list[int]] = {}
    quiet: dict[str, list[int]] = {}
    for case in tests:
        for check in case["alert_rule_test"]:
            minutes = int(check["eval_time"].removesuffix("m"))
            (fired if check["exp_alerts"] else quiet).setdefault(check["alertname"], []).append(
                minutes)
    assert set(fired) == alerts, "every rule fires in a test"
    for alert in alerts:
        assert any(q > min(fired[alert]) for q in quiet.get(alert, [])), \
            f"{alert}: no check that it resolves after firing"


def test_prometheus_configuration_is_valid(tmp_path: Path) -> None:
    for name in ("prometheus.yml", "rules.yml"):
        shutil.copy(COUNTY / name, tmp_path / name)
    (tmp_path / "station-edge-viewer.token").write_text("county-viewer-secret\n")
    result = run("promtool", "check", "config", "prometheus.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout + result.stderr


def test_alertmanager_configuration_is_valid_and_routes_by_severity() -> None:
    result = run("amtool", "check-config", "alertmanager.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    for labels, receiver in ((("severity=critical", "alertname=StationDown"),
                              "county-duty-urgent"),
                             (("severity=warning", "alertname=RainGaugeStale"), "county-duty")):
        routed = run("amtool", "config", "routes", "test", "--config.file=alertmanager.yml",
                     f"--verify.receivers={receiver}", *labels)
        assert routed.returncode == 0, routed.stdout + routed.stderr
    wrong = run("amtool", "config", "routes", "test", "--config.file=alertmanager.yml",
                "--verify.receivers=county-duty", "severity=critical")
    assert wrong.returncode != 0, "a critical alert must not take the slow route"
    rules = yaml.safe_load((COUNTY / "rules.yml").read_text())
    severities = {r["labels"]["severity"] for g in rules["groups"] for r in g["rules"]}
    assert severities == {"critical", "warning"}, "every rule has a routed severity"


def test_dashboard_is_a_grafana_dashboard_on_a_prometheus_input() -> None:
    dashboard = json.loads((COUNTY / "dashboard.json").read_text())
    assert dashboard["__inputs"][0]["pluginId"] == "prometheus"
    [variable] = dashboard["templating"]["list"]
    assert variable["name"] == "station"
    targets = [t for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(targets) >= 20
    assert all(t["datasource"]["uid"] == "${DS_PROMETHEUS}" and t["expr"] for t in targets)
    assert any("$station" in t["expr"] for t in targets), "one station's detail"
    assert any("$station" not in t["expr"] for t in targets), "the fleet overview"
