"""``station-edge run --sim`` with its satellite terminal simulator: a queued SMS
survives ``kill -9`` of the daemon and goes out from the restarted station.

The terminal is driven through its control channel (its port is in the data dir's
``sim-devices.json``); the test polls the API, since the daemon is another process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.helpers import SimStationProcess, sim_control, wait_for

pytestmark = pytest.mark.slow

NUMBER = "+8613800000002"
TEXT = ("断电前排队的短信：后山雨量站1小时雨量52.3毫米，请回复1确认收到。"
        "测试多段中文短信在守护进程被强制结束、重新启动以后仍然完整送达，一字不差。")


def terminal(station: SimStationProcess, cmd: str, **params: Any) -> dict[str, Any]:
    return sim_control(station.data_dir, "modem_control", cmd, **params)


def phone(station: SimStationProcess) -> dict[str, Any]:
    return station.get("/api/v1/satphone").json()


def test_a_queued_sms_survives_kill_9_and_goes_out_after_restart(
    sim_station: Callable[..., SimStationProcess],
) -> None:
    first = sim_station("data")
    wait_for("the terminal ready", lambda: phone(first)["state"] == "ok")
    terminal(first, "signal", bars=0)
    wait_for("no network", lambda: phone(first)["registered"] is False)
    queued = first.post("/api/v1/satphone/sms", {"to": NUMBER, "text": TEXT})
    assert queued.status_code == 202
    failed = wait_for("a failed attempt", lambda: [
        m for m in phone(first)["outbox"] if m["attempts"] >= 1])
    assert failed[0]["state"] == "pending" and "500" in failed[0]["last_error"]
    first.kill()

    second = sim_station("data")  # the same data directory
    sent = wait_for("the SMS sent", lambda: [
        m for m in phone(second)["outbox"] if m["state"] == "sent"])
    assert [(m["to"], m["text"]) for m in sent] == [(NUMBER, TEXT)]
    [delivered] = terminal(second, "outbox")["messages"]
    assert (delivered["to"], delivered["text"], delivered["complete"]) == (NUMBER, TEXT, True)
    assert delivered["parts"] == 2
    assert second.stop() == 0
