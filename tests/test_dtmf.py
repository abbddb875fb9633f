"""DTMF detection against the receiver limits of ITU-T Q.24 (pure, no event loop)."""

from __future__ import annotations

import numpy as np
import pytest

from sat_phone.calls import PinEntry
from sat_phone.dtmf import DtmfDetector, tone_frequencies

RATE = 8000


def tone(key: str, seconds: float, *, level_db: float = -10.0, twist_db: float = 0.0,
         deviation: float = 0.0) -> np.ndarray:
    low, high = tone_frequencies(key)
    t = np.arange(round(seconds * RATE)) / RATE
    amp = 10 ** (level_db / 20)
    out = amp * np.sin(2 * np.pi * low * (1 + deviation) * t)
    out += amp * 10 ** (twist_db / 20) * np.sin(2 * np.pi * high * (1 + deviation) * t)
    return out.astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * RATE), dtype=np.float32)


def heard(*pieces: np.ndarray, block: int = 160) -> str:
    audio = np.concatenate([silence(0.02), *pieces, silence(0.1)])
    detector = DtmfDetector()
    return "".join(d for i in range(0, len(audio), block)
                   for d in detector.feed(audio[i:i + block]))


def test_every_key_at_the_shortest_q24_timing() -> None:
    keys = "1234567890*#ABCD"
    assert heard(*[np.concatenate([tone(k, 0.040), silence(0.040)]) for k in keys]) == keys


@pytest.mark.parametrize("block", [1, 7, 80, 205, 4000])
def test_any_block_size_gives_the_same_digits(block: int) -> None:
    pieces = [np.concatenate([tone(k, 0.06), silence(0.06)]) for k in "2468#"]
    assert heard(*pieces, block=block) == "2468#"


@pytest.mark.parametrize("offset_s", [0.0, 0.001, 0.0025, 0.004])
def test_40_ms_is_a_digit_and_23_ms_is_not(offset_s: float) -> None:
    assert heard(silence(offset_s), tone("5", 0.040)) == "5"
    assert heard(silence(offset_s), tone("5", 0.023)) == ""


@pytest.mark.parametrize("deviation", [-0.015, 0.015])
def test_1_5_percent_off_frequency_is_taken(deviation: float) -> None:
    assert heard(tone("1", 0.05, deviation=deviation), silence(0.05),
                 tone("D", 0.05, deviation=deviation)) == "1D"


@pytest.mark.parametrize("deviation", [-0.035, 0.035, 0.05])
def test_3_5_percent_off_frequency_is_not(deviation: float) -> None:
    assert heard(tone("1", 0.05, deviation=deviation), silence(0.05),
                 tone("D", 0.05, deviation=deviation)) == ""


def test_twist_limits() -> None:
    assert heard(tone("8", 0.05, twist_db=3.5)) == "8"
    assert heard(tone("8", 0.05, twist_db=-7.5)) == "8"
    assert heard(tone("8", 0.05, twist_db=4.5)) == ""
    assert heard(tone("8", 0.05, twist_db=-8.5)) == ""


def test_level_range() -> None:
    assert heard(tone("0", 0.05, level_db=-6.5)) == "0"
    assert heard(tone("0", 0.05, level_db=-33)) == "0"
    assert heard(tone("0", 0.05, level_db=-40)) == ""


def test_a_10_ms_break_is_one_press_and_a_40_ms_pause_two() -> None:
    assert heard(tone("3", 0.05), silence(0.010), tone("3", 0.05)) == "3"
    assert heard(tone("3", 0.05), silence(0.040), tone("3", 0.05)) == "33"


def test_digits_through_line_noise() -> None:
    rng = np.random.default_rng(7)
    audio = np.concatenate([tone("9", 0.06, level_db=-20), silence(0.06),
                            tone("6", 0.06, level_db=-20)])
    noisy = audio + rng.normal(0, 10 ** (-38 / 20), len(audio)).astype(np.float32)
    assert heard(noisy) == "96"


def test_speech_like_sound_is_no_digit() -> None:
    t = np.arange(RATE * 10) / RATE
    pitch = 120 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / RATE
    voice = sum(np.sin(k * phase) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t + k)) / k
                for k in range(1, 30))
    voice = (0.3 * voice / np.max(np.abs(voice))).astype(np.float32)
    single = np.sin(2 * np.pi * 770 * t[:RATE]).astype(np.float32) * 0.3  # one group only
    assert heard(voice, single) == ""


def test_pin_entry() -> None:
    entry = PinEntry("2468")
    assert [entry.press(k) for k in "246"] == [None, None, None]
    assert entry.press("8") is True
    wrong = PinEntry("2468")
    assert [wrong.press(k) for k in "13*"] == [None, None, None], "* starts again"
    assert [wrong.press(k) for k in "246"] == [None, None, None]
    assert wrong.press("9") is False
    short = PinEntry("2468")
    assert short.press("2") is None and short.press("#") is False
