"""Device simulators of ``hw-sim/`` run as child processes of a simulated station.

A simulator is an independent program speaking its wire protocol; the station talks to
it exactly as it would to the real device. Each prints ``READY <address>`` when it is
listening, or ``UNAVAILABLE <reason>`` when it cannot run here (software it drives is not
installed). Children are asked to die with the station (``PR_SET_PDEATHSIG``), so even a
``kill -9`` of the station leaves none behind.
"""

from __future__ import annotations

import ctypes
import logging
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)

def _hw_sim_dir() -> Path:
    """``hw-sim/`` of the source checkout: beside the package in a development install,
    beside the virtualenv in an installed one (``/opt/station-edge/.venv`` →
    ``/opt/station-edge/hw-sim``, as the README installs it)."""
    candidates = [Path(__file__).resolve().parents[2] / "hw-sim",
                  Path(sys.prefix).resolve().parent / "hw-sim"]
    return next((c for c in candidates if c.is_dir()), candidates[0])


HW_SIM_DIR = _hw_sim_dir()
READY_TIMEOUT_S = 15.0
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class SimulatorUnavailable(RuntimeError):
    """The simulator cannot run on this machine; ``str()`` says why."""


class Simulator:
    """One running simulator process (``wait=False``: call :meth:`wait_ready` later, so
    simulators that take a while start side by side)."""

    def __init__(self, script: str, args: list[str], name: str | None = None, *,
                 wait: bool = True) -> None:
        self.name = name or script
        path = HW_SIM_DIR / script
        if not path.exists():
            raise FileNotFoundError(f"simulator {path} not found (run from a source checkout)")
        self.process = subprocess.Popen(
            [sys.executable, str(path), *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None,
            preexec_fn=_die_with_parent,
        )
        self.address = self.wait_ready() if wait else ""

    def wait_ready(self) -> str:
        """Its address once it says READY (raises if it does not, after stopping it)."""
        self.address = self._await_ready()
        return self.address

    def _await_ready(self) -> str:
        assert self.process.stdout is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        buffer = b""
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not selector.select(timeout=0.1):
                    if self.process.poll() is not None:
                        break
                    continue
                chunk = os.read(self.process.stdout.fileno(), 4096)
                if not chunk:
                    break
                buffer += chunk
                for line in buffer.decode(errors="replace").splitlines():
                    if line.startswith("READY "):
                        return line.removeprefix("READY ").strip()
                    if line.startswith("UNAVAILABLE "):
                        self.stop()
                        raise SimulatorUnavailable(line.removeprefix("UNAVAILABLE ").strip())
        self.stop()
        raise RuntimeError(f"simulator {self.name} did not become ready: {buffer[-500:]!r}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
