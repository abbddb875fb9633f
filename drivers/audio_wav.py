"""WAV files and sample rates, in plain numpy.

Audio inside the station is one shape only: mono ``float32`` samples in ``[-1, 1]`` at
the output rate. This module turns WAV bytes from anywhere (an upload, espeak-ng, a
recording) into that shape and back, and refuses what it cannot read with a reason a
person can act on. The RIFF chunks are parsed here rather than with :mod:`wave`
because :mod:`wave` in Python 3.11 rejects ``WAVE_FORMAT_EXTENSIBLE`` (what most
recorders write) and floating-point PCM, and says "unknown format: 85" where the
station should say "compressed (MPEG Layer 3)".
"""

from __future__ import annotations

import math
import os
import struct
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


_PCM = 0x0001
_IEEE_FLOAT = 0x0003
_EXTENSIBLE = 0xFFFE
_COMPRESSED_NAMES = {
    0x0002: "Microsoft ADPCM",
    0x0006: "A-law",
    0x0007: "mu-law",
    0x0011: "IMA ADPCM",
    0x0031: "GSM 6.10",
    0x0050: "MPEG",
    0x0055: "MPEG Layer 3",
    0x00FF: "AAC",
    0x1610: "AAC",
    0xF1AC: "FLAC",
}


class WavRejected(ValueError):
    """The bytes are not WAV audio the station can play; ``str()`` is the reason."""


@dataclass(frozen=True)
class WavAudio:
    samples: np.ndarray  # mono float32 in [-1, 1]
    rate: int
    channels: int  # as stored in the file, before the mix to mono
    bits: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.rate


@dataclass(frozen=True)
class WavLayout:
    """What a WAV file's header says, checked; its samples not yet decoded."""

    tag: int  # _PCM or _IEEE_FLOAT
    channels: int
    rate: int
    bits: int
    frames: int
    raw: bytes  # the whole frames of the data chunk

    @property
    def duration_s(self) -> float:
        return self.frames / self.rate


def check_wav(
    data: bytes, *, max_duration_s: float | None = None, min_duration_s: float = 0.0
) -> WavLayout:
    """The header of PCM WAV bytes, checked as :func:`decode_wav` checks it (raises
    :class:`WavRejected`), in plain Python: a file can be vouched for without numpy."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise WavRejected("not a WAV file (no RIFF/WAVE header)")
    fmt: bytes | None = None
    payload: bytes | None = None
    pos = 12
    while pos + 8 <= len(data):
        chunk_id, size = struct.unpack_from("<4sI", data, pos)
        body = data[pos + 8 : pos + 8 + size]
        if chunk_id == b"fmt ":
            fmt = body
        elif chunk_id == b"data":
            payload = body  # a truncated data chunk keeps what arrived
            break
        pos += 8 + size + (size & 1)
    if fmt is None or len(fmt) < 16:
        raise WavRejected("not a WAV file (no valid fmt chunk)")
    if payload is None:
        raise WavRejected("WAV file has no data chunk")
    tag, channels, rate, _, block_align, bits = struct.unpack_from("<HHIIHH", fmt, 0)
    if tag == _EXTENSIBLE and len(fmt) >= 26:
        tag = struct.unpack_from("<H", fmt, 24)[0]
    if tag not in (_PCM, _IEEE_FLOAT):
        name = _COMPRESSED_NAMES.get(tag, f"format 0x{tag:04X}")
        raise WavRejected(f"compressed WAV ({name}); upload uncompressed PCM WAV")
    if channels < 1 or rate < 4000 or rate > 192000:
        raise WavRejected(f"implausible WAV header: {channels} channels at {rate} Hz")
    width = bits // 8
    allowed_bits = (8, 16, 24, 32) if tag == _PCM else (32, 64)
    if bits not in allowed_bits:
        raise WavRejected(f"unsupported sample size: {bits} bits")
    if block_align != width * channels:
        raise WavRejected(f"inconsistent WAV header: block align {block_align}")
    frames = len(payload) // block_align
    if frames == 0:
        raise WavRejected("empty WAV file (no audio samples)")
    duration = frames / rate
    if max_duration_s is not None and duration > max_duration_s:
        raise WavRejected(f"too long: {duration:.1f} s, limit {max_duration_s:g} s")
    if duration < min_duration_s:
        raise WavRejected(f"too short: {duration:.2f} s, at least {min_duration_s:g} s")
    return WavLayout(tag, channels, rate, bits, frames, payload[: frames * block_align])


def decode_wav(
    data: bytes, *, max_duration_s: float | None = None, min_duration_s: float = 0.0
) -> WavAudio:
    """Read PCM WAV bytes (8/16/24/32-bit integer or 32/64-bit float) into mono float32."""
    import numpy as np
    wav = check_wav(data, max_duration_s=max_duration_s, min_duration_s=min_duration_s)
    samples = _to_float(wav.raw, wav.tag, wav.bits // 8).reshape(wav.frames, wav.channels)
    return WavAudio(samples.mean(axis=1).astype(np.float32), wav.rate, wav.channels, wav.bits)


def _to_float(raw: bytes, tag: int, width: int) -> np.ndarray:
    import numpy as np
    if tag == _IEEE_FLOAT:
        floats = np.frombuffer(raw, dtype="<f4" if width == 4 else "<f8").astype(np.float64)
        return np.clip(np.nan_to_num(floats), -1.0, 1.0)
    if width == 1:
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    if width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        values = (b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8 >> 8
        return values.astype(np.float32) / float(1 << 23)
    dtype = "<i2" if width == 2 else "<i4"
    return np.frombuffer(raw, dtype=dtype).astype(np.float32) / float(1 << (8 * width - 1))


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Float samples to 16-bit PCM, clipped rather than wrapped."""
    return (samples.clip(-1.0, 1.0) * 32767.0).astype("<i2")


