"""Spot checks: the county asks, the panel blinks and buzzes, the officer answers in time
or the check is missed; every result is listed."""

from __future__ import annotations

from pathlib import Path

import httpx

from edge.api.app import create_app
from tests.helpers import SIM_OPERATOR, SIM_VIEWER, StationRun, sim_config

ACK_PIN = 22


async def test_a_spot_check_answered_by_the_panel_button(tmp_path: Path) -> None:
    async with StationRun(sim_config(tmp_path)) as run:
        transport = httpx.ASGITransport(app=create_app(run.station))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            started = await client.post("/api/v1/checkins", headers=SIM_VIEWER)
            assert started.status_code == 201 and started.json()["state"] == "waiting"
            await run.clock.advance(0.3)
            assert run.station.outputs["panel.buzzer"].switch.is_on
            levels = set()
            for _ in range(4):
                levels.add(run.station.outputs["panel.alarm_led"].switch.is_on)
                await run.clock.advance(0.5)
            assert levels == {True, False}, "the alarm LED blinks"
            alarm = run.station.parts.alarms.hand_alarm("ha-1", "村口手动报警", True)
            await run.clock.advance(40)
            run.station.gpio.drive_mock_input(ACK_PIN, 0)
            await run.clock.advance(0.2)
            run.station.gpio.drive_mock_input(ACK_PIN, 1)
            await run.clock.advance(1)
            [check] = (await client.get("/api/v1/checkins", headers=SIM_VIEWER)).json()[
                "checkins"]
            assert check["state"] == "answered" and check["answered_by"] == "panel"
            assert 40 < check["response_s"] < 45
            assert alarm.state == "active", "one press answers the check, nothing else"
            buzzer = run.station.parts.buzzer
            assert list(buzzer.wanted_by) == [f"alarm:{alarm.id}"], \
                "the answered check no longer buzzes; the alarm nobody acknowledged still does"
            run.station.parts.alarms.acknowledge(alarm.id, actor="duty")
            await run.clock.advance(2)
            assert not buzzer.wanted_by
            assert not run.station.outputs["panel.buzzer"].switch.is_on
        answered = [e for e in await run.settled_events() if e["kind"] == "checkin.answered"]
        assert len(answered) == 1


async def test_a_spot_check_nobody_answers_is_missed(tmp_path: Path) -> None:
    config = sim_config(tmp_path, "[checkins]\nanswer_within_s = 60\n")
    async with StationRun(config) as run:
        transport = httpx.ASGITransport(app=create_app(run.station))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            await client.post("/api/v1/checkins", headers=SIM_VIEWER)
            await run.clock.advance(61)
            [check] = (await client.get("/api/v1/checkins", headers=SIM_VIEWER)).json()[
                "checkins"]
            assert check["state"] == "missed" and check["result"] == "未应答 missed"
            late = await client.post("/api/v1/checkins/answer", headers=SIM_OPERATOR)
            assert late.status_code == 409
            assert not run.station.outputs["panel.buzzer"].switch.is_on
            again = await client.post("/api/v1/checkins", headers=SIM_VIEWER)
            answered = await client.post("/api/v1/checkins/answer", headers=SIM_OPERATOR)
            assert answered.json()["id"] == again.json()["id"]
            assert answered.json()["state"] == "answered"
