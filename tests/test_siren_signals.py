"""Siren signals measured from their samples: frequencies, sweep, cadence, smoothness."""

from __future__ import annotations

import numpy as np
import pytest

from broadcast.siren_signals import (
    CHIME_NOTES_HZ,
    DEFAULT_PATTERNS,
    SirenPattern,
    chime,
    siren_blocks,
)

RATE = 8000
BLOCK = 800


def render(pattern: SirenPattern) -> np.ndarray:
    blocks = list(siren_blocks(pattern, RATE, BLOCK))
    assert max(len(b) for b in blocks) == BLOCK  # produced lazily, block by block
    return np.concatenate(blocks)


def runs(samples: np.ndarray, window_s: float = 0.01) -> list[tuple[bool, float]]:
    """(sounding, seconds) runs of an on/off signal, from 10 ms RMS windows."""
    w = round(window_s * RATE)
    n = len(samples) // w
    on = np.sqrt(np.mean(samples[: n * w].reshape(n, w) ** 2, axis=1)) > 0.05
    out: list[tuple[bool, float]] = []
    for state in on:
        if out and out[-1][0] == state:
            out[-1] = (bool(state), out[-1][1] + window_s)
        else:
            out.append((bool(state), window_s))
    return out


def crossing_hz(samples: np.ndarray) -> float:
    crossings = np.count_nonzero(np.diff(np.signbit(samples)))
    return crossings / 2 / (len(samples) / RATE)


def test_steady_tone_is_at_its_frequency() -> None:
    x = render(SirenPattern("t", "长鸣", sound="tone", freq_hz=1000.0, on_s=2.0))
    spectrum = np.abs(np.fft.rfft(x))
    assert np.argmax(spectrum) * RATE / len(x) == pytest.approx(1000.0, abs=1.0)
    assert np.max(np.abs(x)) == pytest.approx(0.7, abs=0.01)


def test_wail_rises_and_falls_between_its_limits() -> None:
    x = render(SirenPattern("w", "警报", freq_hz=600.0, high_hz=1400.0, sweep_s=4.0, on_s=8.0))
    per_window = [crossing_hz(x[i : i + RATE // 10]) for i in range(0, len(x), RATE // 10)]
    assert min(per_window) == pytest.approx(600, abs=40)
    assert max(per_window) == pytest.approx(1400, abs=40)
    peaks = [i / 10 + 0.05 for i, f in enumerate(per_window) if f > 1360]  # window centres
    assert peaks and all(abs((p % 4.0) - 2.0) < 0.5 for p in peaks)  # top at mid-sweep


@pytest.mark.parametrize(
    ("pattern_id", "on_s", "off_s", "cycles"),
    [
        ("advance_warning", 36.0, 24.0, 3),
        ("urgent_warning", 6.0, 6.0, 15),
        ("all_clear", 180.0, 0, 1),
    ],
)
def test_default_cadences_follow_the_civil_defence_signals(
    pattern_id: str, on_s: float, off_s: float, cycles: int
) -> None:
    x = render(DEFAULT_PATTERNS[pattern_id])
    found = runs(x)
    assert [state for state, _ in found] == [True, False] * (cycles - 1) + [True]
    for state, seconds in found:
        assert seconds == pytest.approx(on_s if state else off_s, abs=0.03)
    assert len(x) / RATE == pytest.approx(cycles * on_s + (cycles - 1) * off_s)


def test_no_click_at_block_edges_or_cadence_edges() -> None:
    pattern = SirenPattern("c", "测试", high_hz=1200.0, on_s=1.0, off_s=0.5, cycles=3)
    x = render(pattern)
    max_slope = 2 * np.pi * 1200 / RATE * pattern.level
    assert np.max(np.abs(np.diff(x))) <= max_slope * 1.01
    assert x[0] == 0.0 and abs(x[-1]) < 0.01


def test_patterns_refuse_values_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"cycles must be 1\.\.100"):
        SirenPattern("bad", "坏", cycles=0)
    with pytest.raises(ValueError, match="high_hz"):
        SirenPattern("bad", "坏", freq_hz=1000.0, high_hz=900.0)


def test_chime_is_three_falling_notes() -> None:
    x = chime(RATE)
    assert 1.0 < len(x) / RATE < 2.5
    third = len(x) // 4
    heard = []
    for k in range(3):
        part = x[k * third : (k + 1) * third]
        heard.append(np.argmax(np.abs(np.fft.rfft(part))) * RATE / len(part))
    assert heard == pytest.approx(list(CHIME_NOTES_HZ), abs=10)
