"""Rain alarms and hand alarms through a whole in-process station on a manual clock.

The gauge here is a pulse gauge on a mock GPIO pin (each tip 0.5 mm), so the test
drives rain tip by tip and time by hand; Modbus gauges are exercised against the real
simulator in test_rain_sim_station.py.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from broadcast.priority import Priority
from broadcast.program import MessageContent, Program, SirenContent
from broadcast.record import Broadcast
from edge.api.app import create_app
from tests.helpers import SIM_OPERATOR, SIM_VIEWER, StationRun, sim_config

PULSE_PIN, HAND_ALARM_PIN, ACK_PIN = 20, 6, 22
PULSE_GAUGE = '''
[[rain_gauges]]
id = "rg-p"
name = "村口雨量站"
kind = "pulse"
pin = 20
mm_per_tip = 0.5
'''


def config(tmp_path: Path):  # type: ignore[no-untyped-def]
    return sim_config(tmp_path, PULSE_GAUGE)


async def start(tmp_path: Path) -> StationRun:
    run = StationRun(config(tmp_path))
    await run.__aenter__()
    await run.station.parts.broadcasting.library.prepare()
    speech = run.station.parts.broadcasting.speech
    await speech.speak("村口雨量站1小时雨量30.0毫米，已达准备转移。")
    await speech.speak("村口雨量站1小时雨量50.0毫米，已达立即转移，请立即转移！")
    return run


async def rain(run: StationRun, mm: float, over_s: float) -> None:
    tips = round(mm / 0.5)
    for _ in range(tips):
        run.station.gpio.drive_mock_input(PULSE_PIN, 0)
        await run.clock.advance(0.06)
        run.station.gpio.drive_mock_input(PULSE_PIN, 1)
        await run.clock.advance(max(0.06, over_s / tips - 0.06))


def sirens_on(run: StationRun) -> bool:
    return run.station.outputs["siren-1"].switch.is_on


async def test_rain_raises_prepare_then_evacuate_ack_stops_the_sirens_and_it_clears(
    tmp_path: Path,
) -> None:
    run = await start(tmp_path)
    try:
        alarms = run.station.parts.alarms
        service = run.station.parts.broadcasting.service
        await rain(run, 30.0, over_s=900)  # 2 mm/min
        [alarm] = alarms.list(open_only=True)
        assert (alarm.kind, alarm.level, alarm.window, alarm.state) == (
            "rain", "prepare", "1h", "active")
        assert alarm.summary_zh() == "村口雨量站1小时雨量30.0毫米，已达准备转移"
        await run.clock.advance(1)
        assert run.station.outputs["panel.alarm_led"].switch.is_on
        spoken = [b for b in service.list() if b.priority == Priority.RAIN_MESSAGE]
        assert len(spoken) == 2 and spoken[0].content_json() == {
            "text": "村口雨量站1小时雨量30.0毫米，已达准备转移。"}
        assert not sirens_on(run)

        await rain(run, 20.0, over_s=600)  # escalation, never acknowledged
        assert alarm.level == "evacuate" and alarm.state == "active"
        await run.clock.advance(1)
        assert sirens_on(run), "evacuate sounds the sirens"
        assert service.on_air is not None and service.on_air.priority == Priority.ALARM_SIREN

        transport = httpx.ASGITransport(app=create_app(run.station))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            listed = (await client.get("/api/v1/alarms", headers=SIM_VIEWER)).json()["alarms"]
            assert [a["id"] for a in listed] == [alarm.id]
            ack = await client.post(f"/api/v1/alarms/{alarm.id}/ack", headers=SIM_OPERATOR)
            assert ack.status_code == 200 and ack.json()["state"] == "acknowledged"
            await run.clock.advance(1)
            assert not sirens_on(run), "ACK stops the sirens"
            assert all(not b.active for b in service.list() if b.labels.get("alarm") == alarm.id)
            assert not run.station.outputs["panel.alarm_led"].switch.is_on

            await run.clock.advance(3600)  # the rain stopped an hour ago
            assert alarm.state == "cleared"
            rain_json = (await client.get("/api/v1/rain", headers=SIM_VIEWER)).json()
            gauge = next(g for g in rain_json["gauges"] if g["id"] == "rg-p")
            assert gauge["level"] == "none" and gauge["totals"]["24h"] == 50.0
            series = await client.get("/api/v1/rain/rg-p/series?step=3600",
                                      headers=SIM_VIEWER)
            assert sum(p["mm"] for p in series.json()["points"]) == 50.0
            csv = await client.get("/api/v1/rain/rg-p/series?step=3600",
                                   headers={**SIM_VIEWER, "Accept": "text/csv"})
            assert csv.text.startswith("time,mm\n") and len(csv.text.splitlines()) == 25
        kinds = [e["kind"] for e in await run.settled_events() if e["kind"].startswith("alarm.")]
        assert kinds == ["alarm.raised", "alarm.escalated", "alarm.acknowledged", "alarm.lowered",
                         "alarm.cleared"]
    finally:
        await run.__aexit__()


async def test_an_ack_while_the_siren_signal_preempts_a_message_stops_all_of_it(
    tmp_path: Path,
) -> None:
    """The officer acknowledges in the instant the alarm's siren signal is taking the air
    from a rain message: the alarm's task is cancelled inside the request. Nothing of the
    alarm may go on afterwards (it showed 即将广播 on the panel), and the message resumes."""
    run = await start(tmp_path)
    try:
        alarms = run.station.parts.alarms
        service = run.station.parts.broadcasting.service
        message = await service.submit(
            Program(MessageContent("prepare"), repeat=3), zones=["all"],
            priority=Priority.RAIN_MESSAGE, type="emergency", source="rain_rule", actor="test")
        await run.clock.advance(4)
        assert service.on_air is message
        journal = service.on_event

        def ack_when_the_siren_is_asked_for(kind: str, broadcast: Broadcast,
                                            data: dict[str, Any]) -> None:
            journal(kind, broadcast, data)
            if kind == "requested" and isinstance(broadcast.program.content, SirenContent):
                alarm_id = broadcast.labels["alarm"]  # next turn: the request is under way
                asyncio.get_running_loop().call_soon(
                    lambda: alarms.acknowledge(alarm_id, actor="sim-operator"))

        service.on_event = ack_when_the_siren_is_asked_for
        run.station.gpio.drive_mock_input(HAND_ALARM_PIN, 0)
        await run.clock.advance(1.5)
        [alarm] = alarms.list()
        assert alarm.state == "acknowledged"
        run.station.gpio.drive_mock_input(HAND_ALARM_PIN, 1)
        await run.clock.advance(2)
        assert [b.state for b in service.list() if b.labels.get("alarm") == alarm.id] == [
            "cancelled"]
        assert not sirens_on(run)
        assert service.on_air is message, "the message takes the air back"
    finally:
        await run.__aexit__()


async def test_a_held_hand_alarm_sounds_the_sirens_until_the_panel_ack(tmp_path: Path) -> None:
    run = await start(tmp_path)
    try:
        alarms = run.station.parts.alarms
        run.station.gpio.drive_mock_input(HAND_ALARM_PIN, 0)
        await run.clock.advance(0.2)
        run.station.gpio.drive_mock_input(HAND_ALARM_PIN, 1)
        await run.clock.advance(1)
        assert alarms.list() == [], "a brush shorter than hold_s does nothing"
        run.station.gpio.drive_mock_input(HAND_ALARM_PIN, 0)
        await run.clock.advance(1.0)
        [alarm] = alarms.list()
        assert alarm.kind == "hand_alarm" and alarm.source == "ha-1"
        await run.clock.advance(0.5)
        assert sirens_on(run)
        run.station.gpio.drive_mock_input(ACK_PIN, 0)
        await run.clock.advance(0.2)
        run.station.gpio.drive_mock_input(ACK_PIN, 1)
        await run.clock.advance(0.5)
        assert alarm.state == "acknowledged" and alarm.acknowledged_by == "panel"
        assert not sirens_on(run)
        run.station.gpio.drive_mock_input(HAND_ALARM_PIN, 1)
        await run.clock.advance(0.5)
        assert alarm.state == "cleared"
    finally:
        await run.__aexit__()


async def test_an_alarm_that_nobody_acknowledges_stops_at_max_on_time(tmp_path: Path) -> None:
    run = StationRun(sim_config(tmp_path, '[alarms]\nmax_on_s = 60\n'))
    await run.__aenter__()
    try:
        await run.station.parts.broadcasting.library.prepare()
        await run.station.parts.broadcasting.speech.speak("村口手动报警已触发，请立即转移！")
        run.station.gpio.drive_mock_input(HAND_ALARM_PIN, 0)
        await run.clock.advance(2)
        assert sirens_on(run)
        await run.clock.advance(400)
        assert not sirens_on(run)
        faults = [e for e in await run.settled_events() if e["kind"] == "fault.alarm_max_on_time"]
        assert len(faults) == 1
    finally:
        await run.__aexit__()
