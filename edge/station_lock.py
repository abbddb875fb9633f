"""Who is driving this station's devices: the daemon, or one bring-up command.

A lock file in ``data_dir`` (``station.lock``) held with ``flock`` for as long as the
daemon runs, or while a ``station-edge`` bring-up command uses the devices itself. The
kernel drops the lock when its holder dies, even by ``kill -9``, so there is never a
stale PID file to clean up, and a process that holds nothing cannot be mistaken for the
daemon (a PID can be reused; an ``flock`` cannot outlive its process). The holder writes
who it is into the file: its PID, what it is, and for the daemon the address its API
listens on, so a command that finds the daemon running goes through that API instead
of fighting it for a serial port or a GPIO pin.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType

from edge.state_files import make_data_dir, own_like_parent

LOCK_FILE = "station.lock"
DAEMON = "daemon"
#: How long to wait for a new holder to say who it is.
SETTLE_S = 1.0


@dataclass(frozen=True)
class Holder:
    pid: int
    what: str  # DAEMON, or the command, e.g. "station-edge modbus scan rs485"
    listen: str | None = None  # the daemon's API address

    @property
    def is_daemon(self) -> bool:
        return self.what == DAEMON

    def __str__(self) -> str:
        if self.is_daemon:
            return f"the station daemon (pid {self.pid}, API on {self.listen})"
        return f"`{self.what}` (pid {self.pid})"


class StationBusy(Exception):
    """Someone else drives the devices now; ``holder`` says who (None: not known yet)."""

    def __init__(self, path: Path, holder: Holder | None) -> None:
        who = str(holder) if holder else "another process"
        super().__init__(f"{who} is using this station's devices ({path})")
        self.path = path
        self.holder = holder


class StationLock:
    """The station's devices, taken by one process at a time (a context manager)."""

    def __init__(self, data_dir: Path, holder: Holder) -> None:
        self.path = data_dir / LOCK_FILE
        self.holder = holder
        self._fd: int | None = None

    def acquire(self) -> StationLock:
        """Take the lock or raise :class:`StationBusy` at once (nobody waits for the daemon)."""
        make_data_dir(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
        own_like_parent(self.path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StationBusy(self.path, read_holder(self.path)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(self.holder)).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)

    def __enter__(self) -> StationLock:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def read_holder(path: Path) -> Holder | None:
    """What the holder of a busy lock wrote about itself (waits briefly for a new one)."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        try:
            raw = json.loads(path.read_text(encoding="utf-8") or "null")
        except (OSError, ValueError):
            raw = None
        if isinstance(raw, dict):
            try:
                return Holder(int(raw["pid"]), str(raw["what"]), raw.get("listen"))
            except (KeyError, TypeError, ValueError):
                return None
        if time.monotonic() > deadline:
            return None
        time.sleep(0.02)
