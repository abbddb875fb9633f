"""The file audio backend on the manual clock: sessions, pacing, stop and cancel."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from drivers.audio import AudioSession, AudioSettings, FileOutput, make_output
from drivers.audio_wav import decode_wav
from drivers.clock import ManualClock

RATE = 8000


def tone(freq: float, seconds: float, level: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return (level * np.sin(2 * np.pi * freq * t)).astype(np.float32)


class Sessions:
    def __init__(self) -> None:
        self.events: list[tuple[str, AudioSession]] = []

    def __call__(self, kind: str, session: AudioSession) -> None:
        self.events.append((kind, session))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sessions() -> Sessions:
    return Sessions()


@pytest.fixture
def output(tmp_path: Path, clock: ManualClock, sessions: Sessions) -> FileOutput:
    settings = AudioSettings(backend="file", rate=RATE, out_dir=tmp_path / "audio-out")
    out = make_output(settings, clock, sessions)
    assert isinstance(out, FileOutput)
    return out


async def test_a_session_is_one_timestamped_wav_holding_what_was_played(
    output: FileOutput, clock: ManualClock, sessions: Sessions, tmp_path: Path
) -> None:
    await clock.advance(1.5)
    await output.open("b-7/evacuate 立即转移")
    played = asyncio.ensure_future(_play_and_drain(output, [tone(1000, 0.5), tone(2000, 0.5)]))
    await clock.advance(2.0)
    assert await played
    await output.close()

    path = tmp_path / "audio-out" / "20260701T000001.500Z-b-7_evacuate.wav"
    assert [f.name for f in path.parent.iterdir()] == [path.name]
    audio = decode_wav(path.read_bytes())
    expected = np.concatenate([tone(1000, 0.5), tone(2000, 0.5)])
    assert len(audio.samples) == len(expected)
    assert np.max(np.abs(audio.samples - expected)) < 1e-3
    kinds = [k for k, _ in sessions.events]
    assert kinds == ["start", "stop"]
    stop = sessions.events[1][1]
    assert stop.path == path and stop.frames == RATE and stop.underruns == 0
    assert stop.started == clock.now() - timedelta(seconds=2.0) and stop.ended == clock.now()


async def _play_and_drain(output: FileOutput, clips: list[np.ndarray]) -> bool:
    for clip in clips:
        if not await output.play(clip):
            return False
    return await output.drain()


async def test_audio_goes_out_at_the_clock_rate(output: FileOutput, clock: ManualClock) -> None:
    await output.open("pace")
    played = asyncio.ensure_future(_play_and_drain(output, [tone(800, 2.0)]))
    await clock.advance(1.5)
    assert not played.done()  # a 2-second sound takes 2 seconds
    await clock.advance(0.6)
    assert played.done() and played.result()
    assert output.sound_started_at == 0.0
    await output.close()


async def test_stop_fades_out_what_plays_now_without_a_click(
    output: FileOutput, clock: ManualClock, sessions: Sessions
) -> None:
    await output.open("stop")
    played = asyncio.ensure_future(_play_and_drain(output, [tone(1000, 10.0, level=0.8)]))
    await clock.advance(2.0)
    await output.stop()
    await clock.advance(0.1)
    assert played.done()  # drain() returns once the queue is dropped
    await output.close()
    samples = decode_wav(sessions.events[-1][1].path.read_bytes()).samples
    heard_s = len(samples) / RATE
    assert 2.0 <= heard_s <= 2.0 + 0.2  # stopped within 200 ms
    tail = samples[-round(0.03 * RATE) :]
    slope_limit = 2 * np.pi * 1000 / RATE * 0.8 * 1.01
    assert np.max(np.abs(np.diff(samples))) <= slope_limit  # no step anywhere
    assert np.max(np.abs(tail[-8:])) < 0.05  # and it ends at silence
    assert np.max(np.abs(tail[:8])) > 0.5


async def test_cancel_event_stops_play_and_reports_it(
    output: FileOutput, clock: ManualClock, sessions: Sessions
) -> None:
    cancel = asyncio.Event()
    await output.open("cancel")
    played = asyncio.ensure_future(output.play(tone(1000, 10.0), cancel=cancel))
    await clock.advance(1.0)
    cancel.set()
    await clock.advance(0.2)
    assert played.done() and played.result() is False
    await output.close()
    heard_s = sessions.events[-1][1].frames / RATE
    assert 1.0 <= heard_s <= 1.2


async def test_live_audio_keeps_a_short_queue_and_a_late_block_is_an_underrun(
    output: FileOutput, clock: ManualClock, sessions: Sessions
) -> None:
    await output.open("live")
    backlog = asyncio.ensure_future(output.play(tone(1000, 0.5), live=True))
    await clock.advance(0.38)
    assert not backlog.done()  # more than live_queue_s (0.06 s) still ahead of the device
    await clock.advance(0.08)
    assert backlog.done() and backlog.result()
    await clock.advance(0.02)
    assert await output.play(tone(1000, 0.02), live=True)  # the next block, on time
    assert output.underruns == 0
    await clock.advance(0.2)  # the speaker's next block comes 0.2 s late
    assert await output.play(tone(1000, 0.02), live=True)
    assert output.underruns == 1
    drained = asyncio.ensure_future(output.drain())
    await clock.advance(0.1)
    assert await drained
    await output.close()
    assert sessions.events[-1][1].underruns == 1
    assert sessions.events[-1][1].frames == round(0.54 * RATE)


async def test_play_before_open_is_an_error(output: FileOutput) -> None:
    with pytest.raises(RuntimeError, match="not open"):
        await output.play(tone(1000, 0.1))


def test_the_file_backend_needs_a_directory() -> None:
    with pytest.raises(ValueError, match="out_dir"):
        AudioSettings(backend="file")
