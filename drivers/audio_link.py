"""Both directions of a telephone's audio: what it hears (input) and what it says (output).

A satellite terminal's voice path is a sound card: its output is the call's far end
(read as an :mod:`drivers.audio_input`), its input is what the far end hears. Bridging
that call to a SIP phone needs both, so an :class:`AudioLink` is an input that can also
:meth:`~AudioLink.write`. Two backends, as for the input alone:

* :class:`SoundDeviceLink` — a PortAudio input stream plus an output stream on the same
  card, fed from a :class:`~drivers.audio_feed.Feed`;
* :class:`SocketLink` — the same unix socket both ways (s16le mono), the way the
  simulated terminal carries call audio.

Audio written faster than the device takes it is queued (the output is paced by the
device); audio the socket cannot take at once is dropped and counted, never blocking
the event loop.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Protocol

from drivers.audio_feed import Feed
from drivers.audio_input import (
    AudioInput,
    AudioInputError,
    AudioInputSettings,
    SocketInput,
    SoundDeviceInput,
)
from drivers.audio_wav import to_int16

if TYPE_CHECKING:
    import numpy as np


class AudioLink(AudioInput, Protocol):
    dropped_frames: int

    def write(self, pcm: np.ndarray) -> None:
        """Queue mono float32 audio at ``rate`` for the device's input."""


def make_link(settings: AudioInputSettings) -> AudioLink:
    if settings.backend == "socket":
        return SocketLink(settings)
    if settings.backend == "sounddevice":
        return SoundDeviceLink(settings)
    raise ValueError(f"unknown audio backend {settings.backend!r}")


class SocketLink(SocketInput):
    def __init__(self, settings: AudioInputSettings) -> None:
        super().__init__(settings)
        self.dropped_frames = 0

    def write(self, pcm: np.ndarray) -> None:
        import numpy as np
        sock = self._sock
        if sock is None:
            return
        data = to_int16(np.asarray(pcm, dtype=np.float32)).astype("<i2").tobytes()
        try:
            sent = sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            return  # the peer went away: read() will say so
        if sent < len(data):
            self.dropped_frames += (len(data) - sent) // 2


class SoundDeviceLink(SoundDeviceInput):
    def __init__(self, settings: AudioInputSettings) -> None:
        super().__init__(settings)
        self.dropped_frames = 0
        self._feed = Feed(time.monotonic)
        self._output: Any = None

    async def open(self) -> None:
        await super().open()
        try:
            self._output = await asyncio.to_thread(self._start_output)
        except AudioInputError:
            await super().close()
            raise

    def _start_output(self) -> Any:
        import sounddevice as sd

        s = self.settings
        try:
            stream = sd.OutputStream(samplerate=s.rate, blocksize=max(1, round(s.rate * s.block_s)),
                                     device=s.device, channels=1, dtype="float32",
                                     callback=self._play)
            stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            raise AudioInputError(f"cannot open audio output {s.device!r}: {exc}") from exc
        return stream

    def _play(self, outdata: np.ndarray, frames: int, _time: Any, _status: Any) -> None:
        # PortAudio's thread: take the next block, nothing else.
        outdata[:, 0] = self._feed.take(frames)

    def write(self, pcm: np.ndarray) -> None:
        import numpy as np
        self._feed.push(np.asarray(pcm, dtype=np.float32).reshape(-1))

    async def close(self) -> None:
        output, self._output = self._output, None
        if output is not None:
            await asyncio.to_thread(_stop, output)
        await super().close()


def _stop(stream: Any) -> None:
    try:
        stream.stop()
    finally:
        stream.close()
