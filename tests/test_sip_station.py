"""Voice over SIP through a whole in-process station (ManualClock for the station's own
timers; SIP and RTP in real time) against independent SIP software: Debian's baresip as
the villagers' phones and the county chief's phone, kamailio as the registrar.

What a phone heard is judged from the phone's own recording (baresip's sndfile dump);
what went on the air from the station's recorded loudspeaker output.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from drivers.audio_wav import read_wav_file
from edge.api.app import create_app
from edge.config import Config
from tests.helpers import SIM_VIEWER, StationRun, free_port, sim_config
from tests.sip_peers import BARESIP, KAMAILIO, Baresip, Kamailio, peak_hz, rms_db

pytestmark = [pytest.mark.slow,  # SIP phones and a registrar as processes
              pytest.mark.skipif(BARESIP is None or KAMAILIO is None,
                                 reason="baresip and kamailio (Debian) are needed")]
PIN = "2468"
PULSE_GAUGE = '''
[[rain_gauges]]
id = "rg-p"
name = "村口雨量站"
kind = "pulse"
pin = 20
mm_per_tip = 0.5
'''
SATELLITE = '''
[sat_phone]
port = "/nonexistent/tty-satphone"
report_numbers = ["+8613800000001"]
[[sat_phone.callout]]
numbers = ["+8613800000002"]
answer_within_s = 300
'''


@pytest.fixture(scope="module")
def phones(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Baresip]]:
    folder = tmp_path_factory.mktemp("phones")
    started: dict[str, Baresip] = {}
    try:
        started["tier1"] = Baresip(folder / "tier1", "tier1", tone_hz=500)
        started["tier2"] = Baresip(folder / "tier2", "tier2", auto_answer=True, tone_hz=500)
        started["chief"] = Baresip(folder / "chief", "chief", tone_hz=1000)
        yield started
    finally:
        for phone in started.values():
            phone.stop()


def sip_section(port: int, phones: dict[str, Baresip] | None = None, extra: str = "") -> str:
    text = f'''
[sip]
listen = "127.0.0.1:{port}"
wakeup_plays = 1
wakeup_key_wait_s = 20
{extra}
'''
    if phones is not None:
        text += f'''callin_whitelist = ["{phones["chief"].uri}"]
pin = "{PIN}"
[[sip.wakeup]]
targets = ["{phones["tier1"].uri}"]
answer_within_s = 60
[[sip.wakeup]]
targets = ["{phones["tier2"].uri}"]
answer_within_s = 60
'''
    return text


class Watch:
    """What the station's SIP part journals, awaited without sleeping."""

    def __init__(self, run: StationRun) -> None:
        self.run = run
        self.seen: list[tuple[str, dict[str, Any]]] = []
        self.changed = asyncio.Event()
        if run.station.parts.sip is not None:
            run.station.parts.sip.listeners.append(self._heard)
        satphone = run.station.parts.satphone
        if satphone is not None:
            satphone.listeners.append(self._heard)

    def _heard(self, kind: str, data: dict[str, Any]) -> None:
        self.seen.append((kind, data))
        self.changed.set()

    def count(self, kind: str) -> int:
        return sum(1 for k, _ in self.seen if k == kind)

    async def until(self, what: Callable[[], bool]) -> None:
        async def wait() -> None:
            while not what():
                self.changed.clear()
                await self.changed.wait()

        try:
            await asyncio.wait_for(wait(), 20.0)
        except TimeoutError:
            raise AssertionError(f"waited in vain; the station said {self.seen}") from None

    async def event(self, kind: str, count: int = 1) -> dict[str, Any]:
        await self.until(lambda: self.count(kind) >= count)
        return [d for k, d in self.seen if k == kind][count - 1]


@contextlib.asynccontextmanager
async def started(config: Config) -> AsyncIterator[tuple[StationRun, Watch]]:
    run = StationRun(config)
    await run.__aenter__()
    try:
        yield run, Watch(run)
    finally:
        await run.__aexit__(None, None, None)


@pytest.fixture
async def station(tmp_path: Path, phones: dict[str, Baresip]
                  ) -> AsyncIterator[tuple[StationRun, Watch]]:
    for phone in phones.values():
        phone.clear_recordings()
    config = sim_config(tmp_path, PULSE_GAUGE + sip_section(free_port(), phones))
    async with started(config) as pair:
        yield pair


def raise_rain(run: StationRun, totals: dict[str, float]) -> Any:
    rain = run.station.parts.rain
    for change in rain.board.update("rg-p", totals):
        for listener in rain.listeners:
            listener(change)
    return run.station.parts.alarms.open_for("rg-p")


async def phone_event(phone: Baresip, kind: str, since: int) -> dict[str, Any]:
    return await asyncio.to_thread(phone.event, kind, since)


async def press(phone: Baresip, keys: str) -> None:
    for key in keys:
        await asyncio.to_thread(phone.command, "sndcode", key)


