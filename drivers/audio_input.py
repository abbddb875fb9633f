"""Audio input: what a sound card hears (the satellite phone's call audio).

One interface, :class:`AudioInput`, two backends chosen once by :func:`make_input`:

* :class:`SoundDeviceInput` — a PortAudio input stream; its callback hands each block
  to the event loop (no work on PortAudio's thread beyond a copy);
* :class:`SocketInput` — signed 16-bit little-endian mono PCM read from a unix socket
  (``settings.socket_path``), the way a simulated device delivers its audio.

Between :meth:`open` and :meth:`close`, :meth:`read` returns the next block (mono
float32 in [-1, 1] at ``rate``), or ``None`` once the input is closed or the peer went
away. :meth:`take_pending` returns what was already captured without waiting, so an
owner who stops listening loses nothing the device had delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    import numpy as np


READ_SIZE = 8192


class AudioInputError(OSError):
    """The input device cannot be opened."""


@dataclass(frozen=True)
class AudioInputSettings:
    backend: Literal["sounddevice", "socket"] = "sounddevice"
    rate: int = 8000
    device: str | int | None = "default"
    socket_path: Path | None = None
    block_s: float = 0.02

    def __post_init__(self) -> None:
        if self.backend == "socket" and self.socket_path is None:
            raise ValueError("the socket backend needs socket_path")


class AudioInput(Protocol):
    rate: int

    async def open(self) -> None: ...

    async def read(self) -> np.ndarray | None: ...

    def take_pending(self) -> np.ndarray: ...

    async def close(self) -> None: ...


def make_input(settings: AudioInputSettings) -> AudioInput:
    if settings.backend == "socket":
        return SocketInput(settings)
    if settings.backend == "sounddevice":
        return SoundDeviceInput(settings)
    raise ValueError(f"unknown audio input backend {settings.backend!r}")


class _QueuedInput:
    """Blocks arrive in a queue; ``None`` in the queue means the input ended."""

    def __init__(self, settings: AudioInputSettings) -> None:
        self.settings = settings
        self.rate = settings.rate
        self._queue: asyncio.Queue[np.ndarray | None] = asyncio.Queue()
        self._ended = False

    async def read(self) -> np.ndarray | None:
        if self._ended and self._queue.empty():
            return None
        block = await self._queue.get()
        if block is None:
            self._ended = True
        return block

    def take_pending(self) -> np.ndarray:
        import numpy as np
        self._collect()
        blocks = []
        while not self._queue.empty():
            block = self._queue.get_nowait()
            if block is None:
                self._ended = True
                self._queue.put_nowait(None)
                break
            blocks.append(block)
        return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)

    def _collect(self) -> None:
        """Pull what the device already delivered into the queue (backend-specific)."""

    def _end(self) -> None:
        if not self._ended:
            self._ended = True
            self._queue.put_nowait(None)


class SocketInput(_QueuedInput):
    """PCM s16le mono from a unix socket, read by the event loop (no thread)."""

    def __init__(self, settings: AudioInputSettings) -> None:
        super().__init__(settings)
        self._sock: socket.socket | None = None
        self._odd = b""

    async def open(self) -> None:
        assert self.settings.socket_path is not None
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(self.settings.socket_path))
        except OSError as exc:
            sock.close()
            raise AudioInputError(f"cannot open {self.settings.socket_path}: {exc}") from exc
        sock.setblocking(False)
        self._sock = sock
        self._ended = False
        asyncio.get_running_loop().add_reader(sock.fileno(), self._collect)

    def _collect(self) -> None:
        import numpy as np
        sock = self._sock
        while sock is not None:
            try:
                data = sock.recv(READ_SIZE)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._drop_socket()
                self._end()
                return
            data, self._odd = self._odd + data, b""
            if len(data) % 2:
                data, self._odd = data[:-1], data[-1:]
            if data:
                pcm = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
                self._queue.put_nowait(pcm)

    def _drop_socket(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(ValueError, RuntimeError):
                asyncio.get_running_loop().remove_reader(sock.fileno())
            sock.close()

    async def close(self) -> None:
        self._drop_socket()
        self._end()


class SoundDeviceInput(_QueuedInput):
    """A PortAudio input stream (imported on open: PortAudio initialises at import)."""

    def __init__(self, settings: AudioInputSettings) -> None:
        super().__init__(settings)
        self._stream: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.overflows = 0

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._ended = False
        self._stream = await asyncio.to_thread(self._start_stream)

    def _start_stream(self) -> Any:
        import sounddevice as sd

        s = self.settings
        try:
            stream = sd.InputStream(samplerate=s.rate, blocksize=max(1, round(s.rate * s.block_s)),
                                    device=s.device, channels=1, dtype="float32",
                                    callback=self._callback)
            stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            raise AudioInputError(f"cannot open audio input {s.device!r}: {exc}") from exc
        return stream

    def _callback(self, indata: np.ndarray, frames: int, _time: Any, status: Any) -> None:
        # PortAudio's thread: copy the block and hand it to the loop, nothing else.
        if status.input_overflow:
            self.overflows += 1
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._queue.put_nowait, indata[:, 0].copy())

    async def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            await asyncio.to_thread(_stop_stream, stream)
        self._end()


def _stop_stream(stream: Any) -> None:
    try:
        stream.stop()
    finally:
        stream.close()

