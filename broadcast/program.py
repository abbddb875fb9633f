"""What a broadcast plays, and that as a stream of audio blocks.

A :class:`Program` is plain data (it goes into the journal and the API): the content — a
library message, a siren pattern, a text to speak, or a live source — how many times it
repeats, the silence between repetitions, and whether an attention chime goes first.
:meth:`Repertoire.blocks` renders it into short blocks of PCM, so the scheduler can hand
them to the audio output one at a time and stop between any two; every block says which
repetition it belongs to, so a preempted broadcast can resume at the repetition it was cut
in (from its start: a sentence cut in half is said again whole).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from .library import MessageLibrary
from .siren_signals import DEFAULT_PATTERNS, SirenPattern, chime, silence_blocks, siren_blocks
from .tts import MAX_TEXT_CHARS, Speech

if TYPE_CHECKING:
    import numpy as np


class LiveSource(Protocol):
    """Audio arriving as it is spoken (a satellite-phone call-in, a microphone).

    ``blocks()`` yields mono float32 blocks at ``rate`` and ends when the speaker hangs up.
    """

    rate: int

    def blocks(self) -> AsyncIterator[np.ndarray]: ...


@dataclass(frozen=True)
class MessageContent:
    message_id: str


@dataclass(frozen=True)
class SirenContent:
    pattern_id: str


@dataclass(frozen=True)
class TextContent:
    text: str


@dataclass(frozen=True)
class LiveContent:
    label: str  # e.g. the caller's number, for the journal
    source: LiveSource = field(compare=False, repr=False)


Content = MessageContent | SirenContent | TextContent | LiveContent


@dataclass(frozen=True)
class Program:
    content: Content
    repeat: int = 1  # live content plays once, whatever this says
    gap_s: float = 3.0
    chime: bool | None = None  # None: before speech yes, before a siren no

    def __post_init__(self) -> None:
        if not 1 <= self.repeat <= 100:
            raise ValueError(f"repeat must be 1..100, got {self.repeat}")
        if not 0.0 <= self.gap_s <= 600.0:
            raise ValueError(f"gap_s must be 0..600, got {self.gap_s}")

    @property
    def with_chime(self) -> bool:
        if self.chime is not None:
            return self.chime
        return not isinstance(self.content, SirenContent)


@dataclass(frozen=True)
class ProgramBlock:
    pcm: np.ndarray  # mono float32 at the output rate
    part: Literal["chime", "content", "gap"]
    repeat: int  # 0-based repetition this block belongs to


class UnknownContent(ValueError):
    """The program names a message or a siren pattern the station does not have."""


class Repertoire:
    """Everything the station can play, and how each kind of content becomes audio."""

    def __init__(
        self,
        library: MessageLibrary,
        speech: Speech,
        patterns: Mapping[str, SirenPattern] = DEFAULT_PATTERNS,
        *,
        block_s: float = 0.1,
    ) -> None:
        if library.rate != speech.rate:
            raise ValueError(f"library at {library.rate} Hz but speech at {speech.rate} Hz")
        self.library = library
        self.speech = speech
        self.patterns = dict(patterns)
        self.rate = speech.rate
        self.block_frames = max(1, round(block_s * self.rate))
        self._chime_pcm: np.ndarray | None = None

    @property
    def _chime(self) -> np.ndarray:
        """The chime, made the first time a program asks for it (a quiet station never
        needs numpy)."""
        if self._chime_pcm is None:
            self._chime_pcm = chime(self.rate)
        return self._chime_pcm

    def check(self, program: Program) -> None:
        """Refuse, before anything is switched on, a program that cannot play."""
        c = program.content
        if isinstance(c, MessageContent) and c.message_id not in self.library:
            raise UnknownContent(f"unknown message {c.message_id!r}; known: {self.library.ids}")
        if isinstance(c, SirenContent) and c.pattern_id not in self.patterns:
            known = sorted(self.patterns)
            raise UnknownContent(f"unknown siren pattern {c.pattern_id!r}; known: {known}")
        if isinstance(c, TextContent) and not 0 < len(c.text.strip()) <= MAX_TEXT_CHARS:
            raise UnknownContent(f"text must be 1..{MAX_TEXT_CHARS} characters")

    async def duration_s(self, program: Program) -> float | None:
        """How long the program plays in full; None for live content."""
        self.check(program)
        c = program.content
        if isinstance(c, LiveContent):
            return None
        if isinstance(c, SirenContent):
            once = self.patterns[c.pattern_id].duration_s
        else:
            once = len(await self._clip(c)) / self.rate
        chime_s = len(self._chime) / self.rate if program.with_chime else 0.0
        return chime_s + program.repeat * once + (program.repeat - 1) * program.gap_s

    async def blocks(
        self, program: Program, *, from_repeat: int = 0
    ) -> AsyncIterator[ProgramBlock]:
        """The program as blocks, starting at repetition ``from_repeat`` (0: the start).

        Speech is made (or read from cache) before the first block, so a failure
        (:class:`~broadcast.tts.SpeechFailed`) comes before anything plays.
        """
        self.check(program)
        c = program.content
        clip = None if isinstance(c, SirenContent | LiveContent) else await self._clip(c)
        if program.with_chime:
            for pcm in _chop(self._chime, self.block_frames):
                yield ProgramBlock(pcm, "chime", from_repeat)
        if isinstance(c, LiveContent):
            async for pcm in _live_blocks(c.source, self.rate):
                yield ProgramBlock(pcm, "content", 0)
            return
        gap = round(program.gap_s * self.rate)
        for k in range(from_repeat, program.repeat):
            if clip is None:
                assert isinstance(c, SirenContent)
                content = siren_blocks(self.patterns[c.pattern_id], self.rate, self.block_frames)
            else:
                content = _chop(clip, self.block_frames)
            for pcm in content:
                yield ProgramBlock(pcm, "content", k)
            if k < program.repeat - 1:
                for pcm in silence_blocks(gap, self.block_frames):
                    yield ProgramBlock(pcm, "gap", k)

    async def _clip(self, content: MessageContent | TextContent) -> np.ndarray:
        if isinstance(content, MessageContent):
            return await self.library.audio(content.message_id)
        return await self.speech.speak(content.text)


def _chop(samples: np.ndarray, block_frames: int) -> Iterator[np.ndarray]:
    for start in range(0, len(samples), block_frames):
        yield samples[start : start + block_frames]


async def _live_blocks(source: LiveSource, rate: int) -> AsyncIterator[np.ndarray]:
    import numpy as np
    convert = _StreamResampler(source.rate, rate)
    async for pcm in source.blocks():
        out = convert.feed(np.asarray(pcm, dtype=np.float32).reshape(-1))
        if len(out):
            yield out


class _StreamResampler:
    """Linear interpolation across block edges: good enough for telephone voice
    (8 kHz, nothing above 3.4 kHz), and it needs no look-ahead."""

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        import numpy as np
        self._step = src_rate / dst_rate
        self._prev = np.zeros(1, dtype=np.float32)
        self._pos = 0.0  # next output position, in input samples from _prev

    def feed(self, block: np.ndarray) -> np.ndarray:
        import numpy as np
        if self._step == 1.0:
            return block
        ext = np.concatenate([self._prev, block])
        last = len(ext) - 1
        count = max(0, int(np.floor((last - self._pos) / self._step)) + 1)
        t = self._pos + self._step * np.arange(count)
        out: np.ndarray = np.interp(t, np.arange(len(ext)), ext).astype(np.float32)
        self._pos = self._pos + self._step * count - last
        self._prev = ext[-1:]
        return out
