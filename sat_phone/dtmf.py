"""DTMF digits heard in call audio (satellite terminals do not report them over AT).

A Goertzel bank over a sliding window, judged against the receiver limits of ITU-T
Q.24 (the values most administrations there share):

* frequency: a tone within ±1.5 % of its nominal frequency is taken, one off by ±3.5 %
  or more is not (the cut is set between, at :attr:`DtmfLimits.max_deviation`);
* duration: a tone of 40 ms is a digit, one of 23 ms or less is not;
* pause: 40 ms of silence separates two presses of the same key; an interruption of
  10 ms or less inside a tone does not;
* twist: the high-group tone may be up to 4 dB louder than the low-group tone, or up
  to 8 dB quieter;
* level: each tone at ``min_level_dbfs`` or above (0 dBFS: a full-scale sine).

Each window (25.6 ms, every 5 ms) measures the power at a grid of frequencies around
each of the eight nominal ones (±4 % in 0.5 % steps), so a tone a little off frequency
is measured at its own frequency, not at the nominal one's slope; its offset is then
judged against the limit. Both tones together must carry most of the window's power
(``min_purity``), which keeps speech and music from passing for digits (talk-off).

Pure and incremental: :meth:`DtmfDetector.feed` takes blocks of any length and
returns the digits they completed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


ROWS = (697.0, 770.0, 852.0, 941.0)
COLUMNS = (1209.0, 1336.0, 1477.0, 1633.0)
KEYS = ("123A", "456B", "789C", "*0#D")
STEP = 0.005
SPAN = 8  # grid points each side of nominal: ±4 %
WINDOW_S = 0.0256
HOP_S = 0.005


@dataclass(frozen=True, slots=True)
class DtmfLimits:
    rate: int = 8000
    max_deviation: float = 0.025  # Q.24: accept ≤ 1.5 %, reject ≥ 3.5 %
    min_windows: int = 5  # ≈ 33 ms of tone: accept 40 ms, reject 23 ms
    bridge_windows: int = 6  # invalid windows bridged: a 10 ms break is one press
    min_level_dbfs: float = -36.0
    max_high_over_low_db: float = 4.0
    max_low_over_high_db: float = 8.0
    min_purity: float = 0.75  # share of the window's power in the two tones


def tone_frequencies(key: str) -> tuple[float, float]:
    """The (low, high) pair of a key, as a caller's keypad sends it."""
    for row, keys in enumerate(KEYS):
        if key in keys:
            return ROWS[row], COLUMNS[keys.index(key)]
    raise ValueError(f"not a DTMF key: {key!r}")


class DtmfDetector:
    """Digits in mono float audio at ``limits.rate`` (samples in [-1, 1])."""

    def __init__(self, limits: DtmfLimits | None = None) -> None:
        import numpy as np
        self.limits = limits or DtmfLimits()
        rate = self.limits.rate
        self._window = max(64, round(WINDOW_S * rate))
        self._hop = max(1, round(HOP_S * rate))
        offsets = np.arange(-SPAN, SPAN + 1) * STEP
        freqs = (np.array(ROWS + COLUMNS)[:, None] * (1 + offsets)).reshape(-1)
        n = np.arange(self._window)[:, None]
        self._basis = np.exp(-2j * np.pi * freqs[None, :] * n / rate)
        self._offsets = offsets
        self._min_power = 0.5 * 10 ** (self.limits.min_level_dbfs / 10)
        self._buffer = np.zeros(0, dtype=np.float32)
        self._run: str | None = None
        self._valid = 0
        self._gap = 0
        self._emitted = False

    def feed(self, pcm: np.ndarray) -> list[str]:
        """Take the next samples; the digits whose tones became long enough in them."""
        import numpy as np
        self._buffer = np.concatenate([self._buffer, np.asarray(pcm, np.float32).reshape(-1)])
        count = (len(self._buffer) - self._window) // self._hop + 1
        if count <= 0:
            return []
        frames = np.lib.stride_tricks.sliding_window_view(self._buffer, self._window)
        frames = frames[: count * self._hop : self._hop]
        spectra = frames @ self._basis
        power = 2.0 * np.abs(spectra) ** 2 / self._window**2
        total = np.mean(frames.astype(np.float64) ** 2, axis=1)
        self._buffer = self._buffer[count * self._hop :]
        digits = []
        for window_power, window_total in zip(power, total, strict=True):
            digit = self._step(self._classify(window_power, window_total))
            if digit is not None:
                digits.append(digit)
        return digits

    def reset(self) -> None:
        import numpy as np
        self._buffer = np.zeros(0, dtype=np.float32)
        self._run, self._valid, self._gap, self._emitted = None, 0, 0, False

    def _classify(self, power: np.ndarray, total: float) -> str | None:
        """The key whose two tones this window holds within every limit, if any."""
        import numpy as np
        grid = power.reshape(8, 2 * SPAN + 1)
        low = self._strongest(grid[:4])
        high = self._strongest(grid[4:])
        if low is None or high is None:
            return None
        (row, p_low), (column, p_high) = low, high
        lim = self.limits
        if min(p_low, p_high) < self._min_power or total <= 0:
            return None
        twist_db = 10 * np.log10(p_high / p_low)
        if twist_db > lim.max_high_over_low_db or -twist_db > lim.max_low_over_high_db:
            return None
        if (p_low + p_high) / total < lim.min_purity:
            return None
        return KEYS[row][column]

    def _strongest(self, group: np.ndarray) -> tuple[int, float] | None:
        """(tone index, power) of the group's strongest tone, None if off frequency."""
        import numpy as np
        tone, point = np.unravel_index(int(np.argmax(group)), group.shape)
        values = group[tone]
        offset = float(self._offsets[point])
        if 0 < point < len(values) - 1:
            left, mid, right = values[point - 1], values[point], values[point + 1]
            curve = left - 2 * mid + right
            if curve < 0:
                offset += STEP * 0.5 * (left - right) / curve
        if abs(offset) > self.limits.max_deviation:
            return None
        return int(tone), float(values[point])

    def _step(self, key: str | None) -> str | None:
        """Follow presses across windows; a digit is announced once per press."""
        if key is not None and key == self._run:
            self._valid += 1
            self._gap = 0
        elif key is not None:
            self._run, self._valid, self._gap, self._emitted = key, 1, 0, False
        elif self._run is not None:
            self._gap += 1
            if self._gap > self.limits.bridge_windows:
                self._run, self._valid, self._gap, self._emitted = None, 0, 0, False
            return None
        if not self._emitted and self._valid >= self.limits.min_windows:
            self._emitted = True
            return self._run
        return None