def encode_wav(samples: np.ndarray, rate: int) -> bytes:
    """Mono 16-bit PCM WAV bytes."""
    pcm = to_int16(samples).tobytes()
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 36 + len(pcm), b"WAVE",
        b"fmt ", 16, _PCM, 1, rate, rate * 2, 2, 16,
        b"data", len(pcm),
    )
    return header + pcm


def write_wav_atomically(path: Path, samples: np.ndarray, rate: int) -> None:
    """Write a WAV so that ``path`` holds either the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(encode_wav(samples, rate))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_wav_file(path: Path) -> WavAudio:
    return decode_wav(path.read_bytes())


def resample(samples: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Band-limited resampling of a whole clip (FFT method).

    The clip is padded with silence first so that the FFT's circular wrap cannot
    smear the end of a sentence onto its beginning, and then to a length the FFT is
    quick at: a clip whose length is a large prime costs the FFT ten times as much, and
    every spoken message is resampled when a station starts.
    """
    import numpy as np
    if src_rate == dst_rate or len(samples) == 0:
        return samples.astype(np.float32)
    n, m = fft_lengths(len(samples) + src_rate // 10, src_rate, dst_rate)
    padded = np.zeros(n, dtype=np.float64)
    padded[:len(samples)] = samples
    spectrum = np.fft.rfft(padded)
    out_spectrum = np.zeros(m // 2 + 1, dtype=complex)
    keep = min(len(spectrum), len(out_spectrum))
    out_spectrum[:keep] = spectrum[:keep]
    out = np.fft.irfft(out_spectrum, m) * (m / n)
    length = round(len(samples) * dst_rate / src_rate)
    return np.clip(out[:length], -1.0, 1.0).astype(np.float32)


def fft_lengths(at_least: int, src_rate: int, dst_rate: int) -> tuple[int, int]:
    """Lengths ``(n, m)`` of a padded clip and its resampled self, with ``n >= at_least``.

    ``n`` is a multiple of the rates' reduced ratio, so ``m = n * dst / src`` is exact,
    and the multiple has no prime factor above 5, so both FFTs are fast.
    """
    step = math.gcd(src_rate, dst_rate)
    src_unit, dst_unit = src_rate // step, dst_rate // step
    multiple = next_smooth(-(-at_least // src_unit))
    return multiple * src_unit, multiple * dst_unit


def next_smooth(at_least: int) -> int:
    """The smallest number ``>= at_least`` whose prime factors are 2, 3 and 5 only."""
    best = 1 << max(0, at_least - 1).bit_length()
    power5 = 1
    while power5 < best:
        power35 = power5
        while power35 < best:
            candidate = power35
            while candidate < at_least:
                candidate *= 2
            best = min(best, candidate)
            power35 *= 3
        power5 *= 5
    return best


class ProgressiveWav:
    """A WAV file whose header is correct after every write.

    The ``wave`` module patches the RIFF and data sizes after each ``writeframes`` on a
    seekable file; flushing after it means a crash or power cut mid-broadcast leaves
    a file that plays up to the last block written.
    """

    def __init__(self, path: Path, rate: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.frames = 0
        self._file = open(path, "wb")
        try:
            self._wav = wave.open(self._file, "wb")
            self._wav.setnchannels(1)
            self._wav.setsampwidth(2)
            self._wav.setframerate(rate)
            self._wav.writeframes(b"")
            self._file.flush()
        except BaseException:
            self._file.close()
            raise

    def write(self, samples: np.ndarray) -> None:
        self._wav.writeframes(to_int16(samples).tobytes())
        self._file.flush()
        self.frames += len(samples)

    def close(self) -> None:
        try:
            self._wav.close()
        finally:
            self._file.close()
