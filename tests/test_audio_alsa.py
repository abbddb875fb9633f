"""The real sounddevice backend: PortAudio → ALSA → an ALSA ``file`` PCM made by the test.

PortAudio reads the ALSA configuration when ``sounddevice`` is imported, so each case runs
in a child process (this file run as a script) whose ``ALSA_CONFIG_PATH`` names only the
test's ``.asoundrc``: a ``file`` PCM that writes every sample it is given to a raw file
over a ``null`` slave (and a ``default`` PCM: PortAudio 19.6 aborts the process without
one). The parent then checks what reached ALSA, by frequency, not size.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
RATE = 8000
WINDOW = RATE // 50  # 20 ms

ASOUNDRC = """
pcm.station_capture {{
    type file
    slave.pcm "station_null"
    file "{raw}"
    format "raw"
}}
pcm.station_null {{
    type null
}}
pcm.!default {{
    type null
}}
"""


def run_child(tmp_path: Path, scenario: str, dtype: str) -> tuple[np.ndarray, dict]:
    raw = tmp_path / "captured.raw"
    conf = tmp_path / "asoundrc"
    conf.write_text(ASOUNDRC.format(raw=raw))
    env = {**os.environ, "ALSA_CONFIG_PATH": str(conf), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, __file__, scenario, dtype],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    data = raw.read_bytes()
    samples = (
        np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
        if dtype == "int16"
        else np.frombuffer(data, dtype="<f4")
    )
    return samples, report


def sounding_windows(samples: np.ndarray) -> list[int]:
    """The dominant frequency (Hz) of every 20 ms window that is not silent."""
    found = []
    for start in range(0, len(samples) - WINDOW + 1, WINDOW):
        w = samples[start : start + WINDOW]
        if np.sqrt(np.mean(w**2)) > 0.1:
            spectrum = np.abs(np.fft.rfft(w * np.hanning(WINDOW)))
            found.append(round(np.argmax(spectrum) * RATE / WINDOW))
    return found


@pytest.mark.parametrize("dtype", ["int16", "float32"])
def test_tones_reach_alsa_in_order_at_their_frequencies(tmp_path: Path, dtype: str) -> None:
    samples, report = run_child(tmp_path, "tones", dtype)
    windows = sounding_windows(samples)
    assert [f for i, f in enumerate(windows) if i == 0 or windows[i - 1] != f] == [1000, 2000]
    assert windows.count(1000) == pytest.approx(25, abs=2)  # 0.5 s of each
    assert windows.count(2000) == pytest.approx(25, abs=2)
    assert report["sessions"] == [["start", "tones", 0], ["stop", "tones", RATE]]
    assert report["sound_started"] is True


def test_stop_fades_out_through_portaudio_without_a_click(tmp_path: Path) -> None:
    samples, report = run_child(tmp_path, "stop", "float32")
    assert report["played"] is False  # cancelled
    loud = np.flatnonzero(np.abs(samples) > 1e-4)
    heard = samples[loud[0] : loud[-1] + 1]
    assert len(heard) / RATE < 60.0  # of a 10-minute tone
    step_limit = 2 * np.pi * 1000 / RATE * 0.8 * 1.01
    assert np.max(np.abs(np.diff(samples))) <= step_limit  # no step, at start or end
    fade = heard[-round(0.03 * RATE) :]
    envelope = np.abs(fade[: len(fade) // 8 * 8]).reshape(-1, 8).max(axis=1)  # 1 ms windows
    assert envelope[0] > 0.6 and envelope[-1] < 0.1  # loud, then silent 30 ms later
    assert np.all(np.diff(envelope) < 0.01)  # falling all the way: a fade, not a cut


# ---- the child process -------------------------------------------------------------------


async def child(scenario: str, dtype: str) -> dict:
    from drivers.audio import AudioSettings, make_output
    from drivers.clock import SystemClock

    sessions: list[list] = []
    settings = AudioSettings(device="station_capture", rate=RATE, dtype=dtype)  # type: ignore[arg-type]
    out = make_output(
        settings, SystemClock(), lambda kind, s: sessions.append([kind, s.label, s.frames])
    )
    t = np.arange(RATE) / RATE
    report: dict = {}
    await out.open(scenario)
    try:
        if scenario == "tones":
            for freq in (1000, 2000):
                await out.play((0.5 * np.sin(2 * np.pi * freq * t[: RATE // 2])).astype(np.float32))
            await out.drain()
        else:
            cancel = asyncio.Event()
            cancel.set()
            long_t = np.arange(600 * RATE, dtype=np.float32) / RATE
            tone = (0.8 * np.sin(2 * np.pi * 1000 * long_t)).astype(np.float32)
            report["played"] = await out.play(tone, cancel=cancel)
    finally:
        await out.close()
    report["sessions"] = sessions
    report["sound_started"] = out.sound_started_at is not None
    report["underruns"] = out.underruns
    return report


if __name__ == "__main__":
    print(json.dumps(asyncio.run(child(sys.argv[1], sys.argv[2]))))
