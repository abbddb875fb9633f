"""Mandarin speech through the real espeak-ng (Debian package espeak-ng)."""

from __future__ import annotations

import asyncio
import shutil
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

from broadcast.tts import Speech, SpeechFailed, end_process

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="Debian package espeak-ng is not installed"
)
RATE = 16000
SENTENCE = "后山雨量站一小时雨量五十二毫米，请立即转移"


def band_share(x: np.ndarray, low: float, high: float) -> float:
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / RATE)
    return float(power[(freqs >= low) & (freqs <= high)].sum() / power.sum())


async def test_a_chinese_sentence_becomes_speech_of_plausible_length(tmp_path: Path) -> None:
    speech = Speech(tmp_path, RATE)
    x = await speech.speak(SENTENCE)
    seconds = len(x) / RATE
    assert 0.15 * len(SENTENCE) < seconds < 0.8 * len(SENTENCE)  # a syllable is 0.15..0.8 s
    assert x.dtype == np.float32 and np.max(np.abs(x)) <= 1.0
    assert band_share(x, 80, 4000) > 0.9  # voice band
    frames = x[: len(x) // 320 * 320].reshape(-1, 320)  # 20 ms
    loudness = np.sqrt(np.mean(frames**2, axis=1))
    assert np.mean(loudness > 0.02) > 0.4  # mostly voiced …
    assert np.mean(loudness < 0.005) > 0.03  # … with the pauses between words


async def test_speech_is_cached_by_text(tmp_path: Path) -> None:
    first = await Speech(tmp_path, RATE).speak(SENTENCE)
    offline = Speech(tmp_path, RATE, program="/nonexistent/espeak-ng")
    again = await offline.speak(f"  {SENTENCE} ")  # same words, other spacing
    assert np.max(np.abs(again - first)) < 1e-4
    other_rate = Speech(tmp_path, 8000, program="/nonexistent/espeak-ng")
    with pytest.raises(SpeechFailed, match="not installed"):
        await other_rate.speak(SENTENCE)  # a different rendering: not in the cache


async def test_a_torn_cache_file_is_made_again(tmp_path: Path) -> None:
    speech = Speech(tmp_path, RATE)
    speech.cache_path("测试").write_bytes(b"RIFF")
    x = await speech.speak("测试")
    assert len(x) > RATE // 4


async def test_prepare_makes_missing_or_torn_speech_and_trusts_a_sound_cache(
        tmp_path: Path) -> None:
    offline = Speech(tmp_path, RATE, program="/nonexistent/espeak-ng")
    with pytest.raises(SpeechFailed, match="not installed"):
        await offline.prepare("测试")  # nothing cached: it must be made, and cannot be
    speech = Speech(tmp_path, RATE)
    speech.cache_path("测试").write_bytes(b"RIFF")
    await speech.prepare(" 测试 ")
    await offline.prepare("测试")  # the file made above vouches for it: nothing to run
    assert len(await offline.speak("测试")) > RATE // 4


async def test_empty_and_overlong_texts_are_refused(tmp_path: Path) -> None:
    speech = Speech(tmp_path, RATE)
    with pytest.raises(SpeechFailed, match="empty"):
        await speech.speak("   ")
    with pytest.raises(SpeechFailed, match="too long"):
        await speech.speak("转移" * 300)
    with pytest.raises(SpeechFailed, match="too long"):
        await speech.prepare("转移" * 300)


async def test_a_hung_synthesiser_is_killed_after_the_timeout(tmp_path: Path) -> None:
    hang = tmp_path / "hang.sh"
    hang.write_text("#!/bin/sh\nexec sleep 30\n")
    hang.chmod(0o755)
    speech = Speech(tmp_path, RATE, timeout_s=0.3, program=str(hang))
    with pytest.raises(SpeechFailed, match=r"took longer than 0\.3 s"):
        await speech.speak("测试")


async def test_a_failing_synthesiser_reports_its_error(tmp_path: Path) -> None:
    speech = Speech(tmp_path, RATE, program="false")
    with pytest.raises(SpeechFailed, match="exit status 1"):
        await speech.speak("测试")


async def test_a_process_whose_output_nobody_reads_is_still_ended(tmp_path: Path) -> None:
    """A cancelled rendering leaves espeak-ng's WAV unread in a paused pipe; ending the
    process must not wait for an end of file asyncio no longer reads (a stop that hung)."""
    chatty = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import sys, time; sys.stdout.buffer.write(b'x' * 2**20); "
        "time.sleep(60)", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    pipe = chatty._transport.get_pipe_transport(1)  # type: ignore[attr-defined]  # private: the condition itself
    while pipe.is_reading():  # noqa: ASYNC110 (asyncio pauses a full pipe; no event says so)
        await asyncio.sleep(0.01)
    await asyncio.wait_for(end_process(chatty), timeout=30)  # the bound only catches a hang
    assert chatty.returncode == -signal.SIGKILL


async def test_speech_that_cannot_be_cached_is_still_spoken(tmp_path: Path) -> None:
    (tmp_path / "cache").write_text("a file where the cache directory should be")
    x = await Speech(tmp_path / "cache", RATE).speak("测试")
    assert len(x) > RATE // 4
