"""The satellite phone through the whole station (in-process, ManualClock) against the
simulated terminal (hw-sim/at_modem_sim.py, a child process on a pty, with its call
audio on a unix socket).

Nothing is slept for: the test waits for what the station's phone part announces
(:attr:`edge.satphone.phone.SatPhone.listeners`), and for the simulator's replies.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from test_modem import SIM, Sim

from broadcast.priority import Priority
from drivers.audio_wav import read_wav_file
from edge.api.app import create_app
from edge.config import parse
from edge.satphone.reports import alarm_report
from edge.sim.station import sim_config_text
from sat_phone.outbox import SmsPriority
from tests.helpers import SIM_OPERATOR, SIM_VIEWER, Scrape, StationRun

REPORTER = "+8613800000001"  # report number, whitelisted
TIER1 = "+8613800000002"  # whitelisted, first callout tier
TIER2 = "+8613800000003"
STRANGER = "+8613999999999"
PIN = "2468"
REPORT_BODY = "后山雨量站1小时雨量52.3毫米，已达立即转移，警报已启动，请立即组织群众转移。"
#: No modem poll nor periodic SIM sweep during a test: their AT commands are real I/O,
#: and a clock jumped minutes ahead would time them out. Signal changes still arrive
#: (+CIEV); a test that moves the clock waits for the inbox to be idle first.
QUIET = {'personality = "iridium"':
         'personality = "iridium"\npoll_interval_s = 3600\nsweep_interval_s = 3600'}


class Terminal(Sim):
    """The simulator process (with its call audio socket) and its control channel."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int, link: Path,
                 audio: Path) -> None:
        super().__init__(proc, port, link)
        self.audio = audio

    @classmethod
    async def start_with_audio(cls, tmp_path: Path) -> Terminal:
        link, audio = tmp_path / "ttySAT", tmp_path / "audio.sock"
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(SIM), "--personality", "iridium", "--link", str(link),
            "--audio", str(audio),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        assert proc.stdout is not None
        port = int((await proc.stdout.readline()).split()[1])
        assert (await proc.stdout.readline()).startswith(b"READY ")
        return cls(proc, port, link, audio)

    async def sms(self, sender: str, text: str) -> None:
        await self.call("deliver_sms", **{"from": sender}, text=text)

    async def outbox(self) -> list[dict[str, Any]]:
        return (await self.call("outbox"))["messages"]

    async def stop(self) -> None:
        """End of stdin is the simulator's cue to exit; it must, promptly."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 20)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            raise AssertionError("the terminal simulator did not exit at end of stdin") from None
        finally:
            await self.proc.stdout.read()


@dataclass
class Phone:
    """A started station with its phone on the simulated terminal."""

    run: StationRun
    terminal: Terminal
    seen: list[tuple[str, dict[str, Any]]]
    changed: asyncio.Event

    @property
    def part(self) -> Any:
        return self.run.station.parts.satphone

    @property
    def clock(self) -> Any:
        return self.run.clock

    def count(self, kind: str, **match: Any) -> int:
        return sum(1 for k, data in self.seen
                   if k == kind and all(data.get(key) == value for key, value in match.items()))

    async def until(self, what: Callable[[], bool]) -> None:
        while not what():
            self.changed.clear()
            await self.changed.wait()

    async def event(self, kind: str, count: int = 1, **match: Any) -> None:
        await self.until(lambda: self.count(kind, **match) >= count)


@pytest.fixture
async def phone(tmp_path: Path) -> AsyncIterator[Phone]:
    terminal = await Terminal.start_with_audio(tmp_path)
    run = None
    try:
        text = sim_config_text(tmp_path / "data", "127.0.0.1:0", 1.0, {
            "modem_port": str(terminal.link), "modem_audio": str(terminal.audio)})
        for old, new in QUIET.items():
            text = text.replace(old, new)
        run = StationRun(parse(text))
        seen: list[tuple[str, dict[str, Any]]] = []
        changed = asyncio.Event()

        def heard(kind: str, data: dict[str, Any]) -> None:
            seen.append((kind, data))
            changed.set()

        await run.__aenter__()
        phone = Phone(run, terminal, seen, changed)
        phone.part.listeners.append(heard)
        phone.part.modem.add_status_listener(lambda _s: changed.set())
        run.station.parts.broadcasting.listeners.append(lambda *_a: changed.set())
        await phone.until(lambda: phone.part.modem.status.status == "ok")
        await phone.part.modem.inbox.idle()  # the first sweep is over: the clock may move
        yield phone
    finally:
        if run is not None:
            await run.__aexit__(None, None, None)
        await terminal.stop()


def raise_rain(phone: Phone, gauge: str, totals: dict[str, float]) -> Any:
    """Feed the warning board as the gauge's windows would; returns the alarm."""
    rain = phone.run.station.parts.rain
    for change in rain.board.update(gauge, totals):
        for listener in rain.listeners:
            listener(change)
    return phone.run.station.parts.alarms.open_for(gauge)


