"""Run hw-sim/modbus_gauge_sim.py as a child process and talk to its control channel.

Shared by the rain-gauge and Modbus tests (not a test module itself).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import TracebackType

SIM = Path(__file__).resolve().parents[1] / "hw-sim" / "modbus_gauge_sim.py"


class GaugeSim:
    """The simulator on a ``socket://`` line (or a pty), controlled over its stdin."""

    def __init__(self, *args: str, pty: bool = False) -> None:
        where = ["--pty"] if pty else ["--listen", "socket://127.0.0.1:0"]
        self.process = subprocess.Popen(
            [sys.executable, str(SIM), *where, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        assert self.process.stdout is not None and self.process.stdin is not None
        self._in, self._out = self.process.stdin, self.process.stdout
        ready = self._out.readline().split()
        if not ready or ready[0] != "READY":
            self.close()
            raise RuntimeError(f"simulator did not start: {ready}")
        self.url = ready[1]
        self.extra = dict(word.split("=", 1) for word in ready[2:])

    def command(self, line: str) -> str:
        self._in.write(line + "\n")
        self._in.flush()
        reply = self._out.readline().strip()
        if not reply.startswith("OK"):
            raise RuntimeError(f"{line!r}: {reply}")
        return reply[2:].strip()

    def status(self, unit: int) -> dict[str, str]:
        words = self.command(f"status {unit}").split()
        return dict(w.split("=", 1) if "=" in w else (w, "") for w in words)

    def raw(self, unit: int) -> int:
        return int(self.status(unit)["raw"])

    def requests(self, unit: int) -> int:
        return int(self.status(unit)["requests"])

    def close(self) -> int:
        if self.process.poll() is None:
            self._in.close()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self._in, self._out):
            if not stream.closed:
                stream.close()
        return self.process.returncode

    def __enter__(self) -> GaugeSim:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
