"""Audio output: what reaches the amplifier's input.

One interface, :class:`AudioOutput`, two backends chosen once from settings by
:func:`make_output`:

* :class:`SoundDeviceOutput` — a PortAudio callback stream (USB sound card through ALSA).
  The callback pulls fixed blocks from a :class:`~drivers.audio_feed.Feed`; the event loop
  pushes audio into it, so a request reaches the device within one callback period.
* :class:`FileOutput` — every session written as a timestamped WAV file, paced by the
  station clock so a simulated broadcast lasts as long as a real one (scaled).

A *session* runs from :meth:`AudioOutput.open` to :meth:`AudioOutput.close` (one
broadcast); its start and end are reported to ``on_session`` so the daemon can journal them.
Audio is mono float32 in ``[-1, 1]`` at ``settings.rate`` (see :mod:`drivers.audio_wav`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from drivers.audio_feed import Feed
from drivers.audio_wav import ProgressiveWav, to_int16
from drivers.clock import Clock

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)


class AudioDeviceError(OSError):
    """The sound device cannot be opened, or stopped taking audio."""


@dataclass(frozen=True)
class AudioSettings:
    backend: Literal["sounddevice", "file"] = "sounddevice"
    rate: int = 16000
    device: str | int | None = "default"  # PortAudio device name (substring) or index
    dtype: Literal["int16", "float32"] = "int16"
    block_s: float = 0.02  # one PortAudio callback / one file write
    latency_s: float = 0.1  # PortAudio suggested output latency
    queue_s: float = 0.25  # how far play() may run ahead of the device
    #: The same for live audio (``play(live=True)``): a speaker is heard this much later.
    #: Live audio arrives paced in real time, so a short queue starves only when a block
    #: comes late — an underrun, counted like any other.
    live_queue_s: float = 0.06
    fade_s: float = 0.03  # fade-out of a stop
    stall_s: float = 2.0  # clock seconds without the device taking audio: it is dead
    out_dir: Path | None = None  # file backend: where session WAVs go

    def __post_init__(self) -> None:
        if not 4000 <= self.rate <= 192000:
            raise ValueError(f"rate must be 4000..192000, got {self.rate}")
        if not 0.001 <= self.block_s <= 0.2:
            raise ValueError(f"block_s must be 0.001..0.2, got {self.block_s}")
        if not 0.0 < self.fade_s <= 0.15:
            raise ValueError(f"fade_s must be > 0 and <= 0.15, got {self.fade_s}")
        if self.queue_s < self.block_s:
            raise ValueError(f"queue_s must be >= block_s, got {self.queue_s}")
        if not self.block_s <= self.live_queue_s <= self.queue_s:
            raise ValueError(f"live_queue_s must be block_s..queue_s, got {self.live_queue_s}")
        if self.backend == "file" and self.out_dir is None:
            raise ValueError("the file backend needs out_dir")

    @property
    def block_frames(self) -> int:
        return max(1, round(self.rate * self.block_s))


@dataclass(frozen=True)
class AudioSession:
    """One broadcast's stretch of audio output, as reported to ``on_session``."""

    label: str
    started: datetime
    ended: datetime | None = None
    path: Path | None = None  # the WAV file (file backend)
    frames: int = 0  # frames handed to the device
    underruns: int = 0  # during this session


SessionCallback = Callable[[Literal["start", "stop"], AudioSession], None]


class AudioOutput(Protocol):
    rate: int

    @property
    def underruns(self) -> int:
        """Underruns since construction (device flags + queue running dry mid-play)."""

    @property
    def sound_started_at(self) -> float | None:
        """Clock monotonic time when audio queued into an empty queue was last first
        handed to the device: with the request time, the output's latency."""

    @property
    def is_open(self) -> bool: ...

    async def open(self, label: str) -> None:
        """Start a session: the device is running and plays silence until fed."""

    async def play(self, frames: np.ndarray, *, cancel: asyncio.Event | None = None,
                   live: bool = False) -> bool:
        """Queue ``frames``; return when the queue is short again (True), or on cancel
        after fading out (False). ``live``: audio as it is spoken (a call-in), kept
        within ``live_queue_s`` of the device instead of ``queue_s``."""

    async def drain(self, *, cancel: asyncio.Event | None = None) -> bool:
        """Wait until every queued frame is handed to the device (False: cancelled)."""

    async def stop(self) -> None:
        """Fade out what is playing and drop the rest of the queue; return when faded."""

    async def close(self) -> None:
        """End the session (fading out anything still queued)."""


def make_output(
    settings: AudioSettings, clock: Clock, on_session: SessionCallback | None = None
) -> AudioOutput:
    """The backend ``settings.backend`` names; nothing else in the station chooses."""
    if settings.backend == "file":
        return FileOutput(settings, clock, on_session)
    if settings.backend == "sounddevice":
        return SoundDeviceOutput(settings, clock, on_session)
    raise ValueError(f"unknown audio backend {settings.backend!r}")


@dataclass
class _Session:
    label: str
    started: datetime
    path: Path | None = None
    frames_at_start: int = 0
    underruns_at_start: int = 0


