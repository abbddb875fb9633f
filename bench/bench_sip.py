"""Voice over SIP: alarm → first INVITE, DTMF detection over many calls, call-in latency.

Run: ``python bench/bench_sip.py [--trials 20] [--calls 100] [--callins 10]`` (needs the
``sip`` extra and Debian's baresip).

1. **Alarm → first INVITE on the wire**: an in-process station (real clock) whose first
   叫醒 tier is a plain UDP socket of this benchmark; t0 is the rain alarm raised, t1 the
   INVITE datagram received. One fresh station per trial.
2. **DTMF over N calls**: the station's SIP user agent calls a baresip phone (auto-answer)
   N times; in each call baresip presses 1 (RFC 4733); detected = the key reported by
   PJSIP within 2 s.
3. **Mouth-to-loudspeaker latency of a SIP call-in broadcast**: a baresip caller speaks
   a 1 kHz tone onto the air (the station's live broadcast, file audio backend on the
   real clock). t0 is when the tone's first RTP frame is handed to the station by PJSIP
   (its jitter buffer included), t1 when the loudspeaker output takes that audio. The
   phone's own microphone/encoder and the network are outside this figure (on a LAN,
   20-60 ms more). Target ≤ 300 ms. Live audio keeps the output's short queue
   (``live_queue_s``); the underruns it costs while the caller speaks are counted.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.latency import summary  # noqa: E402

LEAD_S = 5.0  # the caller's silence before the tone: PIN, go-live and chime are over
LIVE_S = 5.0  # how long the caller speaks after the first sound, underruns counted


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def first_invite(trials: int) -> list[float]:
    from drivers.clock import SystemClock
    from edge.station import Station
    from tests.helpers import sim_config
    from tests.test_sip_station import PULSE_GAUGE

    samples = []
    for _ in range(trials):
        phone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        phone.bind(("127.0.0.1", 0))
        phone.setblocking(False)
        port = phone.getsockname()[1]
        with tempfile.TemporaryDirectory() as tmp:
            config = sim_config(Path(tmp), PULSE_GAUGE + f'''
[sip]
listen = "127.0.0.1:{free_port()}"
[[sip.wakeup]]
targets = ["sip:duty@127.0.0.1:{port}"]
''')
            station = Station(config, SystemClock())
            await station.start()
            loop = asyncio.get_running_loop()
            try:
                rain = station.parts.rain
                assert rain is not None
                t0 = time.perf_counter()
                for change in rain.board.update("rg-p", {"1h": 52.3, "24h": 52.3}):
                    for listener in rain.listeners:
                        listener(change)
                data = await loop.sock_recv(phone, 65536)
                samples.append(time.perf_counter() - t0)
                assert data.startswith(b"INVITE "), data[:40]
            finally:
                phone.close()
                station.request_stop("bench over")
                await station.stop()
    return samples


async def dtmf_calls(calls: int, folder: Path) -> tuple[int, int]:
    from drivers.sip_ua import CallState, Digit, SipSettings, SipUa
    from tests.sip_peers import Baresip

    phone = Baresip(folder / "phone", "villager", auto_answer=True)
    events: list[Any] = []
    changed = asyncio.Event()

    def heard(event: Any) -> None:
        events.append(event)
        changed.set()

    async def until(match: Any, limit_s: float) -> bool:
        async def wait() -> None:
            while not any(match(e) for e in events):
                changed.clear()
                await changed.wait()
        try:
            await asyncio.wait_for(wait(), limit_s)
        except TimeoutError:
            return False
        return True

    ua = SipUa(SipSettings(port=free_port()), heard)
    await ua.start()
    detected = 0
    try:
        for _ in range(calls):
            events.clear()
            handle = await ua.place(phone.uri)
            assert await until(lambda e, h=handle: isinstance(e, CallState)
                               and e.call == h and e.state == "connected", 5)
            await asyncio.to_thread(phone.command, "sndcode", "1")
            if await until(lambda e, h=handle: isinstance(e, Digit) and e.call == h
                           and e.digit == "1", 2):
                detected += 1
            await ua.hang_up(handle)
            await until(lambda e, h=handle: isinstance(e, CallState) and e.call == h
                        and e.state == "ended", 5)
    finally:
        await ua.close()
        phone.stop()
    return detected, calls - detected


async def callin_latency(trials: int, folder: Path) -> tuple[list[float], int, float]:
    """Latency samples, and the output's underruns over that many seconds of live voice."""
    import numpy as np

    from drivers.clock import SystemClock
    from edge.station import Station
    from tests.helpers import sim_config
    from tests.sip_peers import Baresip

    caller = Baresip(folder / "chief", "chief", tone_hz=1000, lead_s=LEAD_S)
    samples = []
    underruns, live_s = 0, 0.0
    try:
        for trial in range(trials):
            # (the callbacks below live for this trial only: B023 does not apply)
            config = sim_config(folder / f"station-{trial}", f'''
[sip]
listen = "127.0.0.1:{free_port()}"
callin_whitelist = ["{caller.uri}"]
pin = "2468"
''', **{"warmup_s = 2.0": "warmup_s = 0.2"})
            station = Station(config, SystemClock())
            await station.start()
            try:
                sip = station.parts.sip
                broadcasting = station.parts.broadcasting
                assert sip is not None and broadcasting is not None
                live = asyncio.Event()
                sip.listeners.append(lambda kind, _d: kind == "sip.callin_live" and live.set())  # noqa: B023
                mark = len(caller.events)
                port = config.sip.listen.rpartition(":")[2] if config.sip else ""
                await asyncio.to_thread(caller.command, "dial", f"sip:station@127.0.0.1:{port}")
                await asyncio.to_thread(caller.event, "CALL_ESTABLISHED", mark)
                for key in "2468":
                    await asyncio.to_thread(caller.command, "sndcode", key)
                await asyncio.wait_for(live.wait(), 10)
                [media] = sip.ua.media.values()
                feed = broadcasting.output._feed  # type: ignore[attr-defined]
                heard_at: list[float] = []
                taken_at: list[float] = []
                original_deliver, original_take = media.deliver, feed.take

                def deliver(pcm: np.ndarray) -> None:
                    if not heard_at and np.abs(pcm).max() > 0.05:  # noqa: B023
                        heard_at.append(time.perf_counter())  # noqa: B023
                    original_deliver(pcm)  # noqa: B023

                def take(n: int) -> np.ndarray:
                    block = original_take(n)  # noqa: B023
                    if heard_at and not taken_at and np.abs(block).max() > 0.05:  # noqa: B023
                        taken_at.append(time.perf_counter())  # noqa: B023
                    return block

                media.deliver, feed.take = deliver, take  # type: ignore[method-assign]
                for _ in range(200):  # the caller is silent for LEAD_S, then speaks
                    if taken_at:
                        break
                    await asyncio.sleep(0.05)
                before, began = broadcasting.output.underruns, time.perf_counter()
                await asyncio.sleep(LIVE_S)  # the caller goes on speaking
                underruns += broadcasting.output.underruns - before
                live_s += time.perf_counter() - began
                await asyncio.to_thread(caller.command, "hangup")
                await asyncio.to_thread(caller.event, "CALL_CLOSED", mark)
                media.deliver, feed.take = original_deliver, original_take  # type: ignore
                if heard_at and taken_at:
                    samples.append(taken_at[0] - heard_at[0])
            finally:
                station.request_stop("bench over")
                await station.stop()
    finally:
        caller.stop()
    return samples, underruns, live_s


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--callins", type=int, default=10)
    args = parser.parse_args()
    from drivers.sip_ua import unavailable

    if (why := unavailable()) is not None:
        print(f"skipped: {why}")
        return
    print("alarm → first INVITE:", summary(await first_invite(args.trials)))
    with tempfile.TemporaryDirectory() as tmp:
        detected, missed = await dtmf_calls(args.calls, Path(tmp))
        print(f"DTMF 1 over {args.calls} calls: detected {detected}, missed {missed}")
        samples, underruns, live_s = await callin_latency(args.callins, Path(tmp))
        print("call-in RTP → loudspeaker:", summary(samples))
        print(f"underruns during live voice: {underruns} in {live_s:.0f} s")


if __name__ == "__main__":
    asyncio.run(main())