async def test_a_rain_alarm_sends_a_multipart_chinese_first_report_and_a_callout(
    phone: Phone,
) -> None:
    alarm = raise_rain(phone, "rg-1", {"1h": 52.3, "24h": 52.3})
    await phone.event("satphone.sms_sent", 2)  # report + first callout tier
    body = alarm_report(alarm, "raised")
    assert body == ("后山雨量站1小时雨量52.3毫米，已达立即转移（阈值50.0毫米），"
                    "警报已启动，正在广播立即转移指令，请立即组织群众转移")
    expected = f"【沙沟镇应急管理站（模拟）】{body} 08:00"  # ManualClock: 00:00 UTC
    messages = await phone.terminal.outbox()
    [report] = [m for m in messages if m["to"] == REPORTER]
    assert report["text"] == expected
    assert (report["parts"], report["complete"], report["encoding"]) == (2, True, "ucs2")
    assert report["parts_decode_alone"]
    [callout] = [m for m in messages if m["to"] == TIER1]
    assert callout["text"].startswith("【沙沟镇应急管理站（模拟）】叫应：后山雨量站")
    assert "请回复1或“收到”" in callout["text"]
    assert alarm.callout["state"] == "calling" and alarm.callout["tier"] == 1
    assert Scrape.of(phone.run.station).value("station_edge_callouts_calling") == 1
    assert {m.priority for m in phone.part.outbox.messages()} == {SmsPriority.REPORT}

    await phone.terminal.sms(TIER1, "1")
    await phone.event("satphone.callout_answered")
    scrape = Scrape.of(phone.run.station)
    assert scrape.value("station_edge_callouts_total", result="answered") == 1
    assert scrape.value("station_edge_callouts_total", result="unanswered") == 0
    assert scrape.value("station_edge_callouts_calling") == 0
    assert scrape.value("station_edge_callout_answer_seconds_bucket", le="10.0") == 1
    assert alarm.callout["state"] == "answered"
    assert alarm.callout["answered_by"] == TIER1
    assert alarm.callout["answered_at"] == "2026-07-01T00:00:00.000Z"
    events = await phone.run.settled_events("satphone.callout_answered")
    assert [(e["source"], e["actor"]) for e in events] == [(alarm.id, TIER1)]
    await phone.clock.advance(301)
    assert phone.count("satphone.callout_escalated") == 0, "answered: no escalation"


async def test_no_answer_escalates_to_the_next_tier_then_is_unanswered(phone: Phone) -> None:
    alarm = raise_rain(phone, "rg-1", {"1h": 35.0, "24h": 35.0})  # 准备转移
    assert alarm.level == "prepare"
    await phone.event("satphone.sms_sent", 2)
    await phone.terminal.sms(STRANGER, "收到")  # not someone the callout reached
    await phone.event("satphone.sms_ignored")
    await phone.clock.advance(300)
    await phone.event("satphone.callout_escalated")
    await phone.event("satphone.sms_sent", 3)
    [escalated] = [m for m in await phone.terminal.outbox() if m["to"] == TIER2]
    assert "第2梯队，前一梯队5分钟未回复" in escalated["text"]
    assert alarm.callout["tier"] == 2 and alarm.callout["state"] == "calling"
    await phone.clock.advance(300)
    await phone.event("satphone.callout_unanswered")
    assert alarm.callout["state"] == "unanswered"
    scrape = Scrape.of(phone.run.station)
    assert scrape.value("station_edge_callouts_total", result="unanswered") == 1
    assert scrape.value("station_edge_callouts_total", result="answered") == 0
    assert scrape.value("station_edge_callout_answer_seconds_count") == 0
    assert (await phone.run.settled_events("satphone.callout_unanswered"))[0]["source"] == alarm.id


