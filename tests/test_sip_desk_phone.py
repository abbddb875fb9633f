"""The duty-room phone through the satellite phone: a baresip desk phone, the station
in-process, and the simulated satellite terminal (hw-sim/at_modem_sim.py) carrying the
call's audio on its unix socket. Audio is checked where it arrives: the desk phone's own
recording, and what the terminal received for the far end (``uplink``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest
from test_satphone_station import QUIET, Terminal

from edge.config import parse
from edge.sim.station import sim_config_text
from tests.helpers import StationRun, free_port
from tests.sip_peers import BARESIP, Baresip, peak_hz, read_wav, rms_db
from tests.test_sip_station import Watch, heard_seconds, phone_event

pytestmark = [pytest.mark.slow,  # a SIP phone and the terminal simulator as processes
              pytest.mark.skipif(BARESIP is None, reason="baresip (Debian) is needed")]
FAR_END = "13800000009"


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Baresip]:
    phone = Baresip(tmp_path_factory.mktemp("desk"), "desk", auto_answer=True, tone_hz=1000)
    try:
        yield phone
    finally:
        phone.stop()


@pytest.fixture
async def bridged(tmp_path: Path, desk: Baresip) -> AsyncIterator[tuple[StationRun, Watch,
                                                                          Terminal]]:
    desk.clear_recordings()
    terminal = await Terminal.start_with_audio(tmp_path)
    run = None
    try:
        text = sim_config_text(tmp_path / "data", "127.0.0.1:0", 1.0, {
            "modem_port": str(terminal.link), "modem_audio": str(terminal.audio)})
        for old, new in QUIET.items():
            text = text.replace(old, new)
        text += f'''
[sip]
listen = "127.0.0.1:{free_port()}"
domain = "127.0.0.1"
desk_phone = "{desk.uri}"
'''
        run = StationRun(parse(text))
        await run.__aenter__()
        watch = Watch(run)
        satphone = run.station.parts.satphone
        satphone.modem.add_status_listener(lambda _s: watch.changed.set())
        await watch.until(lambda: satphone.modem.status.status == "ok")
        yield run, watch, terminal
    finally:
        if run is not None:
            await run.__aexit__(None, None, None)
        await terminal.stop()


def loudest_second(samples: np.ndarray) -> np.ndarray:
    seconds = [samples[i:i + 8000] for i in range(0, len(samples) - 8000, 4000)]
    return max(seconds, key=rms_db)


async def test_the_desk_phone_dials_out_and_takes_calls_through_the_satellite_phone(
    bridged: tuple[StationRun, Watch, Terminal], desk: Baresip, tmp_path: Path,
) -> None:
    run, watch, terminal = bridged
    port = run.station.config.sip.listen.rpartition(":")[2]
    mark = len(desk.events)
    await asyncio.to_thread(desk.command, "dial", f"sip:9{FAR_END}@127.0.0.1:{port}")
    await phone_event(desk, "CALL_ESTABLISHED", mark)
    await watch.event("sip.desk_bridged")
    assert (await terminal.call("call"))["call"]["number"] == FAR_END
    await terminal.call("remote_answer")
    assert (await terminal.call("call_audio", tone_hz=600, seconds=2.0))["written"]
    await heard_seconds(desk, 1.8)
    await asyncio.to_thread(desk.command, "hangup")
    await watch.event("sip.desk_ended")
    assert (await terminal.call("call"))["call"] is None, "the satellite call ended too"
    uplink = await terminal.call("uplink", wav=str(tmp_path / "uplink.wav"))
    assert uplink["seconds"] > 1.0
    said = loudest_second(read_wav(tmp_path / "uplink.wav"))
    assert abs(peak_hz(said) - 1000) < 10, "the far end heard the duty officer"
    heard = loudest_second(desk.heard())
    assert abs(peak_hz(heard) - 600) < 10 and rms_db(heard) > -30, "the officer heard them"

    desk.clear_recordings()
    mark = len(desk.events)
    await terminal.call("ring", number="+8613999999999")  # not a call-in: the desk rings
    await phone_event(desk, "CALL_ESTABLISHED", mark)  # picked up (auto-answer)
    await watch.event("sip.desk_bridged", 2)
    assert (await terminal.call("call"))["call"]["state"] == "active", "ATA"
    assert (await terminal.call("call_audio", tone_hz=750, seconds=2.0))["written"]
    await heard_seconds(desk, 1.8)
    await terminal.call("hangup")
    await phone_event(desk, "CALL_CLOSED", mark)
    heard = loudest_second(desk.heard())
    assert abs(peak_hz(heard) - 750) < 10
