"""How fast an evacuation order starts, in the software's part of it.

Run: ``python bench/bench_evacuation_latency.py [--presses 200] [--requests 200]``.

1. Button edge → power relay ON: the EVACUATE pin of a simulated station (mock GPIO,
   real clock) is driven low; the time until the power relay is driven ON, minus the
   deliberate hold time, is the software latency (goal: p99 ≤ 5 ms).
2. Request → first audio frame handed to PortAudio, warm-up 0: the real sounddevice
   backend on ALSA's ``null`` device (a private ALSA config, so any machine runs it;
   goal: p99 ≤ 100 ms).
Prints p50/p99/max of each.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.latency import summary  # noqa: E402

HOLD_S = 0.2
ALSA_NULL = "pcm.!default {\n    type null\n}\n"


def config_text(data_dir: Path, audio_backend: str) -> str:
    from edge.sim.station import sim_config_text

    text = sim_config_text(data_dir, "127.0.0.1:0", 1.0, {})
    text = text.replace("warmup_s = 2.0", "warmup_s = 0.0").replace("hold_s = 10.0",
                                                                    "hold_s = 0.0")
    text = text.replace('backend = "file"', f'backend = "{audio_backend}"')
    start = text.index("\n[[sirens]]\nid = \"siren-2\"")
    text = text[:start]  # no simulated RS-485 line: this measures the button path only
    # Presses and requests follow each other within the chatter guard's interval, where a
    # real press finds a relay that has rested: the guard's wait is not what is measured.
    guard = "\n[outputs.min_switch_s]\npower_relay = 0.0\nzone = 0.0\n"
    return text + "\n[broadcast]\nevacuate_repeat = 1\n" + guard


async def button_to_relay(presses: int) -> list[float]:
    from drivers.clock import SystemClock
    from edge.config import parse
    from edge.station import Station

    with tempfile.TemporaryDirectory() as tmp:
        text = config_text(Path(tmp), "file")
        text = text.replace("[panel]\n", f"[panel]\nhold_s = {HOLD_S}\n")
        text = text.replace("[gpio]\n", "[gpio]\ndebounce_s = 0.0\n")
        station = Station(parse(text), SystemClock())
        await station.start()
        service = station.parts.broadcasting.service
        history = station.gpio.factory.history
        latencies = []
        try:
            for _ in range(presses):
                seen = len(history)
                t0 = time.monotonic()
                station.gpio.drive_mock_input(17, 0)
                while not any(c.pin == 23 and c.level for c in history[seen:]):  # noqa: ASYNC110
                    await asyncio.sleep(0.0005)
                t_on = next(c.t for c in history[seen:] if c.pin == 23 and c.level)
                latencies.append(t_on - t0 - HOLD_S)
                station.gpio.drive_mock_input(17, 1)
                await service.stop_all(actor="bench")
                await station.parts.broadcasting.amplifier.off_now(actor="bench",
                                                                      reason="next press")
                await asyncio.sleep(0.02)
        finally:
            station.request_stop("bench over")
            await station.stop()
    return latencies


async def request_to_first_frame(requests: int) -> list[float]:
    from broadcast.priority import Priority
    from broadcast.program import MessageContent, Program
    from drivers.clock import SystemClock
    from edge.config import parse
    from edge.station import Station

    with tempfile.TemporaryDirectory() as tmp:
        station = Station(parse(config_text(Path(tmp), "sounddevice")), SystemClock())
        await station.start()
        bc = station.parts.broadcasting
        await bc.library.prepare()
        latencies = []
        try:
            for _ in range(requests):
                t0 = time.monotonic()
                broadcast = await bc.service.submit(
                    Program(MessageContent("test"), chime=False), zones=["all"],
                    priority=Priority.EVACUATION, type="drill", source="api", actor="bench")
                started = bc.output.sound_started_at
                while started is None or started < t0:
                    await asyncio.sleep(0.0005)
                    started = bc.output.sound_started_at
                latencies.append(started - t0)
                await bc.service.cancel(broadcast.id, actor="bench")
        finally:
            station.request_stop("bench over")
            await station.stop()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=200)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as alsa:
        conf = Path(alsa) / "asoundrc"
        conf.write_text(ALSA_NULL)
        os.environ["ALSA_CONFIG_PATH"] = str(conf)  # before PortAudio initialises
        presses = asyncio.run(button_to_relay(args.presses))
        print(f"button edge → power relay ON (software, hold {HOLD_S} s excluded): "
              f"{summary(presses)}")
        requests = asyncio.run(request_to_first_frame(args.requests))
        print(f"request → first frame handed to PortAudio (warm-up 0): {summary(requests)}")


if __name__ == "__main__":
    main()
