"""Broadcasts through the whole station on a manual clock: panel, amplifier, audio-out."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from broadcast.priority import Priority
from broadcast.program import MessageContent, Program, SirenContent
from broadcast.record import Broadcast
from drivers.audio_wav import read_wav_file
from edge.api.app import create_app
from tests.helpers import SIM_OPERATOR, SIM_VIEWER, StationRun, sim_config

EVACUATE_PIN, STOP_PIN = 17, 27
ALL_RELAYS = ["amplifier.power", "amplifier.zone-24", "amplifier.zone-25"]


async def started(tmp_path: Path, extra: str = "") -> StationRun:
    run = StationRun(sim_config(tmp_path, extra))
    await run.__aenter__()
    await run.station.parts.broadcasting.library.prepare()  # real espeak-ng, before time moves
    return run


def relays_on(run: StationRun) -> list[str]:
    return [r for r in ALL_RELAYS if run.station.outputs[r].switch.is_on]


async def press(run: StationRun, pin: int, seconds: float) -> None:
    run.station.gpio.drive_mock_input(pin, 0)
    await run.clock.advance(seconds)
    run.station.gpio.drive_mock_input(pin, 1)
    await run.clock.advance(0.1)


def audio_out(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "audio-out").glob("*.wav"))


async def test_holding_evacuate_plays_the_order_n_times_and_a_brush_does_nothing(
    tmp_path: Path,
) -> None:
    run = await started(tmp_path)
    try:
        bc = run.station.parts.broadcasting
        await press(run, EVACUATE_PIN, 0.5)
        await run.clock.advance(5)
        assert relays_on(run) == [] and bc.service.list() == [], "0.5 s does nothing"

        run.station.gpio.drive_mock_input(EVACUATE_PIN, 0)
        await run.clock.advance(1.6)
        assert run.station.outputs["amplifier.power"].switch.is_on
        run.station.gpio.drive_mock_input(EVACUATE_PIN, 1)
        await run.clock.advance(2.5)  # warm-up
        assert relays_on(run) == ALL_RELAYS
        broadcast = bc.service.on_air
        assert broadcast is not None and broadcast.source == "panel"
        assert broadcast.priority == Priority.EVACUATION
        while broadcast.state == "playing" and run.clock.monotonic() < 300:
            await run.clock.advance(0.5)
        assert broadcast.state == "done" and broadcast.plays == 3
        assert relays_on(run) == ["amplifier.power"], "zones OFF, power held"
        await run.clock.advance(9)
        assert relays_on(run) == ["amplifier.power"]
        await run.clock.advance(1.5)
        assert relays_on(run) == [], "power OFF after hold_s"

        clip = await bc.library.audio("evacuate")
        [wav] = audio_out(tmp_path)
        out = read_wav_file(wav).samples
        rate = bc.repertoire.rate
        chime_len = len(out) - 3 * len(clip) - 2 * round(3.0 * rate)
        assert 0 < chime_len < 3 * rate
        for k in range(3):
            start = chime_len + k * (len(clip) + round(3.0 * rate))
            played = out[start:start + len(clip)]
            assert np.corrcoef(played, clip)[0, 1] > 0.99, f"repetition {k} is the order"
        events = [e["kind"] for e in await run.settled_events()]
        assert events.count("broadcast.played") == 3
        assert "panel.evacuate" in events
    finally:
        await run.__aexit__()


async def test_sound_starts_within_warmup_plus_100ms_of_the_trigger(tmp_path: Path) -> None:
    run = await started(tmp_path)
    try:
        bc = run.station.parts.broadcasting
        run.station.gpio.drive_mock_input(EVACUATE_PIN, 0)
        await run.clock.advance(1.5 + 0.05)  # hold time + debounce
        triggered = [e for e in await run.settled_events() if e["kind"] == "panel.evacuate"]
        assert triggered
        t_trigger = run.clock.monotonic()
        await run.clock.advance(3.0)
        assert bc.output.sound_started_at is not None
        assert bc.output.sound_started_at - t_trigger <= 2.0 + 0.1
        run.station.gpio.drive_mock_input(EVACUATE_PIN, 1)
    finally:
        await run.__aexit__()


async def test_stop_ends_the_broadcast_and_relays_go_off_after_hold(tmp_path: Path) -> None:
    run = await started(tmp_path)
    try:
        bc = run.station.parts.broadcasting
        await press(run, EVACUATE_PIN, 1.6)
        await run.clock.advance(5)
        broadcast = bc.service.on_air
        assert broadcast is not None
        await press(run, STOP_PIN, 0.2)
        assert broadcast.state == "cancelled" and broadcast.actor == "panel"
        assert relays_on(run) == ["amplifier.power"]
        await run.clock.advance(10.5)
        assert relays_on(run) == []
    finally:
        await run.__aexit__()


COMMON: dict[str, Any] = {"zones": ["all"], "type": "emergency", "actor": "test"}


async def rain_message_on_air(run: StationRun) -> Broadcast:
    """The prepare message, twice, at the rain-message priority: playing."""
    rain = await run.station.parts.broadcasting.service.submit(
        Program(MessageContent("prepare"), repeat=2), priority=Priority.RAIN_MESSAGE,
        source="rain_rule", **COMMON)
    await run.clock.advance(4)
    assert rain.state == "playing"
    return rain


async def test_a_siren_preempts_a_rain_message_which_resumes_and_evacuation_preempts_the_siren(
    tmp_path: Path,
) -> None:
    run = await started(tmp_path)
    try:
        service = run.station.parts.broadcasting.service
        rain = await rain_message_on_air(run)
        siren = await service.submit(Program(SirenContent("continuous")),
                                     priority=Priority.ALARM_SIREN, source="hand_alarm", **COMMON)
        await run.clock.advance(0.2)
        assert service.on_air is siren and rain.state == "waiting" and rain.preemptions == 1
        evacuation = await service.submit(Program(MessageContent("evacuate")),
                                          priority=Priority.EVACUATION, source="api", **COMMON)
        await run.clock.advance(0.2)
        assert service.on_air is evacuation and siren.state == "waiting"
        await run.clock.advance(400)
        assert [evacuation.state, siren.state, rain.state] == ["done", "done", "done"]
        assert rain.plays == 2
        kinds = [(e["kind"], e["source"]) for e in await run.settled_events()
                 if e["kind"] in ("broadcast.preempted", "broadcast.resumed", "broadcast.done")]
        assert kinds == [
            ("broadcast.preempted", rain.id), ("broadcast.preempted", siren.id),
            ("broadcast.done", evacuation.id), ("broadcast.resumed", siren.id),
            ("broadcast.done", siren.id), ("broadcast.resumed", rain.id),
            ("broadcast.done", rain.id),
        ]
    finally:
        await run.__aexit__()


async def test_a_request_whose_caller_is_cancelled_half_way_is_made_whole(
    tmp_path: Path,
) -> None:
    """An alarm acknowledged while its siren signal was still preempting a message: the
    alarm's task is cancelled inside ``submit``. The air queue must not be left expecting
    a broadcast that never starts (it showed as 即将广播 for ever, and everything after it
    queued behind it), nor a stop half done."""
    run = await started(tmp_path)
    try:
        service = run.station.parts.broadcasting.service
        rain = await rain_message_on_air(run)
        submitting = asyncio.ensure_future(service.submit(
            Program(SirenContent("continuous")), priority=Priority.ALARM_SIREN,
            source="hand_alarm", labels={"alarm": "a-1"}, **COMMON))
        await asyncio.sleep(0)  # registered, and waiting for the rain message to fade out
        [siren] = [b for b in service.list(active=True) if b.labels.get("alarm") == "a-1"]
        submitting.cancel()
        await asyncio.gather(submitting, return_exceptions=True)
        assert submitting.cancelled(), "the caller's cancellation still reaches it"
        await run.clock.advance(0.2)
        assert service.on_air is siren and rain.state == "waiting", "the request was made whole"

        stopping = asyncio.ensure_future(service.cancel(siren.id, actor="test"))
        await asyncio.sleep(0)  # fading out
        stopping.cancel()
        await asyncio.gather(stopping, return_exceptions=True)
        await run.clock.advance(0.2)
        assert siren.state == "cancelled" and service.on_air is rain, "the stop was made whole"
        evacuation = await service.submit(Program(MessageContent("evacuate")),
                                          priority=Priority.EVACUATION, source="api", **COMMON)
        await run.clock.advance(0.2)
        assert service.on_air is evacuation, "nothing stale stands in the queue"
    finally:
        await run.__aexit__()


async def test_stopping_the_station_mid_broadcast_journals_it_as_interrupted(
    tmp_path: Path,
) -> None:
    run = await started(tmp_path)
    bc = run.station.parts.broadcasting
    broadcast = await bc.evacuate(source="api", actor="test")
    await run.clock.advance(4)
    assert broadcast.state == "playing"
    run.station.request_stop("SIGTERM")
    await run.station.stop()
    assert broadcast.state == "interrupted"
    from drivers.gpio import PinLatch
    from edge.journal import Journal

    assert not any(PinLatch(tmp_path / "sim-gpio-latch.json").read().values())

    events = Journal(tmp_path / "journal.db", run.clock).read(limit=10000)
    stopping = next(e for e in events if e["kind"] == "station.stopping")
    assert stopping["data"]["broadcasts_interrupted"] == [broadcast.id]
    assert any(e["kind"] == "broadcast.interrupted" and e["source"] == broadcast.id
               for e in events)


async def test_api_starts_refuses_and_deduplicates_broadcasts(tmp_path: Path) -> None:
    run = await started(tmp_path)
    try:
        transport = httpx.ASGITransport(app=create_app(run.station))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            bad_zone = await client.post("/api/v1/broadcasts", headers=SIM_OPERATOR,
                                         json={"message": "test", "zones": ["east"]})
            assert bad_zone.status_code == 422 and "unknown zones ['east']" in bad_zone.text
            bad_message = await client.post("/api/v1/broadcasts", headers=SIM_OPERATOR,
                                            json={"message": "nope"})
            assert bad_message.status_code == 422
            two = await client.post("/api/v1/broadcasts", headers=SIM_OPERATOR,
                                    json={"message": "test", "siren": "continuous"})
            assert two.status_code == 422
            key = {**SIM_OPERATOR, "Idempotency-Key": "county-42"}
            first = await client.post("/api/v1/broadcasts", headers=key,
                                      json={"message": "test", "type": "drill"})
            again = await client.post("/api/v1/broadcasts", headers=key,
                                      json={"message": "test", "type": "drill"})
            assert first.status_code == again.status_code == 202
            assert first.json()["id"] == again.json()["id"]
            assert len(run.station.parts.broadcasting.service.list()) == 1
            active = await client.get("/api/v1/broadcasts?active=true", headers=SIM_VIEWER)
            assert [b["id"] for b in active.json()["broadcasts"]] == [first.json()["id"]]
            await run.clock.advance(3)
            stop = await client.delete(f"/api/v1/broadcasts/{first.json()['id']}",
                                       headers=SIM_OPERATOR)
            assert stop.json()["state"] == "cancelled"
            record = (await client.get(f"/api/v1/broadcasts/{first.json()['id']}",
                                       headers=SIM_VIEWER)).json()
            assert record["type"] == "drill" and record["type_zh"] == "演练"
            assert record["started"] and record["ended"]
            messages = (await client.get("/api/v1/messages", headers=SIM_VIEWER)).json()
            assert {"evacuate", "prepare", "all_clear", "test"} <= {
                m["id"] for m in messages["messages"]}
    finally:
        await run.__aexit__()


@pytest.mark.parametrize(("body", "status"), [(b"not a wav", 422), (None, 201)])
async def test_message_upload_is_checked_and_a_bad_one_changes_nothing(
    tmp_path: Path, body: bytes | None, status: int
) -> None:
    from drivers.audio_wav import encode_wav

    run = await started(tmp_path)
    try:
        if body is None:
            tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
            body = encode_wav(tone.astype(np.float32), 16000)
        transport = httpx.ASGITransport(app=create_app(run.station))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            reply = await client.post("/api/v1/messages?id=test", content=body,
                                      headers={"Authorization": "Bearer sim-admin",
                                               "Content-Type": "audio/wav"})
            assert reply.status_code == status, reply.text
            info = next(m for m in (await client.get("/api/v1/messages", headers=SIM_VIEWER))
                        .json()["messages"] if m["id"] == "test")
            assert info["source"] == ("uploaded" if status == 201 else "tts")
    finally:
        await run.__aexit__()
