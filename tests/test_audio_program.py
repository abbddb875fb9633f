"""Programs rendered to blocks: chime, repeats, gaps, resume, sirens, speech, live sources."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from broadcast.library import MessageLibrary
from broadcast.program import (
    LiveContent,
    MessageContent,
    Program,
    ProgramBlock,
    Repertoire,
    SirenContent,
    TextContent,
    UnknownContent,
)
from broadcast.siren_signals import DEFAULT_PATTERNS, chime
from broadcast.tts import Speech
from drivers.audio import AudioSettings, make_output
from drivers.audio_wav import decode_wav, encode_wav
from drivers.clock import ManualClock

RATE = 8000


def tone(freq: float, seconds: float, rate: int = RATE) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture
async def repertoire(tmp_path: Path) -> Repertoire:
    speech = Speech(tmp_path / "tts", RATE)
    library = MessageLibrary(tmp_path / "messages", speech)
    await library.upload("evacuate", encode_wav(tone(500, 1.0), RATE))
    return Repertoire(library, speech, block_s=0.1)


async def collect(blocks: AsyncIterator[ProgramBlock]) -> list[ProgramBlock]:
    return [b async for b in blocks]


def parts(blocks: list[ProgramBlock]) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for b in blocks:
        if not out or out[-1] != (b.part, b.repeat):
            out.append((b.part, b.repeat))
    return out


async def test_a_message_plays_after_the_chime_repeat_times_with_gaps(
    repertoire: Repertoire,
) -> None:
    program = Program(MessageContent("evacuate"), repeat=3, gap_s=0.5)
    blocks = await collect(repertoire.blocks(program))
    assert parts(blocks) == [
        ("chime", 0), ("content", 0), ("gap", 0), ("content", 1), ("gap", 1), ("content", 2),
    ]
    assert max(len(b.pcm) for b in blocks) == round(0.1 * RATE)
    audio = np.concatenate([b.pcm for b in blocks])
    chime_len = len(chime(RATE))
    assert np.array_equal(audio[:chime_len], chime(RATE))
    content = audio[chime_len : chime_len + RATE]
    assert np.max(np.abs(content - tone(500, 1.0))) < 1e-3
    assert np.all(audio[chime_len + RATE : chime_len + RATE + RATE // 2] == 0.0)
    assert len(audio) / RATE == pytest.approx(await repertoire.duration_s(program))


async def test_a_preempted_program_resumes_at_the_repetition_it_was_cut_in(
    repertoire: Repertoire,
) -> None:
    program = Program(MessageContent("evacuate"), repeat=3, gap_s=0.5)
    blocks = await collect(repertoire.blocks(program, from_repeat=2))
    assert parts(blocks) == [("chime", 2), ("content", 2)]


async def test_a_siren_program_has_no_chime_and_follows_its_pattern(
    repertoire: Repertoire,
) -> None:
    program = Program(SirenContent("urgent_warning"))
    blocks = await collect(repertoire.blocks(program))
    assert parts(blocks)[0] == ("content", 0)
    seconds = sum(len(b.pcm) for b in blocks) / RATE
    assert seconds == pytest.approx(DEFAULT_PATTERNS["urgent_warning"].duration_s)
    assert await repertoire.duration_s(program) == pytest.approx(seconds)


async def test_unknown_content_is_refused_before_anything_plays(repertoire: Repertoire) -> None:
    with pytest.raises(UnknownContent, match="unknown message 'flood'"):
        repertoire.check(Program(MessageContent("flood")))
    with pytest.raises(UnknownContent, match="unknown siren pattern 'whoop'"):
        await collect(repertoire.blocks(Program(SirenContent("whoop"))))
    with pytest.raises(UnknownContent, match="text must be"):
        repertoire.check(Program(TextContent(" ")))
    with pytest.raises(ValueError, match="repeat must be"):
        Program(MessageContent("evacuate"), repeat=0)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs Debian package espeak-ng")
async def test_a_text_is_spoken(repertoire: Repertoire) -> None:
    program = Program(TextContent("后山雨量站一小时雨量五十二毫米"), chime=False)
    blocks = await collect(repertoire.blocks(program))
    assert parts(blocks) == [("content", 0)]
    assert sum(len(b.pcm) for b in blocks) / RATE > 2.0


class TelephoneCall:
    """A live source: telephone audio at half the output rate, arriving 20 ms at a time."""

    rate = 4000

    def __init__(self, seconds: float) -> None:
        self.audio = tone(300, seconds, self.rate)

    async def blocks(self) -> AsyncIterator[np.ndarray]:
        step = self.rate // 50
        for start in range(0, len(self.audio), step):
            await asyncio.sleep(0)
            yield self.audio[start : start + step]


async def test_a_live_source_is_converted_to_the_output_rate_seamlessly(
    repertoire: Repertoire,
) -> None:
    call = TelephoneCall(1.0)
    program = Program(LiveContent("+8613800000000", call), repeat=5)
    blocks = await collect(repertoire.blocks(program))
    assert parts(blocks) == [("chime", 0), ("content", 0)]  # once, whatever repeat says
    voice = np.concatenate([b.pcm for b in blocks if b.part == "content"])
    assert len(voice) == pytest.approx(RATE, abs=3)
    spectrum = np.abs(np.fft.rfft(voice))
    assert np.argmax(spectrum) * RATE / len(voice) == pytest.approx(300, abs=2)
    assert np.max(np.abs(np.diff(voice))) < 2 * np.pi * 300 / RATE * 0.5 * 1.05  # no seams
    assert await repertoire.duration_s(program) is None


async def test_a_program_plays_through_the_output_and_stops_between_blocks(
    repertoire: Repertoire, tmp_path: Path
) -> None:
    clock = ManualClock()
    out = make_output(AudioSettings(backend="file", rate=RATE, out_dir=tmp_path / "out"), clock)
    stop = asyncio.Event()

    async def broadcast() -> None:
        await out.open("b-1")
        try:
            async for block in repertoire.blocks(Program(SirenContent("all_clear"))):
                if stop.is_set() or not await out.play(block.pcm, cancel=stop):
                    break
            else:
                await out.drain(cancel=stop)
        finally:
            await out.close()

    task = asyncio.ensure_future(broadcast())
    await clock.advance(5.0)
    stop.set()
    await clock.advance(0.2)
    assert task.done()
    task.result()
    (wav,) = (tmp_path / "out").iterdir()
    assert 5.0 <= decode_wav(wav.read_bytes()).duration_s <= 5.2