class _FeedOutput:
    """What both backends share: the feed, back-pressure, cancel, stop-and-fade, sessions."""

    def __init__(
        self, settings: AudioSettings, clock: Clock, on_session: SessionCallback | None
    ) -> None:
        self.settings = settings
        self.rate = settings.rate
        self._clock = clock
        self._on_session = on_session
        self._feed = Feed(clock.monotonic)
        self._session: _Session | None = None
        self._device_underruns = 0

    @property
    def underruns(self) -> int:
        return self._feed.starvations + self._device_underruns

    @property
    def sound_started_at(self) -> float | None:
        return self._feed.sound_started_at

    @property
    def is_open(self) -> bool:
        return self._session is not None

    async def play(self, frames: np.ndarray, *, cancel: asyncio.Event | None = None,
                   live: bool = False) -> bool:
        import numpy as np
        self._require_open()
        self._before_push()
        self._feed.push(np.asarray(frames, dtype=np.float32).reshape(-1))
        ahead = self.settings.live_queue_s if live else self.settings.queue_s
        high_water = round(ahead * self.rate)
        return await self._until(lambda: self._feed.pending <= high_water, cancel)

    def _before_push(self) -> None:
        """Audio is about to be queued (a device that pulls by itself needs nothing)."""

    async def drain(self, *, cancel: asyncio.Event | None = None) -> bool:
        self._require_open()
        self._feed.finish()
        return await self._until(lambda: self._feed.pending == 0, cancel)

    async def stop(self) -> None:
        if self._session is None:
            return
        self._feed.stop(round(self.settings.fade_s * self.rate))
        await self._until(lambda: not self._feed.stopping, None)

    async def _until(self, done: Callable[[], bool], cancel: asyncio.Event | None) -> bool:
        while not done():
            if cancel is not None and cancel.is_set():
                await self.stop()
                return False
            await self._progress(cancel)
        return True

    async def _progress(self, cancel: asyncio.Event | None) -> None:
        """Wait until the device took audio (or ``cancel`` is set)."""
        raise NotImplementedError

    def _require_open(self) -> None:
        if self._session is None:
            raise RuntimeError("audio output is not open: call open(label) first")

    def _begin(self, label: str, path: Path | None = None) -> _Session:
        session = _Session(
            label=label,
            started=self._clock.now(),
            path=path,
            frames_at_start=self._feed.taken_frames,
            underruns_at_start=self.underruns,
        )
        self._session = session
        self._report("start", session, ended=None)
        return session

    def _end(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            self._report("stop", session, ended=self._clock.now())

    def _report(self, kind: Literal["start", "stop"], s: _Session, ended: datetime | None) -> None:
        if self._on_session is None:
            return
        self._on_session(
            kind,
            AudioSession(
                label=s.label,
                started=s.started,
                ended=ended,
                path=s.path,
                frames=self._feed.taken_frames - s.frames_at_start,
                underruns=self.underruns - s.underruns_at_start,
            ),
        )


class FileOutput(_FeedOutput):
    """Writes each session to ``out_dir/<UTC time>-<label>.wav``, in clock time.

    The "device" consumes the feed at ``rate`` frames per second of the station clock,
    running at most one block ahead, so a stop fades what would be playing now and a
    three-minute siren takes three (clock) minutes. Silence between plays is not
    written: the file holds exactly the audio that went out.
    """

    def __init__(
        self, settings: AudioSettings, clock: Clock, on_session: SessionCallback | None = None
    ) -> None:
        super().__init__(settings, clock, on_session)
        assert settings.out_dir is not None
        self.out_dir = settings.out_dir
        self._wav: ProgressiveWav | None = None
        self._written_until = 0.0  # clock time when the last written frame has played

    async def open(self, label: str) -> None:
        if self._session is not None:
            raise RuntimeError("audio output is already open")
        now = self._clock.now()
        stamp = now.strftime("%Y%m%dT%H%M%S.") + f"{now.microsecond // 1000:03d}Z"
        path = self.out_dir / f"{stamp}-{_safe_label(label)}.wav"
        try:
            self._wav = ProgressiveWav(path, self.rate)
        except OSError as exc:  # a full disk: the "loudspeaker" still plays, unrecorded
            log.error("audio of %r not recorded: %s", label, exc)
        self._written_until = self._clock.monotonic()
        self._begin(label, path)

    async def close(self) -> None:
        if self._session is None:
            return
        try:
            await self.stop()
        finally:
            self._drop_wav()
            self._end()

    async def stop(self) -> None:
        if self._session is None:
            return
        self._feed.stop(round(self.settings.fade_s * self.rate))
        while self._feed.stopping:
            self._write(self._feed.take(min(self.settings.block_frames, self._feed.pending)))

    def _before_push(self) -> None:
        self._catch_up()  # what was queued before has played up to now: new audio goes after

    def _catch_up(self) -> bool:
        """Write what the device has played by now (running one block ahead); True if it
        wrote anything. Where the queue ran dry before now, the device idled: nothing is
        written for that stretch, and it is an underrun if audio was promised (live
        audio arriving late)."""
        now = self._clock.monotonic()
        lead = self.settings.block_s
        block = self.settings.block_frames
        wrote = False
        while self._feed.pending and self._written_until <= now + lead:
            self._write(self._feed.take(min(block, self._feed.pending)))
            wrote = True
        if self._written_until < now:
            self._feed.ran_dry()
            self._written_until = now
        return wrote

    async def _progress(self, cancel: asyncio.Event | None) -> None:
        if not self._catch_up():
            now = self._clock.monotonic()
            await _sleep_or_cancel(
                self._clock, max(self._written_until - self.settings.block_s - now,
                                 1.0 / self.rate), cancel
            )

    def _write(self, frames: np.ndarray) -> None:
        if not len(frames):
            return
        if self._wav is not None:
            try:
                self._wav.write(frames)
            except OSError as exc:
                log.error("audio recording %s stopped: %s", self._wav.path, exc)
                self._drop_wav()
        self._written_until += len(frames) / self.rate

    def _drop_wav(self) -> None:
        wav, self._wav = self._wav, None
        if wav is not None:
            try:
                wav.close()
            except OSError as exc:
                log.error("audio recording %s not finished: %s", wav.path, exc)


class SoundDeviceOutput(_FeedOutput):
    """A PortAudio output stream fed from the event loop.

    The stream runs for the whole session and plays silence when nothing is queued,
    so starting a sound costs no device start-up: the next callback (one block later)
    takes it. PortAudio's own underflow flags and the queue running dry mid-play are
    both counted in :attr:`underruns`.

    ``sounddevice`` is imported on :meth:`open`, because it initialises PortAudio (and
    ALSA reads its configuration) at import; a station on the file backend never needs it.
    """

    def __init__(
        self, settings: AudioSettings, clock: Clock, on_session: SessionCallback | None = None
    ) -> None:
        super().__init__(settings, clock, on_session)
        self._stream: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._taken = asyncio.Event()
        self._wake_wanted = False
        self._feed.on_taken = self._on_taken

    async def open(self, label: str) -> None:
        if self._session is not None:
            raise RuntimeError("audio output is already open")
        self._loop = asyncio.get_running_loop()
        self._stream = await asyncio.to_thread(self._start_stream)
        self._begin(label)

    def _start_stream(self) -> Any:
        import sounddevice as sd

        s = self.settings
        try:
            stream = sd.OutputStream(
                samplerate=s.rate,
                blocksize=s.block_frames,
                device=s.device,
                channels=1,
                dtype=s.dtype,
                latency=s.latency_s,
                callback=self._callback,
            )
        except (sd.PortAudioError, ValueError) as e:
            raise AudioDeviceError(f"cannot open audio device {s.device!r}: {e}") from e
        try:
            stream.start()
        except sd.PortAudioError as e:
            stream.close()
            raise AudioDeviceError(f"cannot start audio device {s.device!r}: {e}") from e
        return stream

    async def close(self) -> None:
        if self._session is None:
            return
        try:
            await self.stop()
        finally:
            stream, self._stream = self._stream, None
            try:
                if stream is not None:
                    await asyncio.to_thread(_stop_stream, stream)
            finally:
                self._end()

    def _callback(self, outdata: np.ndarray, frames: int, _time: Any, status: Any) -> None:
        # PortAudio's thread: no allocation beyond the block, no logging, no raising.
        import numpy as np
        if status.output_underflow:
            self._device_underruns += 1
        block = self._feed.take(frames)
        if outdata.dtype == np.int16:
            outdata[:, 0] = to_int16(block)
        else:
            outdata[:, 0] = block

    def _on_taken(self) -> None:
        if self._wake_wanted and self._loop is not None:
            self._wake_wanted = False
            self._loop.call_soon_threadsafe(self._taken.set)

    async def _progress(self, cancel: asyncio.Event | None) -> None:
        self._taken.clear()
        self._wake_wanted = True
        waits = [asyncio.ensure_future(self._taken.wait())]
        if cancel is not None:
            waits.append(asyncio.ensure_future(cancel.wait()))
        stall = asyncio.ensure_future(self._clock.sleep(self.settings.stall_s))
        try:
            done, _ = await asyncio.wait([*waits, stall], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (*waits, stall):
                task.cancel()
            await asyncio.gather(*waits, stall, return_exceptions=True)
        if done == {stall}:
            raise AudioDeviceError(
                f"audio device {self.settings.device!r} took no audio for {self.settings.stall_s} s"
            )


async def _sleep_or_cancel(clock: Clock, seconds: float, cancel: asyncio.Event | None) -> None:
    """Sleep on the clock, but wake at once when ``cancel`` is set (a stop is immediate)."""
    if cancel is None:
        await clock.sleep(seconds)
        return
    if cancel.is_set():
        return
    waits = [asyncio.ensure_future(clock.sleep(seconds)), asyncio.ensure_future(cancel.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
        await asyncio.gather(*waits, return_exceptions=True)


def _stop_stream(stream: Any) -> None:
    try:
        stream.stop()
    finally:
        stream.close()


def _safe_label(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("._")[:64] or "session"
