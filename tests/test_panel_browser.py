"""The duty panel in a real headless Chromium against a real simulated station.

Each test starts ``station-edge run --sim`` as a child process and opens the panel at
``/`` in Debian's Chromium (Playwright drives it; nothing downloads a browser). What the
page shows is checked in the page, what the station did is checked through the API and
the simulated GPIO. Screenshots land in ``test-artifacts/panel/``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.chromium import PHONE, Panels, panels, screenshot, sign_in
from tests.helpers import SIM_OPERATOR, SIM_VIEWER, SimStationProcess, wait_for

pytestmark = pytest.mark.slow

AMPLIFIER_RELAYS = {"amplifier.power", "amplifier.zone-24", "amplifier.zone-25"}
HAND_ALARM_PIN = 6
POST_WITH_CSRF = """async ([path, body, withCsrf]) => {
  const session = await (await fetch("/api/v1/session")).json();
  const headers = {"Content-Type": "application/json"};
  if (withCsrf) headers["X-CSRF-Token"] = session.csrf;
  const reply = await fetch(path, {method: "POST", headers, body: JSON.stringify(body)});
  return reply.status;
}"""


@pytest.fixture
def station(sim_station: Callable[..., SimStationProcess]) -> SimStationProcess:
    return sim_station("station")


@pytest.fixture
def browser(tmp_path: Path, station: SimStationProcess) -> Iterator[Panels]:
    with panels(tmp_path / "profiles", station.base_url) as opened:
        yield opened
    assert opened.page_errors == [], "the panel's script threw"


def api(station: SimStationProcess, method: str, path: str,
        headers: dict[str, str] = SIM_VIEWER, json: Any = None) -> httpx.Response:
    return httpx.request(method, station.base_url + path, headers=headers, json=json, timeout=10)


def relays_on(station: SimStationProcess) -> bool:
    outputs = api(station, "GET", "/api/v1/outputs").json()["outputs"]
    return {o["id"] for o in outputs if o["on"]} >= AMPLIFIER_RELAYS


def test_operator_evacuates_from_the_panel_and_stops_it(
    station: SimStationProcess, browser: Panels
) -> None:
    page = browser.open("operator")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    sign_in(page, "sim-operator")
    expect(page.locator("#panel-view")).to_be_visible()
    expect(page.locator("#station-status")).to_have_text("正常")
    expect(page.locator("#devices .tile[data-device='amplifier']")).to_contain_text("正常")
    expect(page.locator("#rain .rain-chart").first).to_be_visible()
    expect(page.locator(".rain-chart .threshold.evacuate").first).to_be_attached()

    cookie = next(c for c in page.context.cookies() if c["name"] == "station_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert "sim-operator" not in cookie["value"]
    assert "station_session" not in page.evaluate("document.cookie")
    forged = page.evaluate(POST_WITH_CSRF, ["/api/v1/broadcasts", {"message": "test"}, False])
    assert forged == 403, "the cookie alone must not act"
    assert not relays_on(station)

    page.locator("#evacuate").click()
    expect(page.locator("#confirm-evacuate")).to_be_visible()
    screenshot(page, "desk-zh-confirm")
    page.locator("#evacuate-confirm").click()

    broadcast = page.locator("#broadcasts li.broadcast.prio-evacuation")
    expect(broadcast).to_contain_text("立即转移")
    wait_for("amplifier power and both zone relays ON", lambda: relays_on(station))
    gpio = api(station, "GET", "/api/v1/sim/gpio", SIM_OPERATOR).json()
    pins = {p["pin"]: p["level"] for p in gpio["pins"]}
    assert pins[23] == pins[24] == pins[25] == 1
    expect(page.locator("#journal .ev-kind[title='broadcast.started']").first).to_be_attached()
    started = api(station, "GET", "/api/v1/broadcasts?active=true").json()
    assert [b["actor"] for b in started["broadcasts"]] == ["sim-operator"]
    screenshot(page, "desk-zh-evacuating")

    broadcast.locator("button.stop").click()
    expect(page.locator("#broadcasts li.broadcast")).to_have_count(0)
    expect(page.locator("#broadcasts")).to_contain_text("没有正在进行的广播")

    page.locator("#sign-out").click()
    expect(page.locator("#sign-in-view")).to_be_visible()
    stale = httpx.get(station.base_url + "/api/v1/session", timeout=10,
                      cookies={"station_session": cookie["value"]})
    assert stale.status_code == 401


def test_operator_acknowledges_an_alarm(station: SimStationProcess, browser: Panels) -> None:
    page = browser.open("operator")
    sign_in(page, "sim-operator")
    expect(page.locator("#alarms")).to_contain_text("没有报警")
    press = {"level": 0}  # active low: a villager presses the hand alarm
    api(station, "POST", f"/api/v1/sim/gpio/{HAND_ALARM_PIN}", SIM_OPERATOR, press)
    alarm = page.locator("#alarms li.alarm.state-active")
    expect(alarm).to_be_visible()
    screenshot(page, "desk-zh-alarm")
    alarm.locator("button.ack").click()
    expect(page.locator("#alarms li.alarm.state-acknowledged")).to_be_visible()
    alarms = api(station, "GET", "/api/v1/alarms").json()["alarms"]
    assert [(a["state"], a["acknowledged_by"]) for a in alarms] == [
        ("acknowledged", "sim-operator")]
    api(station, "POST", f"/api/v1/sim/gpio/{HAND_ALARM_PIN}", SIM_OPERATOR, {"level": 1})


def test_operator_answers_a_spot_check_from_the_county(
    station: SimStationProcess, browser: Panels
) -> None:
    page = browser.open("operator")
    sign_in(page, "sim-operator")
    expect(page.locator("#checkin")).to_be_hidden()
    started = api(station, "POST", "/api/v1/checkins")  # the county's viewer token
    assert started.status_code == 201
    prompt = page.locator("#checkin")
    expect(prompt).to_be_visible()
    expect(prompt).to_contain_text("抽查")
    screenshot(page, "desk-zh-spot-check")
    page.locator("#checkin-answer").click()
    expect(prompt).to_be_hidden()
    [check] = api(station, "GET", "/api/v1/checkins").json()["checkins"]
    assert check["state"] == "answered" and check["answered_by"] == "sim-operator"


def test_viewer_on_a_phone_sees_everything_in_english_and_can_press_nothing(
    station: SimStationProcess, browser: Panels
) -> None:
    page = browser.open("viewer", PHONE)
    sign_in(page, "not-a-token")
    expect(page.locator("#sign-in-error")).to_be_visible()
    sign_in(page, "sim-viewer")
    expect(page.locator("#readonly")).to_be_visible()
    page.locator("#lang").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#evacuate .big")).to_have_text("EVACUATE")
    expect(page.locator("#station-status")).to_have_text("OK")
    expect(page.locator("#evacuate")).to_be_disabled()

    reply = api(station, "POST", "/api/v1/broadcasts", SIM_OPERATOR,
                {"message": "test", "zones": ["north"]})
    assert reply.status_code == 202
    shown = page.locator("#broadcasts li.broadcast")
    expect(shown).to_be_visible()  # pushed live: the viewer did not reload
    expect(shown.locator("button.stop")).to_be_hidden()
    refused = page.evaluate(POST_WITH_CSRF, ["/api/v1/broadcasts", {"message": "test"}, True])
    assert refused == 403, "a viewer's session is refused even with its CSRF token"
    denied = api(station, "GET", "/api/v1/events?kind=access.denied").json()
    assert any(e["data"].get("reason") == "needs role operator" for e in denied["events"])
    screenshot(page, "phone-en-viewer", full_page=True)

    page.reload()
    expect(page.locator("#panel-view")).to_be_visible()  # the session survives a reload
    expect(page.locator("#evacuate .big")).to_have_text("EVACUATE")
    assert api(station, "GET", "/api/v1/session").json()["csrf"] is None, "Bearer: no CSRF"
