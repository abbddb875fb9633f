"""Siren signals and the pre-chime, generated in code.

A siren pattern is data: a sound (a steady tone, or a wail that rises and falls) and an
on/off cadence. The defaults are the three signals every Chinese villager is drilled on
(GB/T civil air-defence signals, also used for flood evacuation):

* 预先警报 ``advance_warning`` — sound 36 s, silence 24 s, three times;
* 紧急警报 ``urgent_warning`` — sound 6 s, silence 6 s, fifteen times;
* 解除警报 ``all_clear`` — one continuous sound of 3 minutes.

Audio is produced lazily, block by block (a 3-minute siren is never one array), with the
phase carried across blocks and short ramps at every on/off edge so no block boundary
or cadence edge clicks. The silence after the last "on" is not generated: nobody needs to
hear it, and it would keep the amplifier powered for nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import numpy as np


EDGE_S = 0.01  # ramp at each on/off edge


@dataclass(frozen=True)
class SirenPattern:
    id: str
    name: str  # what a duty officer reads, Chinese first
    sound: Literal["tone", "wail"] = "wail"
    freq_hz: float = 800.0  # tone: the frequency; wail: the lowest
    high_hz: float = 1200.0  # wail: the highest
    sweep_s: float = 4.0  # wail: one rise and fall
    on_s: float = 180.0
    off_s: float = 0.0
    cycles: int = 1
    level: float = 0.7  # peak amplitude, full scale = 1

    def __post_init__(self) -> None:
        if not 100.0 <= self.freq_hz <= 4000.0:
            raise ValueError(f"freq_hz must be 100..4000, got {self.freq_hz}")
        if self.sound == "wail" and not self.freq_hz < self.high_hz <= 4000.0:
            raise ValueError(f"high_hz must be > freq_hz and <= 4000, got {self.high_hz}")
        if self.sweep_s <= 0:
            raise ValueError(f"sweep_s must be > 0, got {self.sweep_s}")
        if not 0.1 <= self.on_s <= 1800.0:
            raise ValueError(f"on_s must be 0.1..1800, got {self.on_s}")
        if not 0.0 <= self.off_s <= 600.0:
            raise ValueError(f"off_s must be 0..600, got {self.off_s}")
        if not 1 <= self.cycles <= 100:
            raise ValueError(f"cycles must be 1..100, got {self.cycles}")
        if not 0.0 < self.level <= 1.0:
            raise ValueError(f"level must be > 0 and <= 1, got {self.level}")

    @property
    def duration_s(self) -> float:
        return self.cycles * self.on_s + (self.cycles - 1) * self.off_s


DEFAULT_PATTERNS: dict[str, SirenPattern] = {
    p.id: p
    for p in (
        SirenPattern("advance_warning", "预先警报", on_s=36.0, off_s=24.0, cycles=3),
        SirenPattern("urgent_warning", "紧急警报", on_s=6.0, off_s=6.0, cycles=15),
        SirenPattern("all_clear", "解除警报", on_s=180.0),
        SirenPattern("continuous", "长鸣", sound="tone", freq_hz=1000.0, on_s=60.0),
        # For a technician checking one loudspeaker zone (station-edge test audio --tone).
        SirenPattern("test_tone", "测试音", sound="tone", freq_hz=1000.0, on_s=3.0, level=0.5),
    )
}


def siren_blocks(pattern: SirenPattern, rate: int, block_frames: int) -> Iterator[np.ndarray]:
    """The pattern as mono float32 blocks of ``block_frames`` (the last may be shorter)."""
    import numpy as np
    on = round(pattern.on_s * rate)
    off = round(pattern.off_s * rate)
    edge = min(round(EDGE_S * rate), on // 2)
    sound = _Oscillator(pattern, rate)
    for cycle in range(pattern.cycles):
        for start in range(0, on, block_frames):
            n = min(block_frames, on - start)
            block = sound.next(n)
            index = np.arange(start, start + n)
            block *= np.clip(np.minimum(index + 1, on - index) / max(edge, 1), 0.0, 1.0)
            yield block
        if cycle < pattern.cycles - 1:
            yield from silence_blocks(off, block_frames)


def silence_blocks(frames: int, block_frames: int) -> Iterator[np.ndarray]:
    import numpy as np
    for start in range(0, frames, block_frames):
        yield np.zeros(min(block_frames, frames - start), dtype=np.float32)


class _Oscillator:
    """A sine whose phase runs on across blocks, so block edges are seamless."""

    def __init__(self, pattern: SirenPattern, rate: int) -> None:
        self._p = pattern
        self._rate = rate
        self._phase = 0.0
        self._t = 0  # samples generated

    def next(self, n: int) -> np.ndarray:
        import numpy as np
        p = self._p
        t = (self._t + np.arange(n)) / self._rate
        if p.sound == "tone":
            freq = np.full(n, p.freq_hz)
        else:
            rise = 0.5 - 0.5 * np.cos(2.0 * np.pi * t / p.sweep_s)
            freq = p.freq_hz + (p.high_hz - p.freq_hz) * rise
        phase = self._phase + 2.0 * np.pi * np.cumsum(freq) / self._rate
        self._phase = float(phase[-1] % (2.0 * np.pi))
        self._t += n
        return (p.level * np.sin(phase - 2.0 * np.pi * freq / self._rate)).astype(np.float32)


CHIME_NOTES_HZ = (784.0, 659.3, 523.3)  # G5 E5 C5, the falling three-tone of public address


def chime(rate: int, level: float = 0.5, note_s: float = 0.45) -> np.ndarray:
    """The attention chime played before an announcement (about 1.6 s)."""
    import numpy as np
    parts = []
    n = round(note_s * rate)
    t = np.arange(round(note_s * 1.6 * rate)) / rate
    for i, f in enumerate(CHIME_NOTES_HZ):
        tail = np.exp(-t * 4.0) * np.sin(2.0 * np.pi * f * t) + 0.3 * np.exp(-t * 6.0) * np.sin(
            4.0 * np.pi * f * t
        )
        attack = np.clip(t / 0.005, 0.0, 1.0)
        note = np.zeros(n * len(CHIME_NOTES_HZ) + len(t))
        note[i * n : i * n + len(t)] = tail * attack
        parts.append(note)
    out: np.ndarray = np.sum(parts, axis=0)  # numpy types a sum over a list as Any
    out *= level / np.max(np.abs(out))
    fade = min(len(out), round(0.02 * rate))
    out[-fade:] *= np.linspace(1.0, 0.0, fade)
    return out.astype(np.float32)
