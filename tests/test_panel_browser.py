"""The duty panel in a real headless Chromium, used as a duty officer would in a storm.

One Chromium for the module, a fresh browser context per panel. Most tests run the
station in this process (real uvicorn on 127.0.0.1, real station on simulated
hardware: mock GPIO, file audio, a pulse rain gauge); the test that kills the station
and restarts it runs ``station-edge run --sim`` as a process, with its gauge and modem
simulators. What the page shows is checked in the page; what the station did through
the API and the simulated GPIO. Screenshots land in ``test-artifacts/panel/`` (desk
1366x768, phone 390x844): calm, 准备转移, 立即转移 with sirens, lost connection, 值班记录.
"""

from __future__ import annotations

import io
import json
import re
import socket
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from drivers.clock import SystemClock
from edge.api.duty_routes import LOST_AFTER_S
from tests.browser.chromium import ARTIFACTS, PHONE, chromium, panels, screenshot, sign_in
from tests.browser.live_station import LiveStation
from tests.helpers import SIM_OPERATOR, SIM_VIEWER, SimStationProcess, sim_config, wait_for

pytestmark = pytest.mark.slow

AMPLIFIER_RELAYS = {"amplifier.power", "amplifier.zone-24", "amplifier.zone-25"}
HAND_ALARM_PIN = 6
PULSE_GAUGE = """
[[rain_gauges]]
id = "rg-p"
name = "后山雨量站"
kind = "pulse"
pin = 20
mm_per_tip = 5.0
"""
POST_WITH_CSRF = """async ([path, body, withCsrf]) => {
  const session = await (await fetch("/api/v1/session")).json();
  const headers = {"Content-Type": "application/json"};
  if (withCsrf) headers["X-CSRF-Token"] = session.csrf;
  const reply = await fetch(path, {method: "POST", headers, body: JSON.stringify(body)});
  return reply.status;
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as opened:
        yield opened


@pytest.fixture
def live(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[LiveStation]:
    """A station in this process; ``@pytest.mark.siren_max_on_s(3)`` shortens siren-1's
    maximum on-time (to see a cut within a test); ``@pytest.mark.station_clock(start,
    scale)`` runs it on a clock of its own (a simulation, not the browser's time)."""
    marker = request.node.get_closest_marker("siren_max_on_s")
    replace = {"relay = 16": f"relay = 16\nmax_on_s = {marker.args[0]}"} if marker else {}
    timed = request.node.get_closest_marker("station_clock")
    clock = (SystemClock(timed.args[1], start=datetime.fromisoformat(timed.args[0]))
             if timed else None)
    with LiveStation(sim_config(tmp_path, PULSE_GAUGE, **replace), clock) as station:
        yield station


def api(base_url: str, method: str, path: str, headers: dict[str, str] = SIM_VIEWER,
        json: Any = None) -> httpx.Response:
    return httpx.request(method, base_url + path, headers=headers, json=json, timeout=10)


def signed_in(panel: Any, token: str = "sim-operator") -> Any:
    sign_in(panel, token)
    expect(panel.locator("#panel-view")).to_be_visible()
    expect(panel.locator("#live")).to_have_attribute("data-state", "on")
    return panel


def rain(live: LiveStation, mm: float) -> None:
    """Rain on the pulse gauge, as its reed contact would report it (5 mm a tip)."""
    def tips() -> None:
        gauge = live.station.parts.rain.gauges["rg-p"]
        for _ in range(round(mm / 5.0)):
            gauge.tip(live.station.clock.now())
    live.call(tips)


def test_a_calm_station_and_one_evacuation_order_at_a_time(live: LiveStation,
                                                             browser: Any) -> None:
    with panels(browser, live.base_url) as opened:
        page = signed_in(opened.open("desk"))
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        expect(page.locator("#station-status")).to_have_text("正常")
        expect(page.locator("#station-status")).to_have_attribute("data-tone", "ok")
        expect(page.locator("#alarm-banner")).to_be_hidden()
        siren = page.locator("#devices .tile[data-device='siren-1']")
        expect(siren).to_contain_text("村委会警报器")
        expect(siren).to_contain_text("正常")
        expect(page.locator("#rain .gauge[data-gauge='rg-p']")).to_contain_text("后山雨量站")
        expect(page.locator("#rain .gauge .total[data-window='1h']")).to_contain_text("1小时")
        expect(page.locator("#rain .gauge .total[data-window='1h']")).to_contain_text("毫米")
        assert page.locator("#favicon").get_attribute("href") == "/panel/favicon.svg"
        assert api(live.base_url, "GET", "/panel/favicon.svg").status_code == 200
        expect(page.locator("#clock")).not_to_have_text("--:--:--")
        screenshot(page, "desk-calm")
        phone = signed_in(opened.open("phone", PHONE))
        expect(phone.locator("#station-status")).to_have_text("正常")
        screenshot(phone, "phone-calm", full_page=True)

        forged = page.evaluate(POST_WITH_CSRF, ["/api/v1/broadcasts", {"message": "test"}, False])
        assert forged == 403, "the cookie alone must not act"

        button = page.locator("#evacuate")
        button.click()
        expect(page.locator("#confirm-evacuate")).to_be_visible()
        expect(page.locator("#evacuate-cancel")).to_be_focused()
        page.locator("#evacuate-confirm").click()
        expect(button).to_have_attribute("data-state", re.compile("on-air|waiting"))
        expect(page.locator("#evacuate-big")).to_have_text(re.compile("转移令(播放中|等待播出)"))
        expect(page.locator("#evacuate-sub")).to_contain_text("/3遍")
        wait_for("the amplifier and both zones ON", lambda: relays_on(live))
        expect(page.locator("#evacuate-sub")).to_contain_text("第1/3遍")

        expect(phone.locator("#evacuate-big")).to_have_text("转移令播放中")  # pushed live
        phone.locator("#evacuate").click()  # a second press, on the phone
        expect(phone.locator("#confirm-title")).to_contain_text("转移令正在播放")
        expect(phone.locator("#evacuate-confirm")).to_have_text("从头重新播放")
        phone.locator("#evacuate-cancel").click()
        [first] = active_evacuations(live)
        phone.locator("#evacuate").click()
        phone.locator("#evacuate-confirm").click()
        wait_for("the order restarted", lambda: [b["id"] for b in active_evacuations(live)]
                 not in ([], [first["id"]]))
        [restarted] = active_evacuations(live)
        assert restarted["id"] != first["id"], "restarted, never queued"
        gone = api(live.base_url, "GET", f"/api/v1/broadcasts/{first['id']}").json()
        assert gone["state"] == "cancelled"

        on_desk = page.locator(f"#broadcasts li[data-id='{restarted['id']}']")
        expect(page.locator("#broadcasts li.prio-evacuation")).to_have_count(1)
        on_desk.locator("button.stop").click()
        expect(page.locator("#broadcasts")).to_contain_text("没有正在进行的广播")
        expect(button).to_have_attribute("data-state", "ready")


def relays_on(live: LiveStation) -> bool:
    outputs = api(live.base_url, "GET", "/api/v1/outputs").json()["outputs"]
    return {o["id"] for o in outputs if o["on"]} >= AMPLIFIER_RELAYS


def active_evacuations(live: LiveStation) -> list[dict[str, Any]]:
    listed = api(live.base_url, "GET", "/api/v1/broadcasts?active=true").json()["broadcasts"]
    return [b for b in listed if b["priority"] == "evacuation"]


def test_a_rain_alarm_takes_the_top_of_the_page_and_gets_attention(live: LiveStation,
                                                                    browser: Any) -> None:
    with panels(browser, live.base_url) as opened:
        page = signed_in(opened.open("desk", notifications=True))
        phone = signed_in(opened.open("phone", PHONE))
        page.locator("#sound").click()  # a gesture: the browser may now make sound
        expect(page.locator("#sound")).to_have_attribute("aria-pressed", "true")
        sounds_before = page.evaluate("window.__probe.oscillators")

        rain(live, 30)  # 30 mm in 1 h: 准备转移
        banner = page.locator("#alarm-banner .alarm.level-prepare")
        expect(banner).to_be_visible()
        expect(page.locator("#station-status")).to_have_text("准备转移")
        expect(page.locator("#station-status")).to_have_attribute("data-tone", "warning")
        expect(banner.locator(".alarm-cause")).to_have_text(
            "后山雨量站 1小时雨量30.0毫米（阈值30毫米）")
        checklist = live.config.alarms.checklist.prepare
        expect(banner.locator(".checklist li")).to_have_text(list(checklist))
        expect(banner.locator("button.ack")).to_have_text("收到，停止提醒")
        expect(page.locator("#rain .gauge .badge.level-prepare")).to_have_text("准备转移预警")
        screenshot(page, "desk-prepare")
        expect(phone.locator("#alarm-banner .alarm.level-prepare")).to_be_visible()
        screenshot(phone, "phone-prepare")

        rain(live, 20)  # 50 mm: 立即转移, the sirens sound
        banner = page.locator("#alarm-banner .alarm.level-evacuate")
        expect(banner).to_be_visible()
        expect(page.locator("#station-status")).to_have_text("立即转移")
        expect(page.locator("#station-status")).to_have_attribute("data-tone", "critical")
        expect(banner.locator(".sounding")).to_contain_text("警报器鸣响：村委会警报器")
        expect(banner.locator("button.ack")).to_have_text("收到，停止警报")
        expect(page).to_have_title(re.compile("立即转移"))
        assert page.locator("#favicon").get_attribute("href") == "/panel/favicon-alarm.svg"
        wait_for("a sound started", lambda: page.evaluate("window.__probe.oscillators")
                 > sounds_before)
        notes = page.evaluate("window.__probe.notifications")
        assert any(n["title"] == "立即转移" and "后山雨量站" in n["body"] for n in notes), notes
        assert live.call(lambda: bool(live.station.parts.buzzer.wanted_by)), "the buzzer beeps"
        titles: set[str] = set()
        wait_for("the title flashing", lambda: titles.add(page.title()) or len(titles) == 2,
                 timeout=10)
        expect(phone.locator("#alarm-banner .alarm.level-evacuate")).to_be_visible()
        screenshot(page, "desk-evacuate-sirens")
        screenshot(phone, "phone-evacuate-sirens")

        banner.locator("button.ack").click()
        expect(banner.locator(".acked")).to_contain_text("sim-operator")
        expect(banner.locator(".sounding")).to_have_count(0)
        assert not live.call(lambda: live.station.parts.buzzer.wanted_by)
        entry = page.locator("#journal li.main[data-kind='alarm.raised']").first
        expect(entry.locator(".ev-kind")).to_have_text("准备转移预警")
        page.locator("#journal-filters .chip[data-filter='alarms']").click()
        kinds = page.locator("#journal li.main").evaluate_all(
            "items => items.map(li => li.dataset.kind)")
        assert kinds and not any(k.startswith(("output.", "panel.signed")) for k in kinds)


@pytest.mark.siren_max_on_s(3.0)
def test_a_latched_fault_a_spot_check_and_a_viewer_on_a_phone(live: LiveStation,
                                                              browser: Any) -> None:
    with panels(browser, live.base_url) as opened:
        page = signed_in(opened.open("desk"))
        page.locator("#sound").click()
        expect(page.locator("#sound")).to_have_attribute("aria-pressed", "true")
        live.call(lambda: live.station.outputs.set("siren-1", True, actor="test",
                                                   reason="a stuck relay"))
        tile = page.locator("#devices .tile[data-device='siren-1']")
        expect(tile).to_have_attribute("data-status", "fault")  # cut after its 3 s
        expect(tile).to_contain_text("超过最长3秒")
        expect(tile.locator(".tile-advice")).to_contain_text("清除故障")
        expect(page.locator("#station-status")).to_have_text("设备故障")
        tile.locator("button.clear-fault").click()
        expect(tile).to_have_attribute("data-status", "ok")
        cleared = api(live.base_url, "GET", "/api/v1/events?kind=fault.cleared").json()
        assert [e["actor"] for e in cleared["events"]] == ["sim-operator"]

        sounds_before = page.evaluate("window.__probe.oscillators")
        assert api(live.base_url, "POST", "/api/v1/checkins").status_code == 201
        prompt = page.locator("#checkin")
        expect(prompt).to_be_visible()
        wait_for("the spot check's sound", lambda: page.evaluate("window.__probe.oscillators")
                 > sounds_before)
        expect(page.locator("#checkin-countdown")).to_have_text(re.compile(r"剩余 [45]:\d\d"))
        page.locator("#checkin-answer").click()
        expect(prompt).to_be_hidden()

        viewer = opened.open("viewer", PHONE)
        sign_in(viewer, "not-a-token")
        expect(viewer.locator("#sign-in-error")).to_have_text("密码不对，请重试")
        signed_in(viewer, "sim-viewer")
        expect(viewer.locator("#readonly")).to_be_visible()
        viewer.locator("#lang").click()
        expect(viewer.locator("html")).to_have_attribute("lang", "en")
        expect(viewer.locator("#evacuate .big")).to_have_text("EVACUATE")
        expect(viewer.locator("#station-status")).to_have_text("All normal")
        expect(viewer.locator("#evacuate")).to_be_disabled()
        refused = viewer.evaluate(POST_WITH_CSRF, ["/api/v1/broadcasts", {"message": "test"},
                                                  True])
        assert refused == 403, "a viewer's session is refused even with its CSRF token"
        viewer.reload()
        expect(viewer.locator("#panel-view")).to_be_visible()  # the session survives a reload
        page.reload()
        expect(page.locator("#sound")).to_have_attribute("aria-pressed", "true")  # remembered


@pytest.mark.station_clock("2026-07-01T02:00:00+00:00", 2.0)
def test_the_duty_log_with_handover_notes_prints_and_downloads(live: LiveStation,
                                                                browser: Any) -> None:
    live.call(lambda: live.station.gpio.drive_mock_input(HAND_ALARM_PIN, 0))
    wait_for("the hand alarm", lambda: api(live.base_url, "GET", "/api/v1/alarms").json()
             ["alarms"])
    [alarm] = api(live.base_url, "GET", "/api/v1/alarms").json()["alarms"]
    api(live.base_url, "POST", f"/api/v1/alarms/{alarm['id']}/ack", SIM_OPERATOR)
    with panels(browser, live.base_url) as opened:
        page = signed_in(opened.open("desk"))
        # the station's clock (10:00 Beijing on 1 July, twice as fast), not the browser's
        expect(page.locator("#clock")).to_have_text(re.compile(r"^07/01 10:0\d:\d\d$"))
        chart_end = page.locator("#rain .gauge[data-gauge='rg-p'] svg text.axis").last
        expect(chart_end).to_have_text(re.compile(r"^10:0\d$"))  # the chart's day ends now
        page.locator("#show-duty").click()
        duty = page.locator("#duty-view")
        expect(duty).to_be_visible()
        expect(page.locator("#duty-span")).to_contain_text("08:00")
        expect(page.locator("#duty-rows tr[data-kind='alarm.raised'] .event")).to_have_text(
            "手动报警")
        page.locator("#handover-text").fill("村口报警已核实：村民误按，已复位。雨停，交王某接班。")
        page.locator("#handover-save").click()
        note = page.locator("#duty-rows tr[data-kind='duty.handover_note']")
        expect(note).to_contain_text("村民误按")
        assert page.locator("#duty-rows tr[data-kind^='output.']").count() == 0, "folded"
        screenshot(page, "desk-duty-log")
        phone = signed_in(opened.open("phone", PHONE))
        phone.locator("#show-duty").click()
        expect(phone.locator("#duty-rows tr[data-kind='duty.handover_note']")).to_be_visible()
        screenshot(phone, "phone-duty-log", full_page=True)

        pdf = page.pdf(format="A4")
        (ARTIFACTS / "duty-log.pdf").write_bytes(pdf)
        text = "".join(pdf_text(pdf).split())  # lines wrap anywhere in Chinese
        assert "值班记录" in text and "村民误按" in text and "手动报警" in text, text[:500]
        assert "保存交接班记录" not in text and "立即转移按钮" not in text, "only the record"

        with page.expect_download() as download:
            page.locator("#duty-csv").click()
        csv = Path(download.value.path()).read_text(encoding="utf-8-sig")
        assert csv.startswith("时间（北京时间）,类别,事件,详情,操作人,附带动作")
        assert "交接班记录" in csv and "村民误按" in csv and "手动报警" in csv

        # The card stops taking writes: a note saved now is not confirmed (503), and the
        # panel says so; never "saved", the text kept to try again.
        read_only(live, True)
        page.locator("#handover-text").fill("雨量站巡查完毕")
        page.locator("#handover-save").click()
        expect(page.locator("#notice")).to_contain_text("站点未能存盘")
        expect(page.locator("#notice")).to_have_attribute("data-kind", "error")
        expect(page.locator("#handover-text")).to_have_value("雨量站巡查完毕")
        read_only(live, False)
        wait_for("the note written once the card takes it", lambda: any(
            e["data"].get("text") == "雨量站巡查完毕" for e in api(
                live.base_url, "GET", "/api/v1/events?kind=duty.handover_note").json()["events"]))


def read_only(live: LiveStation, on: bool) -> None:
    """The journal and the state store refuse writes, as on a card the kernel remounted
    read-only (and take them again)."""
    def switch() -> None:
        for conn in (live.station.state._writer.connection,  # type: ignore[union-attr]
                     live.station.journal._conn):
            assert conn is not None
            conn.execute(f"PRAGMA query_only = {'ON' if on else 'OFF'}")
    live.call(switch)


def pdf_text(pdf: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)


def gauge_control(station: SimStationProcess, command: str) -> str:
    devices = json.loads((station.data_dir / "sim-devices.json").read_text())
    host, port = devices["gauge_control"].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(command.encode() + b"\n")
        reply = conn.makefile().readline().strip()
    assert reply.startswith("OK"), reply
    return reply


def test_the_panel_knows_when_the_station_is_gone_and_a_restart_signs_no_one_out(
    sim_station: Callable[..., SimStationProcess], browser: Any
) -> None:
    station = sim_station("station")
    with panels(browser, station.base_url) as opened:
        page = signed_in(opened.open("desk", own_clock=True))
        page.locator("#sound").click()
        phone = signed_in(opened.open("phone", PHONE, own_clock=True))
        # a villager's hand alarm: the banner shows the 叫醒 call going out to the first tier
        # (run --sim's simulated county PBX; its phone picks up)
        api(station.base_url, "POST", f"/api/v1/sim/gpio/{HAND_ALARM_PIN}", SIM_OPERATOR,
            {"level": 0})
        tier = page.locator("#alarm-banner .callout li.tier").first
        expect(tier).to_contain_text("电话叫醒 第1梯队", timeout=30_000)
        expect(tier).to_contain_text("+8613800000002")
        expect(tier).to_contain_text(re.compile("振铃中|通话中|已接听"))
        gauge = page.locator("#rain .gauge[data-gauge='rg-1']")
        expect(gauge).to_contain_text("后山雨量站")
        silenced = api(station.base_url, "GET", "/api/v1/health").json()["time"]
        gauge_control(station, "fault 1 silence")  # the gauge stops answering
        expect(gauge.locator(".badge.stale")).to_have_text("数据中断", timeout=30_000)
        expect(gauge.locator(".total[data-window='1h'] b")).to_have_text("—")
        expect(gauge.locator(".line3")).to_contain_text("起无数据")
        wait_for("the chart's gap since the gauge fell silent (not a flat zero)", lambda: any(
            start >= silenced for start in gauge.locator("svg rect.gap").evaluate_all(
                "rects => rects.map(r => r.dataset.from)")))
        other = page.locator("#rain .gauge[data-gauge='rg-2'] .total[data-window='1h'] b")
        expect(other).to_have_text(re.compile(r"\d+\.\d 毫米"))

        sounds_before = page.evaluate("window.__probe.oscillators")
        station.kill()  # kill -9: no goodbye on the stream
        for panel in (page, phone):  # the stream is broken; no heartbeat comes for a while
            expect(panel.locator("#live")).to_have_attribute("data-state", "off")
            panel.clock.fast_forward(LOST_AFTER_S * 1000 + 1000)
        expect(page.locator("#lost")).to_be_visible()
        assert page.evaluate("window.__probe.oscillators") > sounds_before, "a sound"
        expect(page.locator("#clock")).to_have_text("--:--:--")  # the station's time unknown
        expect(page.locator("#broadcasts li").first).to_contain_text("未知")  # not "playing"
        expect(page.locator("#broadcasts")).not_to_contain_text("播放中")
        expect(page.locator("#notice")).to_be_hidden()  # no "cannot reach" over the view
        expect(page.locator("#station-status")).to_have_text("与站点失去联系")
        expect(page.locator("#lost-since")).to_contain_text("最后联系")
        expect(page.locator("#evacuate")).to_be_hidden()
        expect(page.locator("#physical")).to_contain_text("实体“立即转移”按钮")
        expect(page.locator("#devices .tile").first).to_have_attribute("data-status", "unknown")
        expect(page).to_have_title(re.compile("与站点失去联系"))
        expect(phone.locator("#lost")).to_be_visible()
        screenshot(page, "desk-lost-connection")
        screenshot(phone, "phone-lost-connection")

        sim_station("station", port=station.port)  # the same station, restarted
        expect(page.locator("#lost")).to_be_hidden(timeout=30_000)
        expect(page.locator("#panel-view")).to_be_visible()
        expect(page.locator("#sign-in-view")).to_be_hidden()
        expect(page.locator("#station-status")).not_to_have_text("与站点失去联系")
        expect(phone.locator("#panel-view")).to_be_visible()
