"""Request → first audio frame handed to PortAudio, over many requests.

    python bench/bench_audio_latency.py [--requests 200] [--rate 16000] [--device NAME]

Without ``--device``, PortAudio is pointed (``ALSA_CONFIG_PATH``) at a private ALSA
configuration whose default PCM is ``null``, so the bench runs on any machine. ALSA's null
PCM takes audio as fast as it is given, so the figures are the software part: the event
loop handing audio to the feed and the PortAudio callback taking it. With ``--device``,
the machine's own ALSA configuration and that device are used (a real USB card adds at
most one callback period, ``block_s``).

Two measurements, each over ``--requests`` requests on one open session:

* output: ``AudioOutput.play(frames)`` called → first of those frames taken by the callback;
* program: a siren program's first block rendered and played, from the request.

Goal (issue 3): p99 ≤ 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rate", type=int, default=16000)
    parser.add_argument("--device", default=None, help="PortAudio device (default: ALSA null)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.device is None:
            conf = Path(tmp) / "asoundrc"
            conf.write_text("pcm.!default {\n    type null\n}\n")
            os.environ["ALSA_CONFIG_PATH"] = str(conf)  # before sounddevice is imported
        device = args.device or "default"
        results = asyncio.run(measure(args.requests, args.rate, device, Path(tmp)))
    for name, latencies in results.items():
        report(name, latencies)
    worst_p99 = max(percentile(v, 99) for v in results.values())
    print(f"goal p99 <= 100 ms: {'met' if worst_p99 <= 100.0 else 'NOT met'}")
    return 0


async def measure(requests: int, rate: int, device: str, tmp: Path) -> dict[str, list[float]]:
    import numpy as np

    from broadcast.library import MessageLibrary
    from broadcast.program import Program, Repertoire, SirenContent
    from broadcast.tts import Speech
    from drivers.audio import AudioSettings, make_output
    from drivers.clock import SystemClock

    clock = SystemClock()
    out = make_output(AudioSettings(backend="sounddevice", rate=rate, device=device), clock)
    speech = Speech(tmp / "tts", rate)
    repertoire = Repertoire(MessageLibrary(tmp / "messages", speech), speech)
    program = Program(SirenContent("urgent_warning"))
    beep = (0.3 * np.sin(2 * np.pi * 1000 * np.arange(rate // 50) / rate)).astype(np.float32)
    results: dict[str, list[float]] = {"output": [], "program": []}
    await out.open("bench")
    try:
        for _ in range(requests):
            t0 = clock.monotonic()
            await out.play(beep)
            await out.drain()
            results["output"].append(_since(out.sound_started_at, t0))
        for _ in range(requests):
            t0 = clock.monotonic()
            async for block in repertoire.blocks(program):
                await out.play(block.pcm)
                break
            await out.stop()
            results["program"].append(_since(out.sound_started_at, t0))
    finally:
        await out.close()
    print(f"underruns counted: {out.underruns}")
    return results


def _since(stamp: float | None, t0: float) -> float:
    if stamp is None or stamp < t0:
        raise RuntimeError("no audio reached the device")
    return (stamp - t0) * 1000.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(name: str, ms: list[float]) -> None:
    print(
        f"request -> first frame to PortAudio [{name}], n={len(ms)}: "
        f"p50 {statistics.median(ms):.2f} ms  p99 {percentile(ms, 99):.2f} ms  "
        f"max {max(ms):.2f} ms"
    )


if __name__ == "__main__":
    sys.exit(main())
