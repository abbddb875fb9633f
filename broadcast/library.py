"""The message library: the station's standing announcements.

Every station has at least ``evacuate`` (立即转移), ``prepare`` (准备转移), ``all_clear``
(解除) and ``test``. Out of the box each is spoken by espeak-ng from its Chinese text
(made at first start, then cached); a station replaces any of them with a recording of a
familiar local voice, which villagers trust more than a machine. An upload is checked
completely (PCM WAV, not empty, not silent, within size and length) and converted to the
output rate before it replaces anything, and it lands with an atomic rename: a bad upload
changes nothing.
"""

from __future__ import annotations

import asyncio
import re
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from drivers.audio_wav import WavRejected, decode_wav, read_wav_file, resample, write_wav_atomically

from .tts import Speech, SpeechFailed

if TYPE_CHECKING:
    import numpy as np

MESSAGE_ID = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


@dataclass(frozen=True)
class MessageText:
    id: str
    text: str  # what the loudspeakers say, Simplified Chinese
    gloss: str  # English, for the county's logs and the docs

    def __post_init__(self) -> None:
        if not MESSAGE_ID.match(self.id):
            raise ValueError(f"message id must match {MESSAGE_ID.pattern}, got {self.id!r}")
        if not self.text.strip():
            raise ValueError(f"message {self.id!r} has an empty text")


DEFAULT_MESSAGES: tuple[MessageText, ...] = (
    MessageText(
        "evacuate",
        "紧急通知！山洪危险，请立即转移！马上离开危险区域，转移到安全地点！",
        "Emergency! Flash-flood danger: evacuate now, leave the danger zone for a safe place!",
    ),
    MessageText(
        "prepare",
        "请注意！雨量较大，可能发生山洪地质灾害，请准备转移。听到立即转移的通知后，马上转移。",
        "Attention! Heavy rain may cause flash floods or landslides: prepare to evacuate, "
        "and go as soon as the evacuation order sounds.",
    ),
    MessageText(
        "all_clear",
        "解除通知：险情已经解除，请大家有序返回。",
        "All clear: the danger is over, please return in order.",
    ),
    MessageText(
        "test",
        "这是应急广播测试，不需要采取任何行动。",
        "This is a test of the emergency broadcast; no action is needed.",
    ),
)


class UnknownMessage(KeyError):
    """No message with that id."""


class UploadRejected(ValueError):
    """The upload cannot become a message; ``str()`` is the reason, for a 4xx answer."""


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int = 20_000_000  # 3 min of 48 kHz 16-bit mono is 17 MB
    max_duration_s: float = 180.0
    min_duration_s: float = 0.5
    min_peak: float = 0.01  # quieter than this is a wrong input, not a message


@dataclass(frozen=True)
class MessageInfo:
    id: str
    text: str
    gloss: str
    source: Literal["tts", "uploaded"]
    duration_s: float | None  # None: the speech is not made yet (espeak-ng failed)


class MessageLibrary:
    def __init__(
        self,
        directory: Path,
        speech: Speech,
        messages: Sequence[MessageText] = DEFAULT_MESSAGES,
        limits: UploadLimits | None = None,
    ) -> None:
        self.directory = directory
        self.speech = speech
        self.rate = speech.rate
        self.limits = limits or UploadLimits()
        self._messages = {m.id: m for m in messages}
        missing = {m.id for m in DEFAULT_MESSAGES} - self._messages.keys()
        if missing:
            raise ValueError(f"the message library must have {sorted(missing)}")

    @property
    def ids(self) -> list[str]:
        return list(self._messages)

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._messages

    def uploaded_path(self, message_id: str) -> Path:
        return self.directory / "uploaded" / f"{message_id}.wav"

    async def prepare(self) -> dict[str, str]:
        """Make the speech of every message without a recording; the problems by id."""
        problems: dict[str, str] = {}
        for m in self._messages.values():
            if self.uploaded_path(m.id).exists():
                continue
            try:
                await self.speech.prepare(m.text)
            except SpeechFailed as e:
                problems[m.id] = str(e)
        return problems

    def list(self) -> list[MessageInfo]:
        return [self.info(message_id) for message_id in self._messages]

    def info(self, message_id: str) -> MessageInfo:
        m = self._get(message_id)
        uploaded = self.uploaded_path(m.id)
        if uploaded.exists():
            return MessageInfo(m.id, m.text, m.gloss, "uploaded", _duration(uploaded))
        spoken = self.speech.cache_path(m.text)
        duration = _duration(spoken) if spoken.exists() else None
        return MessageInfo(m.id, m.text, m.gloss, "tts", duration)

    async def audio(self, message_id: str) -> np.ndarray:
        """The message at the output rate: the recording if there is one, else speech."""
        m = self._get(message_id)
        uploaded = self.uploaded_path(m.id)
        try:
            audio = read_wav_file(uploaded)
        except (FileNotFoundError, WavRejected):
            return await self.speech.speak(m.text)
        return resample(audio.samples, audio.rate, self.rate)

    async def upload(self, message_id: str, data: bytes) -> MessageInfo:
        """Replace a message by a recording; raises :class:`UploadRejected` with the reason."""
        if message_id not in self._messages:
            raise UploadRejected(f"unknown message id {message_id!r}; known: {self.ids}")
        if not data:
            raise UploadRejected("empty upload")
        if len(data) > self.limits.max_bytes:
            raise UploadRejected(
                f"too big: {len(data) / 1e6:.1f} MB, limit {self.limits.max_bytes / 1e6:g} MB"
            )
        await asyncio.to_thread(self._store, message_id, data)
        return self.info(message_id)

    def _store(self, message_id: str, data: bytes) -> None:
        import numpy as np
        lim = self.limits
        try:
            audio = decode_wav(
                data, max_duration_s=lim.max_duration_s, min_duration_s=lim.min_duration_s
            )
        except WavRejected as e:
            raise UploadRejected(str(e)) from e
        peak = float(np.max(np.abs(audio.samples)))
        if peak < lim.min_peak:
            raise UploadRejected(f"silent recording (peak {peak:.4f} of full scale)")
        samples = resample(audio.samples, audio.rate, self.rate)
        write_wav_atomically(self.uploaded_path(message_id), samples, self.rate)

    def remove_upload(self, message_id: str) -> bool:
        """Go back to the spoken text; False if there was no recording."""
        path = self.uploaded_path(self._get(message_id).id)
        if not path.exists():
            return False
        path.unlink()
        return True

    def _get(self, message_id: str) -> MessageText:
        try:
            return self._messages[message_id]
        except KeyError:
            raise UnknownMessage(message_id) from None


def _duration(path: Path) -> float | None:
    try:
        with wave.open(str(path), "rb") as w:
            return w.getnframes() / w.getframerate()
    except (OSError, wave.Error, EOFError):
        return None