def sounding_frames(phone: Baresip) -> np.ndarray:
    """The 20 ms frames of the phone's recording (so far) that carry sound."""
    dumps = list(phone.records.glob("dump-*-dec.wav"))
    if not dumps:
        return np.zeros((0, 160), dtype=np.float32)
    data = dumps[0].read_bytes()[44:]
    pcm = np.frombuffer(data[: len(data) // 320 * 320], "<i2").astype(np.float32) / 32768
    frames = pcm.reshape(-1, 160)
    return frames[10 * np.log10(np.mean(frames**2, axis=1) + 1e-12) > -40]


async def heard_seconds(phone: Baresip, seconds: float) -> None:
    """Until the phone's own recording of the far end holds ``seconds`` of sound."""
    for _ in range(400):  # a file another process writes: polled, at most 20 s
        if len(sounding_frames(phone)) * 0.02 >= seconds:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{phone.user} heard only {len(sounding_frames(phone)) * 0.02} s")


async def test_a_rain_alarm_rings_the_first_tier_who_hears_it_and_answers_with_1(
    station: tuple[StationRun, Watch], phones: dict[str, Baresip],
) -> None:
    run, watch = station
    tier1 = phones["tier1"]
    mark = len(tier1.events)
    alarm = raise_rain(run, {"1h": 52.3, "24h": 52.3})
    await phone_event(tier1, "CALL_INCOMING", mark)
    assert alarm.wakeup["state"] == "calling" and alarm.wakeup["tier"] == 1
    await asyncio.to_thread(tier1.command, "accept")
    await phone_event(tier1, "CALL_ESTABLISHED", mark)
    await heard_seconds(tier1, 3.0)
    await press(tier1, "1")
    answered = await watch.event("sip.wakeup_answered")
    assert answered["tier"] == 1
    assert alarm.wakeup["state"] == "answered"
    assert alarm.wakeup["answered_by"] == tier1.uri
    assert alarm.wakeup["answered_at"] == "2026-07-01T00:00:00.000Z"  # the ManualClock's now
    await phone_event(tier1, "CALL_CLOSED", mark)  # thanked, then hung up by the station

    message = sounding_frames(tier1).reshape(-1)[: 3 * 8000]
    assert len(message) == 3 * 8000 and rms_db(message) > -35, "the phone heard the message"
    spectrum = np.abs(np.fft.rfft(message)) ** 2
    freqs = np.fft.rfftfreq(len(message), 1 / 8000)
    voice_band = spectrum[(freqs > 150) & (freqs < 3400)].sum() / spectrum.sum()
    assert voice_band > 0.9, "speech, in the telephone band"
    assert watch.count("satphone.callout_started") == 0

    app = create_app(run.station)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://127.0.0.1") as client:
        [shown] = (await client.get("/api/v1/alarms", headers=SIM_VIEWER)).json()["alarms"]
        assert shown["wakeup"]["answered_by"] == tier1.uri
        assert shown["wakeup"]["calls"][0]["outcome"] == "answered"
        metrics = (await client.get("/metrics", headers=SIM_VIEWER)).text
    assert 'station_edge_sip_calls_total{direction="out",outcome="answered"} 1.0' in metrics
    assert 'station_edge_sip_calls_total{direction="in",outcome="refused"} 0.0' in metrics, \
        "every series is there from the start (docs/county.md)"
    assert 'station_edge_sip_wakeups{state="answered"} 1.0' in metrics
    events = await run.settled_events("sip.wakeup_answered")
    assert [(e["source"], e["actor"]) for e in events] == [(alarm.id, tier1.uri)]


async def test_no_answer_rings_the_second_tier(
    station: tuple[StationRun, Watch], phones: dict[str, Baresip],
) -> None:
    run, watch = station
    tier1, tier2 = phones["tier1"], phones["tier2"]
    mark1, mark2 = len(tier1.events), len(tier2.events)
    alarm = raise_rain(run, {"1h": 35.0, "24h": 35.0})
    await phone_event(tier1, "CALL_INCOMING", mark1)  # it rings; nobody picks up
    await run.clock.advance(60)
    escalated = await watch.event("sip.wakeup_escalated")
    assert escalated["tier"] == 2 and escalated["targets"] == [tier2.uri]
    await phone_event(tier1, "CALL_CLOSED", mark1)
    await phone_event(tier2, "CALL_ESTABLISHED", mark2)  # answers by itself
    await heard_seconds(tier2, 1.0)
    await press(tier2, "1")
    await watch.event("sip.wakeup_answered")
    assert alarm.wakeup["answered_by"] == tier2.uri
    assert [c["outcome"] for c in alarm.wakeup["calls"]] == ["cancelled", "answered"]
    await phone_event(tier2, "CALL_CLOSED", mark2)


async def test_sip_down_falls_back_to_the_satellite_tiers(tmp_path: Path) -> None:
    dead = free_port()  # nothing listens: the county network is down
    config = sim_config(tmp_path, PULSE_GAUGE + SATELLITE + sip_section(free_port(), extra=f'''
registrar = "127.0.0.1:{dead}"
registrar_transport = "tcp"
domain = "county.example"
retry_after_s = 3600'''))
    async with started(config) as (run, watch):
        sip = run.station.parts.sip
        await watch.until(lambda: run.station.health.get("sip").detail.startswith(
            "not registered"))
        assert run.station.health.get("sip").status == "degraded"
        alarm = raise_rain(run, {"1h": 52.3, "24h": 52.3})
        await watch.event("satphone.callout_started")
        assert alarm.wakeup["state"] == "unreachable"
        assert alarm.callout["tier"] == 1 and alarm.callout["messaged"][0]["numbers"] == [
            "+8613800000002"]
        assert watch.count("sip.wakeup_fallback") == 1
        assert sip.registered is False


async def test_without_the_sip_extra_the_station_runs_and_uses_the_satellite_tiers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pjsua2", None)  # as if the extra were not installed
    config = sim_config(tmp_path, PULSE_GAUGE + SATELLITE + sip_section(free_port(), extra='''
domain = "county.example"'''))
    async with started(config) as (run, watch):
        health = run.station.health.get("sip")
        assert health.status == "degraded" and "pjsua2 is not installed" in health.detail
        alarm = raise_rain(run, {"1h": 52.3, "24h": 52.3})
        await watch.event("satphone.callout_started")
        assert alarm.wakeup["state"] == "unreachable"
        assert "install the 'sip' extra" in alarm.wakeup["reason"]


async def call_station(run: StationRun, phone: Baresip, mark: int) -> None:
    port = run.station.config.sip.listen.rpartition(":")[2]
    await asyncio.to_thread(phone.command, "dial", f"sip:station@127.0.0.1:{port}")
    await phone_event(phone, "CALL_ESTABLISHED", mark)


async def test_a_sip_call_in_with_the_right_pin_goes_on_air_a_wrong_one_does_not(
    station: tuple[StationRun, Watch], phones: dict[str, Baresip],
) -> None:
    run, watch = station
    chief = phones["chief"]
    service = run.station.parts.broadcasting.service
    mark = len(chief.events)
    await call_station(run, chief, mark)
    await press(chief, "1357")
    refused = await watch.event("sip.callin_refused")
    assert refused["reason"] == "wrong pin"
    await phone_event(chief, "CALL_CLOSED", mark)
    assert service.list() == []

    mark = len(chief.events)
    await call_station(run, chief, mark)
    await press(chief, PIN)
    await watch.event("sip.callin_live")
    [broadcast] = service.list()
    assert (broadcast.source, broadcast.actor) == ("phone", chief.uri.split(":", 1)[1]
                                                   .rsplit(":", 1)[0])
    [media] = run.station.parts.sip.ua.media.values()
    await run.clock.advance(2.5)  # the amplifier warms up; live audio piled up meanwhile is dropped
    loop = asyncio.get_running_loop()
    start, last = media.received_frames, loop.time()
    for _ in range(2000):  # the chime (2.2 s), then the chief's voice, for 1.8 s
        if media.received_frames - start >= 4 * 8000:
            break
        await asyncio.sleep(0.02)
        now = loop.time()  # the station's clock kept in step with the RTP, however busy we are
        await run.clock.advance(now - last)
        last = now
    await asyncio.to_thread(chief.command, "hangup")
    await watch.event("sip.callin_ended")
    for _ in range(400):
        if not broadcast.active:
            break
        await run.clock.advance(0.1)
    assert broadcast.state == "done"
    [wav] = sorted((run.station.config.station.data_dir / "audio-out").glob("*.wav"))
    audio = read_wav_file(wav)
    voice = audio.samples[-audio.rate:]
    assert abs(peak_hz(voice, audio.rate) - 1000) < 10, "the chief's voice went on air"
    assert rms_db(voice) > -30


async def test_registration_with_digest_auth_and_again_after_the_registrar_restarts(
    tmp_path: Path,
) -> None:
    registrar = Kamailio(tmp_path / "kamailio", "s3cret")
    try:
        config = sim_config(tmp_path, sip_section(free_port(), extra=f'''
registrar = "127.0.0.1:{registrar.port}"
registrar_transport = "tcp"
username = "station"
realm = "127.0.0.1"
password_ha1 = "{hashlib.md5(b"station:127.0.0.1:s3cret").hexdigest()}"
register_every_s = 60
retry_after_s = 1'''))
        async with started(config) as (run, watch):
            sip = run.station.parts.sip
            health = run.station.health
            await watch.until(lambda: sip.registered is True)
            assert health.get("sip").status == "ok"
            registrar.stop()
            await watch.until(lambda: sip.registered is False)
            assert health.get("sip").status == "degraded"
            registrar.start()
            await watch.until(lambda: sip.registered is True)
            assert health.get("sip").status == "ok"
            events = await run.settled_events("sip.registration")
            assert [e["data"]["registered"] for e in events] == [True, False, True]
    finally:
        registrar.stop()
