"""``station-edge run --sim`` with its simulated county PBX (hw-sim/sip_pbx_sim.py:
kamailio and a baresip phone per 叫应 number): a hand alarm rings the first tier's phone
through the PBX, the phone hears the message and presses 1, and the alarm says so.

The station is another process: the test polls its API; the phones are told how to
behave through the PBX simulator's control channel (its port is in ``sim-devices.json``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from drivers.sip_ua import unavailable as sip_unavailable
from edge.config import parse
from edge.sim import station as sim_station_module
from tests.helpers import SimStationProcess, sim_control, wait_for
from tests.sip_peers import BARESIP, KAMAILIO

FIRST_TIER = "+8613800000002"  # the first [[sat_phone.callout]] tier of the sim config


def pbx(station: SimStationProcess, cmd: str, **params: Any) -> dict[str, Any]:
    return sim_control(station.data_dir, "sip_control", cmd, **params)


def alarms(station: SimStationProcess) -> list[dict[str, Any]]:
    return station.get("/api/v1/alarms").json()["alarms"]  # type: ignore[no-any-return]


def sip_events(station: SimStationProcess) -> list[dict[str, Any]]:
    return [e for e in station.events() if e["kind"].startswith("sip.")]


@pytest.mark.slow  # a station process with kamailio and two baresip phones
@pytest.mark.skipif(BARESIP is None or KAMAILIO is None,
                    reason="baresip and kamailio (Debian) are needed")
def test_run_sim_rings_a_phone_of_the_simulated_pbx_that_answers_the_wake_up(
    sim_station: Callable[..., SimStationProcess],
) -> None:
    station = sim_station("data", ready=False)
    station.wait_ready(60.0)  # it starts kamailio and two baresip too: slow on a busy machine
    wait_for("the banner naming the PBX", lambda: "County PBX simulator" in station.log())
    wait_for("registered with the PBX", lambda: station.get("/api/v1/sip").json()["registered"])
    pbx(station, "phone", number=FIRST_TIER, listen_s=1.0)  # presses 1 after a second of sound
    station.post("/api/v1/sim/gpio/6", {"level": 0})  # the village's hand alarm, held …
    [alarm] = wait_for("the hand alarm raised", lambda: alarms(station))
    station.post("/api/v1/sim/gpio/6", {"level": 1})  # … and let go
    try:
        wakeup = wait_for("the wake-up answered", lambda: next(
            (a["wakeup"] for a in alarms(station)
             if a["wakeup"] and a["wakeup"]["state"] == "answered"), None))
    except AssertionError:
        raise AssertionError(f"not answered: {alarms(station)}; the phones: "
                             f"{pbx(station, 'phones')}; the station: "
                             f"{[(e['kind'], e['data']) for e in sip_events(station)]}") from None
    assert wakeup["answered_by"] == FIRST_TIER and wakeup["tier"] == 1
    assert wakeup["calls"][0]["outcome"] == "answered" and wakeup["answered_at"]
    [phone] = [p for p in pbx(station, "phones")["phones"] if p["number"] == FIRST_TIER]
    [call] = phone["calls"]
    assert call["pressed"] == "1" and call["heard_s"] >= 1.0, "it heard the message"
    [answered] = wait_for("the answer in the journal", lambda: [
        e for e in sip_events(station) if e["kind"] == "sip.wakeup_answered"])
    assert (answered["source"], answered["actor"]) == (alarm["id"], FIRST_TIER)
    assert station.get("/api/v1/sip").json()["wakeups"][0]["state"] == "answered"
    assert station.stop() == 0


@pytest.mark.skipif(sip_unavailable() is not None, reason="the 'sip' extra is needed")
def test_without_baresip_the_sim_station_has_no_pbx_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no baresip (nor kamailio) on it
    with ExitStack() as stack:
        devices = sim_station_module.start_pbx(stack, tmp_path)()
    assert devices["sip_registrar"] == sim_station_module.NO_PBX
    assert "baresip not installed" in devices["sip_unavailable"]
    config = parse(sim_station_module.sim_config_text(tmp_path, "127.0.0.1:0", 1.0, devices))
    assert config.sip is not None and config.sip.registrar == sim_station_module.NO_PBX
    (tmp_path / "sim-devices.json").write_text(json.dumps(devices))
    assert "No simulated county PBX (baresip not installed" in sim_station_module.banner(tmp_path)
