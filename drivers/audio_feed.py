"""The queue between the event loop, which produces audio, and the sound device, which eats it.

An output device pulls fixed-size blocks on its own schedule (PortAudio calls back from
its own thread; the file backend pulls on the station clock). :class:`Feed` holds what
was handed over but not yet pulled, hands out exactly the block asked for, pads with
silence when it runs dry, and performs the fade-out of a stop: the next few
milliseconds of what was queued are ramped to zero and the rest is dropped, so a
preempted broadcast ends quickly and without a click.

It is thread-safe and does no I/O, so it is tested without a device or an event loop.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np



class Feed:
    """A FIFO of mono float32 frames with stop-and-fade."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._chunks: deque[np.ndarray] = deque()
        self._head = 0  # frames of _chunks[0] already taken
        self._pending = 0
        self._fade_total = 0  # > 0: a stop is under way, fading over this many frames
        self._fade_done = 0
        self._expecting = False  # more audio is promised: running dry now is an underrun
        self._starved = False
        self.starvations = 0
        self.taken_frames = 0
        self.sound_started_at: float | None = None
        self._sound_pushed = False  # audio was pushed into an empty feed, not yet taken
        self.on_taken: Callable[[], None] | None = None

    @property
    def pending(self) -> int:
        return self._pending

    @property
    def stopping(self) -> bool:
        """A stop's fade has not been handed to the device yet."""
        return self._fade_total > 0

    def push(self, frames: np.ndarray) -> None:
        """Queue audio; from now on, running dry counts as an underrun until :meth:`finish`."""
        import numpy as np
        if frames.ndim != 1:
            raise ValueError(f"mono frames expected, got shape {frames.shape}")
        if len(frames) == 0:
            return
        with self._lock:
            if self._pending == 0:
                self._sound_pushed = True
            self._chunks.append(frames.astype(np.float32, copy=False))
            self._pending += len(frames)
            self._expecting = True

    def finish(self) -> None:
        """No more audio is coming for now: the end of the queue is not an underrun."""
        with self._lock:
            self._expecting = False

    def ran_dry(self) -> None:
        """The device played on without audio (a device paced by the clock that does not
        pull silence through :meth:`take`): an underrun if more audio was promised."""
        with self._lock:
            if self._expecting and not self._starved:
                self.starvations += 1
            self._starved = self._expecting

    def stop(self, fade_frames: int) -> None:
        """Fade the next ``fade_frames`` of queued audio to silence and drop the rest."""
        with self._lock:
            self._expecting = False
            if self._pending and not self._fade_total:
                self._fade_total = max(1, fade_frames)
                self._fade_done = 0

    def take(self, n: int) -> np.ndarray:
        """Exactly ``n`` frames for the device: queued audio, then silence."""
        import numpy as np
        out = np.zeros(n, dtype=np.float32)
        with self._lock:
            if self._fade_total:
                got = self._take_fading(out)
            else:
                got = self._copy_out(out, n)
            self._account(got, n)
        callback = self.on_taken
        if callback is not None:
            callback()
        return out

    def _copy_out(self, out: np.ndarray, limit: int) -> int:
        got = 0
        while got < limit and self._chunks:
            chunk = self._chunks[0]
            k = min(limit - got, len(chunk) - self._head)
            out[got : got + k] = chunk[self._head : self._head + k]
            got += k
            self._head += k
            if self._head == len(chunk):
                self._chunks.popleft()
                self._head = 0
        self._pending -= got
        return got

    def _take_fading(self, out: np.ndarray) -> int:
        import numpy as np
        left = self._fade_total - self._fade_done
        got = self._copy_out(out, min(len(out), left))
        position = np.arange(self._fade_done, self._fade_done + got, dtype=np.float32)
        out[:got] *= 1.0 - position / self._fade_total
        self._fade_done += got
        if self._fade_done >= self._fade_total or self._pending == 0:
            self._fade_total = self._fade_done = 0
            self._drop_all()
        return got

    def _drop_all(self) -> None:
        self._sound_pushed = False
        self._chunks.clear()
        self._head = 0
        self._pending = 0

    def _account(self, got: int, n: int) -> None:
        if got and self._sound_pushed:
            self.sound_started_at = self._now()
            self._sound_pushed = False
        self.taken_frames += got
        starved = got < n and self._expecting
        if starved and not self._starved:
            self.starvations += 1
        self._starved = starved