async def test_sms_evacuate_with_the_pin_from_a_whitelisted_number_starts_the_broadcast(
    phone: Phone,
) -> None:
    service = phone.run.station.parts.broadcasting.service
    await phone.terminal.sms(STRANGER, f"{PIN} 转移")
    await phone.event("satphone.command_refused")
    assert service.list() == []
    assert phone.count("satphone.command_refused", reason="not whitelisted") == 1

    await phone.terminal.sms(REPORTER, f"{PIN}转移")
    await phone.event("satphone.command_result")
    [broadcast] = service.list()
    assert (broadcast.source, broadcast.actor) == ("sms", REPORTER)
    assert broadcast.priority == Priority.EVACUATION
    await phone.clock.advance(2.5)  # amplifier warm-up: the broadcast starts, and is reported
    await phone.event("satphone.sms_sent", 2)  # the command's reply and the first report
    messages = await phone.terminal.outbox()
    texts = sorted(m["text"] for m in messages if m["to"] == REPORTER)
    assert texts == sorted([
        f"【沙沟镇应急管理站（模拟）】已启动转移广播 {broadcast.id} 08:00",
        f"【沙沟镇应急管理站（模拟）】已启动紧急转移广播（短信指令 {REPORTER}） 08:00"])
    assert all(m["to"] != STRANGER for m in messages), "a stranger gets no reply"


async def test_wrong_pins_are_refused_then_locked_out(phone: Phone) -> None:
    for _ in range(3):
        await phone.terminal.sms(TIER1, "0000 状态")
    await phone.event("satphone.command_refused", 3)
    await phone.terminal.sms(TIER1, f"{PIN} 状态")
    await phone.event("satphone.command_refused", 4)
    reasons = [d["reason"] for k, d in phone.seen if k == "satphone.command_refused"]
    assert reasons == ["wrong pin", "wrong pin", "wrong pin", "locked out"]
    await phone.event("satphone.sms_sent", 3)
    texts = [m["text"] for m in await phone.terminal.outbox()]
    assert sum("密码错误" in t for t in texts) == 3 and "分钟内不再受理" in texts[-1]


async def call_in(phone: Phone, number: str) -> None:
    await phone.terminal.call("ring", number=number)


async def test_a_call_with_the_right_dtmf_pin_goes_on_the_air(phone: Phone) -> None:
    await call_in(phone, REPORTER)
    await phone.until(lambda: phone.part.calls.call is not None
                      and phone.part.calls.call.state == "pin")
    reply = await phone.terminal.call("dtmf", digits=PIN + "#")
    assert reply["written"]
    await phone.event("satphone.call_live")
    service = phone.run.station.parts.broadcasting.service
    [broadcast] = service.list()
    assert (broadcast.priority, broadcast.source, broadcast.actor) == (
        Priority.LIVE_VOICE, "phone", REPORTER)
    assert (await phone.terminal.call("call_audio", tone_hz=600, seconds=1.0))["written"]
    await phone.terminal.call("hangup")
    await phone.event("satphone.call_ended")
    for _ in range(200):
        if not broadcast.active:
            break
        await phone.clock.advance(0.25)
    assert broadcast.state == "done"
    [wav] = sorted((phone.run.station.config.station.data_dir / "audio-out").glob("*.wav"))
    audio = read_wav_file(wav)
    tail = audio.samples[-audio.rate:]  # the caller's last second
    spectrum = np.abs(np.fft.rfft(tail))
    assert abs(np.argmax(spectrum) * audio.rate / len(tail) - 600) < 5
    assert len(audio.samples) >= 1.0 * audio.rate
    assert phone.count("satphone.call_answered") == 1


