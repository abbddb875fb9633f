"""Mandarin text to speech through espeak-ng, cached on disk.

espeak-ng's ``cmn`` voice is robotic but intelligible, needs no network and no model
files, and is a Debian package on Raspberry Pi OS. It runs as a subprocess (asyncio, so
the event loop keeps serving the panel) with a timeout. Each rendering is kept in
``cache_dir`` under a hash of everything that shapes it, so a text composed at run time
("后山雨量站一小时雨量52毫米，请立即转移") costs espeak-ng once, and the default messages
are made at first start and then just read.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from drivers.audio_wav import (
    WavRejected,
    check_wav,
    decode_wav,
    read_wav_file,
    resample,
    write_wav_atomically,
)

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 500


class SpeechFailed(RuntimeError):
    """espeak-ng could not turn the text into audio; ``str()`` says why."""


@dataclass(frozen=True)
class Voice:
    name: str = "cmn"  # espeak-ng voice
    words_per_minute: int = 140  # slower than espeak's 175: loudspeakers echo across a valley
    pitch: int = 50  # 0..99
    amplitude: int = 100  # 0..200; above 100 espeak-ng clips

    def __post_init__(self) -> None:
        if not 80 <= self.words_per_minute <= 450:
            raise ValueError(f"words_per_minute must be 80..450, got {self.words_per_minute}")
        if not 0 <= self.pitch <= 99:
            raise ValueError(f"pitch must be 0..99, got {self.pitch}")
        if not 0 <= self.amplitude <= 200:
            raise ValueError(f"amplitude must be 0..200, got {self.amplitude}")


class Speech:
    """Speaks texts at the output rate, through a cache."""

    def __init__(
        self,
        cache_dir: Path,
        rate: int,
        voice: Voice | None = None,
        *,
        timeout_s: float = 30.0,
        program: str = "espeak-ng",
    ) -> None:
        self.cache_dir = cache_dir
        self.rate = rate
        self.voice = voice or Voice()
        self.timeout_s = timeout_s
        self.program = program

    def cache_path(self, text: str) -> Path:
        v = self.voice
        key = f"{v.name}|{v.words_per_minute}|{v.pitch}|{v.amplitude}|{self.rate}|{text}"
        digest = hashlib.sha256(key.encode()).hexdigest()[:24]
        return self.cache_dir / f"tts-{digest}.wav"

    def cached(self, text: str) -> np.ndarray | None:
        path = self.cache_path(text)
        try:
            return read_wav_file(path).samples
        except OSError:  # not made yet, or a cache that cannot be read: make it (again)
            return None
        except WavRejected:
            path.unlink(missing_ok=True)  # a torn cache file: make it again
            return None

    async def prepare(self, text: str) -> None:
        """Make sure the speech of ``text`` is in the cache (made now if not, raises
        :class:`SpeechFailed`). A cached file is vouched for by its header, not decoded:
        a station that starts with its speech made loads no numpy until it speaks."""
        normal = " ".join(text.split())
        if normal and len(normal) <= MAX_TEXT_CHARS:
            path = self.cache_path(normal)
            try:
                check_wav(path.read_bytes())
                return
            except OSError:  # not made yet, or a cache that cannot be read: make it (again)
                pass
            except WavRejected:
                path.unlink(missing_ok=True)  # a torn cache file: make it again
        await self.speak(text)

    async def speak(self, text: str) -> np.ndarray:
        """The text as mono float32 at ``rate``; raises :class:`SpeechFailed`."""
        text = " ".join(text.split())
        if not text:
            raise SpeechFailed("nothing to say: the text is empty")
        if len(text) > MAX_TEXT_CHARS:
            raise SpeechFailed(f"text too long: {len(text)} characters, limit {MAX_TEXT_CHARS}")
        samples = self.cached(text)
        if samples is not None:
            return samples
        wav = await self._run_espeak(text)
        try:
            audio = decode_wav(wav)
        except WavRejected as e:
            raise SpeechFailed(f"{self.program} produced unreadable audio: {e}") from e
        samples = resample(audio.samples, audio.rate, self.rate)
        try:
            write_wav_atomically(self.cache_path(text), samples, self.rate)
        except OSError as e:  # a full or read-only disk must not silence an announcement
            log.warning("speech not cached (%s): made again next time", e)
        return samples

    async def _run_espeak(self, text: str) -> bytes:
        v = self.voice
        args = [
            "-v", v.name, "-s", str(v.words_per_minute), "-p", str(v.pitch),
            "-a", str(v.amplitude), "--stdout", "--", text,
        ]
        # The spawn is shielded: cancelling asyncio's subprocess creation half-way can
        # leave the task waiting forever for a child nobody watches (CPython 3.11).
        spawn = asyncio.ensure_future(asyncio.create_subprocess_exec(
            self.program, *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        ))
        try:
            proc = await asyncio.shield(spawn)
        except FileNotFoundError as e:
            raise SpeechFailed(f"{self.program} is not installed (Debian package espeak-ng)") from e
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await end_process(await spawn)
            raise
        try:
            out, err = await asyncio.wait_for(proc.communicate(), self.timeout_s)
        except TimeoutError:
            raise SpeechFailed(f"{self.program} took longer than {self.timeout_s} s") from None
        finally:
            if proc.returncode is None:
                await end_process(proc)
        if proc.returncode != 0:
            reason = err.decode(errors="replace").strip() or f"exit status {proc.returncode}"
            raise SpeechFailed(f"{self.program} failed: {reason}")
        return out  # sizes in its header are 0x7fffffff (a pipe cannot seek): decode_wav copes


async def end_process(proc: asyncio.subprocess.Process) -> None:
    """Kill ``proc`` if it still runs and wait until it is gone, draining its pipes.

    asyncio (CPython 3.11) finishes ``wait()`` only once the process has exited *and* its
    pipes are closed, and it stops reading a pipe whose buffer nobody empties. After a
    cancelled ``communicate`` (or a spawn cancelled half-way) espeak-ng's unread WAV
    output can fill that buffer, so ``kill(); wait()`` waited forever for an end of file
    it no longer read: a station stopping while it made speech hung. ``communicate``
    reads both pipes to their end, then waits.
    """
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    await proc.communicate()

