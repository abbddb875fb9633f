"""The message library: spoken defaults, validated uploads, atomic replacement."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from broadcast.library import (
    DEFAULT_MESSAGES,
    MessageLibrary,
    MessageText,
    UnknownMessage,
    UploadLimits,
    UploadRejected,
)
from broadcast.tts import Speech
from drivers.audio_wav import encode_wav

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="Debian package espeak-ng is not installed"
)
RATE = 16000


def tone(freq: float, seconds: float, rate: int) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture
def library(tmp_path: Path) -> MessageLibrary:
    speech = Speech(tmp_path / "tts", RATE)
    limits = UploadLimits(max_bytes=400_000, max_duration_s=10.0)
    return MessageLibrary(tmp_path / "messages", speech, limits=limits)


async def test_defaults_are_spoken_at_first_start(library: MessageLibrary) -> None:
    assert await library.prepare() == {}
    infos = {m.id: m for m in library.list()}
    assert list(infos) == ["evacuate", "prepare", "all_clear", "test"]
    assert "立即转移" in infos["evacuate"].text and "准备转移" in infos["prepare"].text
    assert "解除" in infos["all_clear"].text
    for info in infos.values():
        assert info.source == "tts" and info.gloss
        assert info.duration_s is not None and info.duration_s > 1.0
    audio = await library.audio("evacuate")
    assert len(audio) / RATE == pytest.approx(infos["evacuate"].duration_s)


async def test_an_upload_replaces_the_spoken_message_at_the_output_rate(
    library: MessageLibrary,
) -> None:
    recording = encode_wav(tone(440, 2.0, 44100), 44100)
    info = await library.upload("evacuate", recording)
    assert info.source == "uploaded" and info.duration_s == pytest.approx(2.0)
    audio = await library.audio("evacuate")
    assert len(audio) == 2 * RATE
    spectrum = np.abs(np.fft.rfft(audio))
    assert np.argmax(spectrum) * RATE / len(audio) == pytest.approx(440, abs=1)
    assert library.remove_upload("evacuate")
    assert library.info("evacuate").source == "tts"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty upload"),
        (b"ID3" + bytes(1000), "not a WAV file"),
        (encode_wav(np.zeros(0), RATE), "empty WAV file"),
        (encode_wav(np.zeros(RATE), RATE), "silent recording"),
        (encode_wav(np.full(RATE * 11, 0.5), RATE // 2), "too long: 22.0 s, limit 10 s"),
        (bytes(400_001), "too big: 0.4 MB, limit 0.4 MB"),
    ],
)
async def test_a_bad_upload_is_refused_with_its_reason_and_changes_nothing(
    library: MessageLibrary, data: bytes, reason: str
) -> None:
    good = encode_wav(tone(440, 1.0, RATE), RATE)
    await library.upload("prepare", good)
    before = library.uploaded_path("prepare").read_bytes()
    with pytest.raises(UploadRejected, match=reason):
        await library.upload("prepare", data)
    assert library.uploaded_path("prepare").read_bytes() == before
    assert [p.name for p in library.uploaded_path("prepare").parent.iterdir()] == ["prepare.wav"]


async def test_uploads_only_for_known_messages(library: MessageLibrary) -> None:
    with pytest.raises(UploadRejected, match="unknown message id 'flood'"):
        await library.upload("flood", encode_wav(tone(440, 1.0, RATE), RATE))
    with pytest.raises(UnknownMessage):
        await library.audio("flood")


def test_a_library_without_the_required_messages_is_refused(tmp_path: Path) -> None:
    speech = Speech(tmp_path, RATE)
    with pytest.raises(ValueError, match="must have"):
        MessageLibrary(tmp_path, speech, messages=DEFAULT_MESSAGES[:2])
    with pytest.raises(ValueError, match="message id"):
        MessageText("Bad Id", "文本", "text")


async def test_a_station_can_add_messages_with_its_own_text(tmp_path: Path) -> None:
    extra = MessageText("landslide", "注意山体滑坡，请远离山脚。", "Landslide: keep off slopes.")
    library = MessageLibrary(tmp_path, Speech(tmp_path / "tts", RATE), (*DEFAULT_MESSAGES, extra))
    assert "landslide" in library
    assert len(await library.audio("landslide")) > RATE
