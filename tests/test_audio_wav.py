"""WAV decoding (every PCM flavour, clear refusals), resampling, progressive writing."""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np
import pytest

from drivers.audio_wav import (
    ProgressiveWav,
    WavRejected,
    decode_wav,
    encode_wav,
    fft_lengths,
    next_smooth,
    resample,
    write_wav_atomically,
)


def tone(freq: float, seconds: float, rate: int, level: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (level * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


def riff(
    fmt_tag: int, channels: int, rate: int, bits: int, data: bytes, *, ext: bool = False
) -> bytes:
    align = channels * bits // 8
    tag = 0xFFFE if ext else fmt_tag
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits)
    if ext:
        fmt += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", fmt_tag) + bytes(14)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"LIST" + struct.pack("<I", 4) + b"INFO"  # a chunk to skip
    body += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_16_bit_round_trip_keeps_the_signal() -> None:
    x = tone(440, 0.5, 16000)
    audio = decode_wav(encode_wav(x, 16000))
    assert audio.rate == 16000 and audio.channels == 1 and audio.bits == 16
    assert np.max(np.abs(audio.samples - x)) < 1e-4


@pytest.mark.parametrize(
    ("tag", "bits", "dtype", "scale"),
    [(1, 32, "<i4", 2**31 - 1), (3, 32, "<f4", 1.0), (3, 64, "<f8", 1.0), (1, 8, "u1", None)],
)
def test_other_pcm_flavours_decode(tag: int, bits: int, dtype: str, scale: float | None) -> None:
    x = tone(1000, 0.2, 8000)
    raw = (x * 127 + 128).astype(dtype) if scale is None else (x * scale).astype(dtype)
    audio = decode_wav(riff(tag, 1, 8000, bits, raw.tobytes()))
    assert np.max(np.abs(audio.samples - x)) < 0.01


def test_24_bit_extensible_stereo_is_mixed_to_mono() -> None:
    x = tone(1000, 0.2, 48000)
    left = np.round(x * (2**23 - 1)).astype(np.int32)
    right = -left // 2  # the mix is (left + right) / 2 = x / 4
    frames = np.stack([left, right], axis=1).reshape(-1)
    raw = b"".join(int(v).to_bytes(3, "little", signed=True) for v in frames)
    audio = decode_wav(riff(1, 2, 48000, 24, raw, ext=True))
    assert audio.channels == 2 and audio.bits == 24
    assert np.max(np.abs(audio.samples - x / 4)) < 1e-3


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"ID3\x03\x00" + bytes(100), "not a WAV file"),
        (riff(0x55, 1, 16000, 16, bytes(100)), "compressed WAV (MPEG Layer 3)"),
        (riff(0x55, 1, 16000, 16, bytes(100), ext=True), "compressed WAV (MPEG Layer 3)"),
        (riff(1, 1, 16000, 16, b""), "empty WAV file"),
        (riff(1, 1, 16000, 12, bytes(100)), "unsupported sample size"),
        (encode_wav(np.zeros(16000 * 3), 16000), "too long: 3.0 s, limit 2 s"),
        (encode_wav(np.zeros(100), 16000), "too short"),
    ],
)
def test_unplayable_files_are_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(WavRejected, match=reason.replace("(", r"\(").replace(")", r"\)")):
        decode_wav(data, max_duration_s=2.0, min_duration_s=0.1)


def test_resampling_keeps_pitch_and_length() -> None:
    x = tone(1000, 1.0, 22050)
    y = resample(x, 22050, 16000)
    assert len(y) == 16000
    assert dominant_hz(y, 16000) == pytest.approx(1000, abs=2)
    assert np.max(np.abs(y[100:-100])) == pytest.approx(0.5, abs=0.02)


def test_a_clip_of_any_length_is_padded_to_lengths_the_fft_is_quick_at() -> None:
    assert [next_smooth(n) for n in (1, 7, 11, 97, 1025)] == [1, 8, 12, 100, 1080]
    n, m = fft_lengths(200_009, 22050, 48000)  # a prime number of samples
    assert n >= 200_009 and n * 48000 == m * 22050
    for length in (n, m):  # 22050:48000 is 147:320 = 3*7*7 : 2**6*5, radices of the FFT
        for prime in (2, 3, 5, 7):
            while length % prime == 0:
                length //= prime
        assert length == 1
    x = tone(440, 200_009 / 22050, 22050)[:200_009]
    y = resample(x, 22050, 48000)
    assert len(y) == round(200_009 * 48000 / 22050)
    assert dominant_hz(y, 48000) == pytest.approx(440, abs=2)


def test_downsampling_removes_what_the_new_rate_cannot_carry() -> None:
    x = tone(7000, 1.0, 48000)  # above 8 kHz's Nyquist: must vanish, not fold to 1 kHz
    y = resample(x, 48000, 8000)
    assert np.sqrt(np.mean(y**2)) < 0.01


def test_progressive_wav_is_readable_before_it_is_closed(tmp_path: Path) -> None:
    path = tmp_path / "session.wav"
    wav = ProgressiveWav(path, 16000)
    try:
        wav.write(tone(500, 0.25, 16000))
        wav.write(tone(500, 0.25, 16000))
        with wave.open(str(path), "rb") as r:  # as after a power cut: header already right
            assert r.getnframes() == 8000
    finally:
        wav.close()
    assert wav.frames == 8000


def test_atomic_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "m" / "evacuate.wav"
    write_wav_atomically(path, tone(500, 0.1, 8000), 8000)
    write_wav_atomically(path, tone(600, 0.2, 8000), 8000)
    assert [p.name for p in path.parent.iterdir()] == ["evacuate.wav"]
    assert decode_wav(path.read_bytes()).duration_s == pytest.approx(0.2)
