"""The duty panel's API through an in-process station on a manual clock.

The overall state and what is sounding, one evacuation at a time (``if_active``), the
buzzer for an unacknowledged alarm, a latched fault cleared by an operator, handover
notes in the 值班记录 and its CSV, the heartbeat and described journal on the stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from edge.api.app import create_app
from tests.helpers import SIM_ADMIN, SIM_OPERATOR, SIM_VIEWER, StationRun, sim_config

EVACUATE = {"message": "evacuate", "zones": ["all"], "repeat": 3, "priority": "evacuation",
            "type": "emergency"}
HAND_ALARM_PIN = 6
PULSE_GAUGE = """
[[rain_gauges]]
id = "rg-p"
name = "后山雨量站"
kind = "pulse"
pin = 20
mm_per_tip = 5.0
"""


@asynccontextmanager
async def station(tmp_path: Path, extra: str = "") -> AsyncIterator[
        tuple[StationRun, httpx.AsyncClient]]:
    async with StationRun(sim_config(tmp_path, extra)) as run:
        transport = httpx.ASGITransport(app=create_app(run.station))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            yield run, client


async def press_hand_alarm(run: StationRun) -> None:
    run.station.gpio.drive_mock_input(HAND_ALARM_PIN, 0)
    await run.clock.advance(0.7)


async def test_the_state_says_what_happens_what_sounds_and_what_to_do(tmp_path: Path) -> None:
    async with station(tmp_path, PULSE_GAUGE) as (run, client):
        calm = (await client.get("/api/v1/state", headers=SIM_VIEWER)).json()
        assert calm["overall"]["level"] == "ok" and calm["alarms"] == []
        siren = next(d for d in calm["devices"] if d["id"] == "siren-1")
        assert siren["name"]["zh"] == "村委会警报器" and siren["status_words"]["zh"] == "正常"
        assert {"rg-p", "rain_archive"} <= {d["id"] for d in calm["devices"]}
        unnamed = [d["id"] for d in calm["devices"] if d["name"]["zh"].isascii()]
        assert not unnamed, "every device is named in Chinese"

        await press_hand_alarm(run)
        state = (await client.get("/api/v1/state", headers=SIM_VIEWER)).json()
        assert state["overall"]["level"] == "evacuate"
        assert state["overall"]["says"]["zh"] == "立即转移"
        [alarm] = state["alarms"]
        assert alarm["cause"]["zh"] == "村口手动报警被按下" and alarm["sirens"] is True
        assert alarm["checklist"] == list(run.station.config.alarms.checklist.hand_alarm)
        assert "警报器鸣响：村委会警报器" in [s["zh"] for s in state["sounding"]]
        assert run.station.parts.buzzer.wanted_by, "the duty-room buzzer beeps"

        ack = await client.post(f"/api/v1/alarms/{alarm['id']}/ack", headers=SIM_OPERATOR)
        assert ack.status_code == 200
        await run.clock.advance(1)
        after = (await client.get("/api/v1/state", headers=SIM_VIEWER)).json()
        assert after["alarms"][0]["sirens"] is False and not run.station.parts.buzzer.wanted_by
        assert after["overall"]["level"] == "evacuate", "acknowledged is not over"


async def test_the_buzzer_can_be_left_out_of_alarms(tmp_path: Path) -> None:
    quiet = sim_config(tmp_path, **{"buzzer = 19": "buzzer = 19\nbuzzer_on_alarm = false"})
    async with StationRun(quiet) as run:
        await press_hand_alarm(run)
        assert run.station.parts.alarms.list(open_only=True)
        assert run.station.parts.alarm_actions.sounding(), "the sirens sound"
        assert not run.station.parts.buzzer.wanted_by, "the buzzer does not"


async def test_one_evacuation_at_a_time_unless_asked(tmp_path: Path) -> None:
    async with station(tmp_path) as (run, client):
        first = await client.post("/api/v1/broadcasts", json=EVACUATE, headers=SIM_OPERATOR)
        assert first.status_code == 202
        second = await client.post("/api/v1/broadcasts", json=EVACUATE, headers=SIM_OPERATOR)
        assert second.status_code == 409
        assert second.json()["active"]["id"] == first.json()["id"]
        service = run.station.parts.broadcasting.service
        assert [b.id for b in service.list(active=True)] == [first.json()["id"]]

        restart = await run.while_time_runs(client.post(
            "/api/v1/broadcasts", json=EVACUATE | {"if_active": "restart"}, headers=SIM_OPERATOR))
        assert restart.status_code == 202
        assert service.get(first.json()["id"]).state == "cancelled"
        assert [b.id for b in service.list(active=True)] == [restart.json()["id"]]

        queued = await client.post("/api/v1/broadcasts", json=EVACUATE | {"if_active": "queue"},
                                   headers=SIM_OPERATOR)
        assert queued.status_code == 202
        assert len(service.list(active=True)) == 2, "queued only when asked"

        await run.while_time_runs(service.stop_all(actor="test"))
        run.station.gpio.drive_mock_input(17, 0)  # the physical EVACUATE button, held
        await run.clock.advance(1.7)
        run.station.gpio.drive_mock_input(17, 1)
        await run.clock.advance(0.2)
        run.station.gpio.drive_mock_input(17, 0)  # and again
        await run.clock.advance(1.7)
        run.station.gpio.drive_mock_input(17, 1)
        await run.clock.advance(0.2)
        active = service.list(active=True)
        assert len(active) == 1 and active[0].actor == "panel", "the button restarts, never queues"


async def test_a_cut_at_maximum_on_time_stays_until_an_operator_clears_it(tmp_path: Path
                                                                          ) -> None:
    async with station(tmp_path) as (run, client):
        outputs = run.station.outputs
        await outputs.set("amplifier.power", True, actor="test", reason="stuck")
        await run.clock.advance(run.station.config.amplifier.max_on_s + 1)
        state = (await client.get("/api/v1/state", headers=SIM_VIEWER)).json()
        amp = next(d for d in state["devices"] if d["id"] == "amplifier")
        assert (amp["status"], amp["latched"]) == ("fault", True)
        assert amp["detail_words"]["zh"].startswith("连续接通")
        assert "清除故障" in amp["advice"]["zh"]
        await run.clock.advance(600)
        assert run.station.health.get("amplifier").status == "fault", "it stays"

        viewer = await client.post("/api/v1/faults/amplifier/clear", headers=SIM_VIEWER)
        assert viewer.status_code == 403
        await outputs.set("amplifier.power", True, actor="test", reason="still stuck")
        refused = await client.post("/api/v1/faults/amplifier/clear", headers=SIM_OPERATOR)
        assert refused.status_code == 409 and "still ON" in refused.json()["detail"]
        await outputs.set("amplifier.power", False, actor="test", reason="fixed")
        cleared = await client.post("/api/v1/faults/amplifier/clear", headers=SIM_OPERATOR)
        assert cleared.status_code == 200 and cleared.json()["cleared_by"] == "sim-operator"
        assert run.station.health.get("amplifier").status == "ok"
        assert (await client.get("/api/v1/faults", headers=SIM_VIEWER)).json()["faults"] == []
        again = await client.post("/api/v1/faults/amplifier/clear", headers=SIM_OPERATOR)
        assert again.status_code == 404, "cleared already: not 'the cause is still there'"
        [event] = await run.settled_events("fault.cleared")
        assert (event["source"], event["actor"]) == ("amplifier", "sim-operator")


async def test_the_duty_day_with_handover_notes_as_json_and_csv(tmp_path: Path) -> None:
    async with station(tmp_path) as (run, client):
        await press_hand_alarm(run)
        await run.clock.advance(30)  # the sirens' cadence: chatter
        note = await client.post("/api/v1/duty-log/notes", json={"text": "村口报警已核实，误报"},
                                 headers=SIM_OPERATOR)
        assert note.status_code == 201
        assert (await client.post("/api/v1/duty-log/notes", json={"text": "x"},
                                  headers=SIM_VIEWER)).status_code == 403
        day = (await client.get("/api/v1/duty-log", headers=SIM_VIEWER)).json()
        kinds = [e["kind"] for e in day["entries"]]
        assert kinds.index("alarm.raised") < kinds.index("duty.handover_note")
        assert "output.switching" not in kinds, "switching folds under its cause"
        raised = next(e for e in day["entries"] if e["kind"] == "alarm.raised")
        assert raised["title"]["zh"] == "手动报警" and raised["folded_count"] > 4
        assert raised["actor_words"]["zh"] == "村口手动报警", "who, in words"
        assert day["from"] == "2026-07-01T00:00:00.000Z", "the duty day began at 08:00 Beijing"
        alarms_only = (await client.get("/api/v1/duty-log?category=alarms",
                                        headers=SIM_VIEWER)).json()
        assert {e["category"] for e in alarms_only["entries"]} == {"alarms"}
        csv = await client.get("/api/v1/duty-log?format=csv", headers=SIM_VIEWER)
        assert csv.headers["content-type"].startswith("text/csv")
        assert "attachment" in csv.headers["content-disposition"]
        assert "交接班记录,sim-operator：村口报警已核实，误报" in csv.text
        shift = await client.get("/api/v1/duty-log?from=2026-07-01T00:00:00Z"
                                 "&to=2026-07-04T00:00:00Z", headers=SIM_VIEWER)
        assert shift.status_code == 422, "a shift is at most two days"
        for odd in ("day=0372-01-06&format=csv", "from=0001-01-01T00:00:00&to=0001-01-02T00:00:00"):
            answer = await client.get(f"/api/v1/duty-log?{odd}", headers=SIM_VIEWER)
            assert answer.status_code == 422, odd  # found by the schema fuzz run: it was a 500


async def test_the_stream_carries_the_station_clock_state_and_words(tmp_path: Path) -> None:
    async with station(tmp_path) as (run, client):
        await press_hand_alarm(run)
        await run.clock.advance(5)
        snapshot = (await client.get("/api/v1/stream", headers=SIM_ADMIN)).text
        assert "heartbeat" in snapshot and '"time":"2026-07-01T00:00:05.700Z"' in snapshot
        assert "event: state" in snapshot and '"level":"evacuate"' in snapshot
        assert '"title":{"zh":"手动报警"' in snapshot, "journal events come described"


async def test_a_chart_has_no_data_before_the_first_run_nor_while_the_station_was_down(
        tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from drivers.clock import ManualClock

    config = sim_config(tmp_path, PULSE_GAUGE)
    span = {"from": "2026-06-30T12:00:00Z", "to": "2026-07-01T12:00:00Z"}

    async def gaps(clock: ManualClock) -> list[dict[str, str | None]]:
        """The gauge's gaps, asked 5 s after the start (the station's time runs on while
        it stops)."""
        async with StationRun(config, clock) as run:
            await run.clock.advance(5)
            await run.station.journal.durable(run.station.journal.last_recorded_seq)
            transport = httpx.ASGITransport(app=create_app(run.station))
            async with httpx.AsyncClient(transport=transport,
                                         base_url="http://127.0.0.1") as client:
                answer = await client.get("/api/v1/rain/rg-p/gaps", params=span,
                                          headers=SIM_VIEWER)
        found: list[dict[str, str | None]] = answer.json()["gaps"]
        return found

    first_clock = ManualClock(datetime(2026, 7, 1, 0, 0, tzinfo=UTC))
    first = await gaps(first_clock)
    stopped = first_clock.now().isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert first == [{"from": "2026-06-30T12:00:00.000Z", "to": "2026-07-01T00:00:00.000Z"}], \
        "nothing was measured before the station first ran"
    later = await gaps(ManualClock(datetime(2026, 7, 1, 3, 0, tzinfo=UTC)))
    [down] = [g for g in later if g["to"] == "2026-07-01T03:00:00.000Z"]
    assert "2026-07-01T00:00:05" <= str(down["from"]) <= stopped, \
        "down from what the last run wrote last until this run's gauge answered"
