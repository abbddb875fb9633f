"""A serial port as the event loop sees it: bytes in by callback, bytes out without blocking.

pyserial opens and configures the port (so any pyserial URL or device path works,
``DTR`` stays asserted, and an exclusive lock keeps a second process off it); the
event loop watches its file descriptor, so no thread sits in ``read()``. When the
device disappears (a USB adapter unplugged, a pty closed) the read fails, the line
closes itself and says so once through ``on_lost``; reopening is the owner's decision.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable

import serial

log = logging.getLogger(__name__)

READ_SIZE = 4096


class SerialLine:
    """One open serial port; build it with :meth:`open`."""

    def __init__(
        self,
        port: serial.SerialBase,
        on_data: Callable[[bytes], None],
        on_lost: Callable[[Exception | None], None],
    ) -> None:
        self._port = port
        self._fd = port.fileno()
        self._on_data = on_data
        self._on_lost = on_lost
        self._loop = asyncio.get_running_loop()
        self._pending = bytearray()
        self._closed = False
        os.set_blocking(self._fd, False)
        self._loop.add_reader(self._fd, self._readable)

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        baudrate: int,
        on_data: Callable[[bytes], None],
        on_lost: Callable[[Exception | None], None],
        exclusive: bool = True,
    ) -> SerialLine:
        """Open ``url`` (a device path or pyserial URL); raises ``OSError``/``SerialException``."""
        # A URL handler (socket://, loop://) has no lock; None is pyserial's "not asked".
        port = serial.serial_for_url(
            url,
            baudrate=baudrate,
            timeout=0,
            write_timeout=0,
            exclusive=exclusive if "://" not in url else None,
        )
        try:
            return cls(port, on_data, on_lost)
        except BaseException:
            port.close()
            raise

    @property
    def closed(self) -> bool:
        return self._closed

    def write(self, data: bytes) -> None:
        """Queue ``data``; what the kernel will not take now is sent when it can."""
        if self._closed:
            raise ConnectionError("serial line is closed")
        if self._pending:
            self._pending += data
            return
        sent = self._try_write(data)
        if sent is not None and sent < len(data):
            self._pending += data[sent:]
            self._loop.add_writer(self._fd, self._writable)

    def discard_output(self) -> None:
        """Drop bytes queued but not yet sent (a command abandoned on timeout)."""
        if self._pending:
            self._pending.clear()
            self._loop.remove_writer(self._fd)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._loop.remove_reader(self._fd)
        self._loop.remove_writer(self._fd)
        try:
            self._port.close()
        except (OSError, serial.SerialException) as exc:
            log.debug("closing %s: %s", self._port.port, exc)

    def _try_write(self, data: bytes) -> int | None:
        try:
            return os.write(self._fd, data)
        except BlockingIOError:
            return 0
        except OSError as exc:
            self._lose(exc)
            return None

    def _writable(self) -> None:
        sent = self._try_write(bytes(self._pending))
        if sent is None:
            return
        del self._pending[:sent]
        if not self._pending:
            self._loop.remove_writer(self._fd)

    def _readable(self) -> None:
        try:
            data = os.read(self._fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            self._lose(exc)
            return
        if not data:
            self._lose(None)
            return
        self._on_data(data)

    def _lose(self, exc: Exception | None) -> None:
        if self._closed:
            return
        self.close()
        self._on_lost(exc)


class PortProblem(OSError):
    """Why a serial port cannot be used, in words a technician can act on."""


def check_port(url: str, baudrate: int) -> None:
    """Open ``url`` exclusively and close it again; raise :class:`PortProblem` saying why
    it cannot be used: absent, held by another program, or not permitted.

    Only device paths are checked: a ``socket://`` (or other) URL has no lock and says
    for itself when it cannot connect.
    """
    if "://" in url:
        return
    if not os.path.exists(url):
        raise PortProblem(f"{url} does not exist (adapter unplugged, or no udev rule naming it)")
    try:
        port = serial.serial_for_url(url, baudrate=baudrate, timeout=0, exclusive=True)
    except serial.SerialException as exc:
        if exc.errno in (11, 16) or "exclusively lock" in str(exc):  # EAGAIN / EBUSY
            raise PortProblem(f"{url} is busy: another program holds it ({exc})") from None
        if exc.errno == 13:
            raise PortProblem(f"{url}: permission denied (the user needs the dialout group, "
                              "or run with sudo)") from None
        raise PortProblem(f"{url} cannot be opened: {exc}") from None
    port.close()