async def test_a_wrong_pin_or_a_stranger_is_refused_and_nothing_is_broadcast(
    phone: Phone,
) -> None:
    await call_in(phone, STRANGER)
    await phone.event("satphone.call_ended")
    assert phone.count("satphone.call_refused", reason="not whitelisted") == 1
    status = await phone.terminal.call("status")
    assert "ATA" not in status["commands"] and "ATH" in status["commands"]

    await call_in(phone, TIER1)
    await phone.until(lambda: phone.part.calls.call is not None
                      and phone.part.calls.call.state == "pin")
    await phone.terminal.call("dtmf", digits="1357")
    await phone.event("satphone.call_ended", 2)
    assert phone.count("satphone.call_refused", reason="wrong pin") == 1
    assert (await phone.terminal.call("call"))["call"] is None, "hung up"
    assert phone.run.station.parts.broadcasting.service.list() == []
    assert not list((phone.run.station.config.station.data_dir / "audio-out").glob("*.wav"))


async def test_api_state_sms_and_a_placed_call(phone: Phone) -> None:
    transport = httpx.ASGITransport(app=create_app(phone.run.station))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        sent = await client.post("/api/v1/satphone/sms", headers=SIM_OPERATOR,
                                 json={"to": TIER2, "text": "测试短信"})
        assert sent.status_code == 202 and sent.json()["to"] == TIER2
        await phone.event("satphone.sms_sent")
        state = (await client.get("/api/v1/satphone", headers=SIM_VIEWER)).json()
        assert (state["state"], state["signal"], state["registered"]) == ("ok", 4, True)
        assert [(m["to"], m["text"], m["state"], m["attempts"]) for m in state["outbox"]] == [
            (TIER2, "测试短信", "sent", 1)]
        await phone.terminal.sms(TIER2, "你好")
        await phone.event("satphone.sms_ignored")
        received = (await client.get("/api/v1/satphone/messages", headers=SIM_VIEWER)).json()
        assert [(m["from"], m["text"]) for m in received["received"]] == [(TIER2, "你好")]

        placed = await client.post("/api/v1/satphone/call", headers=SIM_OPERATOR,
                                   json={"to": TIER2})
        assert placed.status_code == 202 and placed.json()["state"] == "dialing"
        assert (await phone.terminal.call("call"))["call"]["number"] == TIER2
        busy = await client.post("/api/v1/satphone/call", headers=SIM_OPERATOR,
                                 json={"to": TIER1})
        assert busy.status_code == 409
        ended = await client.delete("/api/v1/satphone/call", headers=SIM_OPERATOR)
        assert ended.status_code == 200 and ended.json()["state"] == "ended"
        assert (await phone.terminal.call("call"))["call"] is None


async def test_delivery_reports_per_part_in_the_api_metrics_and_journal(phone: Phone) -> None:
    assert phone.part.modem.delivery_reports  # the terminal took +CNMI ds=1
    transport = httpx.ASGITransport(app=create_app(phone.run.station))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        report = (REPORT_BODY * 2)[:100]  # two parts
        sent = await client.post("/api/v1/satphone/sms", headers=SIM_OPERATOR,
                                 json={"to": TIER2, "text": report})
        assert sent.json()["priority"] == "routine"
        await phone.event("satphone.sms_delivery", 2)
        await phone.terminal.call("delivery", status="failed")
        await client.post("/api/v1/satphone/sms", headers=SIM_OPERATOR,
                          json={"to": TIER1, "text": "测试"})
        await phone.event("satphone.sms_delivery", 3)
        listed = (await client.get("/api/v1/satphone/messages", headers=SIM_VIEWER)).json()
        shown = [(m["to"], m["delivery"], m["parts_delivery"]) for m in listed["sent"]]
        assert shown == [(TIER1, "failed", ["failed"]),
                         (TIER2, "delivered", ["delivered", "delivered"])]
        metrics = (await client.get("/metrics", headers=SIM_VIEWER)).text
        assert 'station_edge_satphone_sms_delivery_reports_total{result="delivered"} 2.0' in metrics
        assert 'station_edge_satphone_sms_delivery_reports_total{result="failed"} 1.0' in metrics
    events = await phone.run.settled_events("satphone.sms_delivery")
    assert [(e["data"]["to"], e["data"]["part"], e["data"]["status"], e["data"]["message"])
            for e in events] == [(TIER2, 1, "delivered", "pending"),
                                 (TIER2, 2, "delivered", "delivered"),
                                 (TIER1, 1, "failed", "failed")]
