"""A restarted station carries on where it was (in-process, on manual clocks that go on
from where the last run stopped): alarms under the same ids, acknowledged or sounding;
idempotency keys, panel sessions and a waiting spot check; an unwritable disk is a 503
with its reason, never a hang. The same through ``kill -9`` of a real daemon is in
test_crash_matrix.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from drivers.clock import ManualClock
from edge.api.app import create_app
from edge.api.security import CSRF_HEADER, SESSION_COOKIE
from edge.config import Config
from tests.helpers import SIM_OPERATOR, SIM_VIEWER, StationRun, sim_config
from tests.test_alarms_station import PULSE_GAUGE, rain, sirens_on

HAND_ALARM_PIN = 6
BROADCAST = {"message": "test", "type": "drill"}
HALF_HOUR = """
[[rain_thresholds]]
gauge = "*"
window = "30min"
prepare_mm = 20.0
evacuate_mm = 500.0
"""


async def started(config: Config, clock: ManualClock) -> StationRun:
    run = StationRun(config, clock)
    await run.__aenter__()
    return run


async def restarted(run: StationRun) -> StationRun:
    """Stop the station and start it again on the same data, its clock going on."""
    await run.__aexit__()
    return await started(run.station.config, ManualClock(run.clock.now()))


def client(run: StationRun) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(run.station))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")


async def restored_event(run: StationRun) -> dict[str, Any]:
    """What this start took back (the journal holds one such event per start)."""
    *_, event = await run.settled_events("state.restored")
    data: dict[str, Any] = event["data"]  # type: ignore[assignment]
    return data


async def test_alarms_carry_on_under_their_ids_acknowledged_or_sounding(
    tmp_path: Path,
) -> None:
    run = await started(sim_config(tmp_path, PULSE_GAUGE + HALF_HOUR), ManualClock())
    try:
        await rain(run, 50.0, over_s=1500)  # 2 mm/min: prepare, then evacuate in the hour
        [rain_alarm] = run.station.parts.alarms.list(open_only=True)
        assert rain_alarm.level == "evacuate"
        async with client(run) as api:
            ack = await api.post(f"/api/v1/alarms/{rain_alarm.id}/ack", headers=SIM_OPERATOR)
            assert ack.status_code == 200 and ack.json()["state"] == "acknowledged"
        await run.clock.advance(1800)  # the 30 min window clears; the 1 h one holds evacuate
        assert [(w["window"], w["level"]) for w in rain_alarm.windows] == [
            ("30min", "prepare"), ("1h", "prepare"), ("1h", "evacuate"), ("30min", "none")]
        run.station.gpio.drive_mock_input(HAND_ALARM_PIN, 0)  # a villager holds the button
        await run.clock.advance(2)
        hand = run.station.parts.alarms.open_for("ha-1")
        assert hand is not None and hand.state == "active" and sirens_on(run)

        run = await restarted(run)
        alarms = run.station.parts.alarms
        carried = {a.id: a for a in alarms.list(open_only=True)}
        assert set(carried) == {rain_alarm.id, hand.id}
        assert carried[rain_alarm.id].state == "acknowledged"
        assert carried[rain_alarm.id].acknowledged_by == "sim-operator"
        assert carried[rain_alarm.id].windows == rain_alarm.windows, "every window's record"
        assert carried[hand.id].state == "active"
        restored = await restored_event(run)
        assert restored["ids"]["alarms"] == sorted([rain_alarm.id, hand.id])
        assert restored["counts"]["alarms"] == 2
        await run.clock.advance(1)
        assert sirens_on(run), "the unacknowledged hand alarm sounds again at once"

        await rain(run, 2.0, over_s=60)  # the rain, still above its threshold, goes on
        assert {a.id for a in alarms.list(open_only=True)} == set(carried), "no new alarm"
        async with client(run) as api:
            ack = await api.post(f"/api/v1/alarms/{hand.id}/ack", headers=SIM_OPERATOR)
            assert ack.status_code == 200
            gone = await api.post("/api/v1/alarms/a-nope/ack", headers=SIM_OPERATOR)
            assert gone.status_code == 404
        assert carried[hand.id].state == "cleared", "acknowledged with its button up"
        await run.clock.advance(13)
        assert not sirens_on(run), "nothing left unacknowledged: the sirens are silent"
        await run.clock.advance(3600)  # the rain stopped an hour ago
        assert carried[rain_alarm.id].state == "cleared"
        run = await restarted(run)
        assert run.station.parts.alarms.list() == [], "cleared alarms are not carried on"
        await run.clock.advance(13)
        assert not sirens_on(run)
    finally:
        await run.__aexit__()


async def test_keys_sessions_and_a_waiting_spot_check_survive_a_restart(
    tmp_path: Path,
) -> None:
    run = await started(sim_config(tmp_path), ManualClock())
    try:
        key = {**SIM_OPERATOR, "Idempotency-Key": "county-7"}
        async with client(run) as api:
            first = await api.post("/api/v1/broadcasts", headers=key, json=BROADCAST)
            assert first.status_code == 202
            signed = await api.post("/api/v1/sign-in", json={"token": "sim-operator"})
            cookie, csrf = signed.cookies[SESSION_COOKIE], signed.json()["csrf"]
            check = await api.post("/api/v1/checkins", headers=SIM_VIEWER)
            assert check.status_code == 201

        run = await restarted(run)
        restored = await restored_event(run)
        assert restored["counts"] == {"alarms": 0, "checkins": 1, "idempotency_keys": 1,
                                      "latched_faults": 0, "panel_sessions": 1}
        async with client(run) as api:
            again = await api.post("/api/v1/broadcasts", headers=key, json=BROADCAST)
            assert (again.status_code, again.json()) == (202, first.json())
            assert again.headers["idempotent-replayed"] == "true"
            assert run.station.parts.broadcasting.service.list() == [], "not broadcast twice"
            api.cookies.set(SESSION_COOKIE, cookie)
            who = await api.get("/api/v1/session")
            assert who.status_code == 200 and who.json()["csrf"] == csrf
            [waiting] = (await api.get("/api/v1/checkins", headers=SIM_VIEWER)).json()[
                "checkins"]
            assert waiting["id"] == check.json()["id"] and waiting["state"] == "waiting"
            await run.clock.advance(30)
            answer = await api.post("/api/v1/checkins/answer", headers={CSRF_HEADER: csrf})
            assert answer.status_code == 200 and answer.json()["state"] == "answered"
            assert answer.json()["response_s"] >= 30, "the time to answer ran on"
    finally:
        await run.__aexit__()


async def test_a_latched_fault_is_still_a_fault_after_a_restart_until_cleared(
    tmp_path: Path,
) -> None:
    config = sim_config(tmp_path, **{"relay = 16": "relay = 16\nmax_on_s = 60"})
    run = await started(config, ManualClock())
    try:
        await run.station.outputs.set("siren-1", True, actor="test", reason="stuck")
        await run.clock.advance(61)  # cut at its maximum on-time: latched
        detail = run.station.health.get("siren-1").detail
        assert "cut after 60 s" in detail

        run = await restarted(run)
        health, outputs = run.station.health, run.station.outputs
        assert (health.get("siren-1").status, health.get("siren-1").detail) == ("fault", detail)
        assert health.status() == "fault"
        await run.clock.advance(1)
        assert outputs["panel.fault_led"].switch.is_on, "the fault LED lights again"
        restored = await restored_event(run)
        assert restored["ids"]["latched_faults"] == ["siren-1"]
        assert restored["counts"]["latched_faults"] == 1
        async with client(run) as api:
            [fault] = (await api.get("/api/v1/faults", headers=SIM_VIEWER)).json()["faults"]
            assert (fault["device"], fault["output"], fault["detail"]) == (
                "siren-1", "siren-1", detail)
            state = (await api.get("/api/v1/state", headers=SIM_VIEWER)).json()
            siren = next(d for d in state["devices"] if d["id"] == "siren-1")
            assert (siren["status"], siren["latched"]) == ("fault", True)
            cleared = await api.post("/api/v1/faults/siren-1/clear", headers=SIM_OPERATOR)
            assert cleared.status_code == 200 and cleared.json()["cleared_by"] == "sim-operator"
        assert health.get("siren-1").status == "ok"
        await run.clock.advance(1)
        assert not outputs["panel.fault_led"].switch.is_on

        run = await restarted(run)
        assert run.station.parts.faults.list() == [], "a cleared fault stays cleared"
        assert run.station.health.get("siren-1").status == "ok"
    finally:
        await run.__aexit__()


async def test_a_change_the_disk_cannot_take_is_a_503_with_the_reason(tmp_path: Path) -> None:
    run = await started(sim_config(tmp_path), ManualClock())
    try:
        run.station.gpio.drive_mock_input(HAND_ALARM_PIN, 0)
        await run.clock.advance(2)
        alarm = run.station.parts.alarms.open_for("ha-1")
        assert alarm is not None
        read_only = [run.station.state._writer.connection,  # type: ignore[union-attr]
                     run.station.journal._conn]
        for conn in read_only:  # as a disk the kernel remounted read-only
            assert conn is not None
            conn.execute("PRAGMA query_only = ON")
        async with client(run) as api:
            ack = await api.post(f"/api/v1/alarms/{alarm.id}/ack", headers=SIM_OPERATOR)
            assert ack.status_code == 503 and "readonly" in ack.json()["detail"]
            assert alarm.state == "acknowledged", "done in memory all the same"
            await run.clock.advance(5)  # the alarm's broadcast winds down
            assert not sirens_on(run)
            health = (await api.get("/api/v1/health", headers=SIM_VIEWER)).json()
            states = {d["id"]: (d["status"], d["detail"]) for d in health["devices"]}
            assert states["state"][0] == "fault" and "readonly" in states["state"][1]
            for conn in read_only:
                assert conn is not None
                conn.execute("PRAGMA query_only = OFF")
            await run.station.state.durable(timeout_s=30)
            later = await api.post("/api/v1/checkins", headers=SIM_VIEWER)
            assert later.status_code == 201, "durable again once the disk takes writes"
    finally:
        await run.__aexit__()
