"""CAP 1.2 through the station's API: aired, deduplicated, cancelled, refused, exported."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx

from broadcast.cap import parse_alert
from broadcast.priority import Priority
from drivers.clock import ManualClock
from edge.api.app import create_app
from tests.cap_examples import example, variant
from tests.cap_signing import county, forger
from tests.helpers import SIM_OPERATOR, SIM_VIEWER, StationRun, sim_config

CAP_HEADERS = {**SIM_OPERATOR, "Content-Type": "application/cap+xml"}
MORNING = datetime(2025, 7, 15, 0, 30, tzinfo=UTC)  # 08:30 Beijing, while the alert holds


@asynccontextmanager
async def started(tmp_path: Path, cap: str = "") -> AsyncIterator[
        tuple[StationRun, httpx.AsyncClient]]:
    """A station at MORNING, its [cap] section extended by ``cap``, and a client of it."""
    config = sim_config(tmp_path, **{"[cap]": "[cap]\n" + cap})
    async with StationRun(config, ManualClock(MORNING)) as run:
        transport = httpx.ASGITransport(app=create_app(run.station))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            yield run, client


async def test_an_alert_plays_once_and_its_cancel_stops_it(tmp_path: Path) -> None:
    async with started(tmp_path) as (run, client):
        service = run.station.parts.broadcasting.service
        first = await client.post("/api/v1/cap", content=example("cn_rainstorm_red.xml"),
                                  headers=CAP_HEADERS)
        assert first.status_code == 200, first.text
        assert first.json()["action"] == "play"
        [broadcast] = service.list()
        assert broadcast.source == "cap" and broadcast.level == "I"
        assert broadcast.priority >= Priority.ALARM_SIREN and broadcast.type == "emergency"
        again = await client.post("/api/v1/cap", content=example("cn_rainstorm_red.xml"),
                                  headers=CAP_HEADERS)
        assert again.json()["action"] == "ignore" and len(service.list()) == 1
        relayed = variant("cn_rainstorm_red.xml", ("<sender>", "<sender>second-server."))
        twice = await client.post("/api/v1/cap", content=relayed, headers=CAP_HEADERS)
        assert twice.json()["action"] == "ignore", "the same alert from two servers plays once"
        await run.clock.advance(3)
        cancel = await client.post("/api/v1/cap", content=example("cn_rainstorm_cancel.xml"),
                                   headers=CAP_HEADERS)
        assert cancel.json()["action"] == "stop"
        assert cancel.json()["stopped"] == [broadcast.id] and broadcast.state == "cancelled"
        assert len(service.list()) == 1, "a Cancel is never aired"
        kinds = [e["kind"] for e in await run.settled_events() if e["kind"].startswith("cap.")]
        assert kinds == ["cap.play", "cap.ignore", "cap.ignore", "cap.stop"]


async def test_bad_alerts_are_refused_with_the_reason_and_change_nothing(tmp_path: Path) -> None:
    async with started(tmp_path) as (run, client):
        service = run.station.parts.broadcasting.service
        for body, word in ((b"<not-cap/>", "not_cap"), (b"garbage", "not_xml"),
                           (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x/>',
                            "doctype"),
                           (variant("cn_rainstorm_red.xml", ("<status>Actual</status>",
                                                             "<status>Real</status>")),
                            "schema")):
            reply = await client.post("/api/v1/cap", content=body, headers=CAP_HEADERS)
            assert reply.status_code == 422 and word in reply.json()["detail"], reply.text
        assert service.list() == []
        viewer = await client.post("/api/v1/cap", content=example("cn_rainstorm_red.xml"),
                                   headers={**SIM_VIEWER, "Content-Type": "application/xml"})
        assert viewer.status_code == 403


async def test_test_alerts_do_not_sound_and_exercises_carry_a_drill_prefix(
    tmp_path: Path,
) -> None:
    async with started(tmp_path) as (run, client):
        service = run.station.parts.broadcasting.service
        silent = await client.post("/api/v1/cap", content=example("cn_test_blue.xml"),
                                   headers=CAP_HEADERS)
        assert silent.json()["action"] == "silent" and service.list() == []
        heartbeat = await client.post("/api/v1/cap", content=example("cn_system_heartbeat.xml"),
                                      headers=CAP_HEADERS)
        assert heartbeat.json()["action"] == "journal" and service.list() == []


async def test_the_stations_own_alarm_reads_as_valid_cap(tmp_path: Path) -> None:
    async with started(tmp_path) as (run, client):
        alarm = run.station.parts.alarms.hand_alarm("ha-1", "村口手动报警", True)
        reply = await client.get(f"/api/v1/alarms/{alarm.id}.cap", headers=SIM_VIEWER)
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("application/cap+xml")
        parsed = parse_alert(reply.content)
        assert parsed.identifier.endswith(alarm.id) and parsed.msg_type == "Alert"
        assert parsed.infos[0].headline.endswith("村口手动报警已触发")


async def test_a_forged_alert_moves_nothing(tmp_path: Path) -> None:
    """A station that requires signatures, pinning the county's certificate: the county's
    signed alert plays; tampered, forged and unsigned copies are refused, journaled with
    the reason, and nothing sounds."""
    pem = tmp_path / "county-cap.pem"
    pem.write_bytes(county().pem())
    cap = f'require_signature = true\ntrusted_certificates = ["{pem}"]'
    async with started(tmp_path, cap) as (run, client):
        service = run.station.parts.broadcasting.service
        signed = county().sign(example("cn_rainstorm_red.xml"))
        refusals = {
            "tampered": signed.replace("红色".encode(), "蓝色".encode(), 1),
            "forged": forger().sign(example("cn_rainstorm_red.xml")),
            "unsigned": example("cn_rainstorm_red.xml"),
        }
        for name, body in refusals.items():
            reply = await client.post("/api/v1/cap", content=body, headers=CAP_HEADERS)
            assert reply.status_code == 422 and reply.json()["detail"].startswith("signature:")
            assert service.list() == [], f"the {name} alert moved something"
        health = (await client.get("/api/v1/health", headers=SIM_VIEWER)).json()
        device = next(d for d in health["devices"] if d["id"] == "cap")
        assert device["status"] == "ok" and "expires 2027-01-01" in device["detail"]
        played = await client.post("/api/v1/cap", content=signed, headers=CAP_HEADERS)
        assert played.status_code == 200 and played.json()["action"] == "play"
        assert len(service.list()) == 1
        rejected = await run.settled_events("cap.rejected")
        reasons = [e["data"]["reason"] for e in rejected]
        assert [r.split(":")[0].split(" ")[0] for r in reasons] == [
            "tampered", "signed", "unsigned"]
        assert all(e["actor"] == "sim-operator" for e in rejected)
        [accepted] = await run.settled_events("cap.play")
        assert accepted["data"]["signed"] is True


async def test_certificates_that_cannot_be_read_are_a_fault_and_refuse_all(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "nowhere.pem"
    cap = f'require_signature = true\ntrusted_certificates = ["{missing}"]'
    async with started(tmp_path, cap) as (run, client):
        device = run.station.health.get("cap")
        assert device.status == "fault" and "cannot read" in device.detail
        reply = await client.post("/api/v1/cap", content=county().sign(
            example("cn_rainstorm_red.xml")), headers=CAP_HEADERS)
        assert reply.status_code == 422 and "no trusted certificate" in reply.json()["detail"]
        assert run.station.parts.broadcasting.service.list() == []
