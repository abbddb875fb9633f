"""Independent SIP software for the tests: Debian's baresip (a villager's or the duty
room's phone) and kamailio (a real registrar), each a child process on 127.0.0.1 with its
own configuration in a temporary folder.

baresip is driven through its ``ctrl_tcp`` interface (netstring-framed JSON commands,
events back on the same connection). What a phone *heard* is judged from its own
recording (the ``sndfile`` module dumps the decoded far-end audio as
``dump-…-dec.wav``), never from the station's side.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import socket
import subprocess
import sys
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np

from tests.helpers import REPO, free_port


def _load_pbx_sim() -> Any:
    """hw-sim/sip_pbx_sim.py, for its configuration builders (one kamailio and baresip
    set-up for the simulated station and the tests)."""
    if str(REPO / "hw-sim") not in sys.path:  # as when it runs: its neighbours importable
        sys.path.append(str(REPO / "hw-sim"))
    spec = importlib.util.spec_from_file_location("sip_pbx_sim",
                                                  REPO / "hw-sim" / "sip_pbx_sim.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PBX_SIM = _load_pbx_sim()
BARESIP = PBX_SIM.find_baresip()
KAMAILIO = PBX_SIM.find_kamailio()


def sip_and_control_ports() -> tuple[int, int]:
    """A SIP port whose neighbour is free too (baresip binds SIP/TLS on port + 1, and has
    no switch to leave TLS out), and a control port apart from both."""
    for _ in range(100):
        held = [socket.socket(), socket.socket(), socket.socket()]
        try:
            held[0].bind(("127.0.0.1", 0))
            port = held[0].getsockname()[1]
            held[1].bind(("127.0.0.1", port + 1))
            held[2].bind(("127.0.0.1", 0))
            return port, held[2].getsockname()[1]
        except OSError:
            continue
        finally:
            for sock in held:
                sock.close()
    raise AssertionError("no free pair of ports")


def tone_wav(path: Path, hz: float, seconds: float = 30.0, level: float = 0.3,
             lead_s: float = 0.0) -> Path:
    t = np.arange(round(8000 * seconds)) / 8000
    pcm = (level * np.sin(2 * np.pi * hz * t) * 32767).astype("<i2")
    pcm[: round(8000 * lead_s)] = 0
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(pcm.tobytes())
    return path


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768


def peak_hz(samples: np.ndarray, rate: int = 8000) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


def rms_db(samples: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(samples.astype(np.float64) ** 2) + 1e-12))


class Baresip:
    """One phone: a baresip process with one account, answered by hand or automatically."""

    def __init__(self, folder: Path, user: str, *, auto_answer: bool = False,
                 tone_hz: float = 1000.0, registrar: str | None = None,
                 password: str | None = None, lead_s: float = 0.0) -> None:
        assert BARESIP is not None
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.user = user
        self.port, self.ctrl_port = sip_and_control_ports()
        self.records = PBX_SIM.records_folder()
        source = tone_wav(folder / "voice.wav", tone_hz, lead_s=lead_s)
        (folder / "config").write_text(
            PBX_SIM.baresip_config(self.port, self.ctrl_port, source, self.records))
        account = PBX_SIM.baresip_account(user, port=self.port, registrar=registrar,
                                          password=password, auto_answer=auto_answer)
        (folder / "accounts").write_text(account + "\n")
        self.uri = f"sip:{user}@127.0.0.1:{self.port}"
        self.log = open(folder / "baresip.log", "wb")
        self.process = subprocess.Popen([BARESIP, "-f", str(folder)], stdin=subprocess.DEVNULL,
                                        stdout=self.log, stderr=subprocess.STDOUT,
                                        preexec_fn=PBX_SIM.die_with_parent)
        self.events: list[dict[str, Any]] = []
        self._buffer = b""
        self.sock = self._connect()

    def _connect(self) -> socket.socket:
        deadline = time.monotonic() + 10
        while True:
            try:
                return socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=10)
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise AssertionError(self.output()) from None
                time.sleep(0.05)

    def output(self) -> str:
        return (self.folder / "baresip.log").read_text(errors="replace")

    def command(self, command: str, params: str = "") -> dict[str, Any]:
        body = json.dumps({"command": command, "params": params, "token": command}).encode()
        self.sock.sendall(b"%d:%s," % (len(body), body))
        return self.wait(lambda m: m.get("response") and m.get("token") == command)

    def event(self, kind: str, since: int = 0, timeout: float = 15.0) -> dict[str, Any]:
        """The first event of ``kind`` (e.g. CALL_INCOMING, CALL_ESTABLISHED, CALL_CLOSED)
        at or after index ``since`` of :attr:`events`."""
        return self.wait(lambda m: m.get("type") == kind, since=since, timeout=timeout)

    def wait(self, match: Any, since: int = 0, timeout: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        checked = since
        while True:
            for message in self.events[checked:]:
                if match(message):
                    return message
            checked = max(checked, len(self.events))
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.user}: no such message; saw {self.events}")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                raise AssertionError(f"{self.user}: baresip went away:\n{self.output()}")
            self._buffer += chunk
            self._parse()

    def _parse(self) -> None:
        while b":" in self._buffer:
            head, _, rest = self._buffer.partition(b":")
            length = int(head)
            if len(rest) < length + 1:
                return
            self.events.append(json.loads(rest[:length]))
            self._buffer = rest[length + 1:]

    def heard(self) -> np.ndarray:
        """The far end's audio of this phone's last call (its decoded-audio dump)."""
        dumps = sorted(self.records.glob("dump-*-dec.wav"), key=lambda p: p.stat().st_mtime)
        assert dumps, f"{self.user} recorded nothing"
        return read_wav(dumps[-1])

    def clear_recordings(self) -> None:
        for path in self.records.glob("*.wav"):
            path.unlink()

    def stop(self) -> None:
        self.sock.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        shutil.rmtree(self.records, ignore_errors=True)


class Kamailio:
    """A registrar and proxy on 127.0.0.1:``port`` (UDP and TCP), digest auth with one
    password for every user, locations in memory (a restart forgets them)."""

    def __init__(self, folder: Path, password: str, port: int | None = None) -> None:
        assert KAMAILIO is not None
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.port = port or free_port()
        self.config = folder / "kamailio.cfg"
        self.config.write_text(PBX_SIM.kamailio_config(self.port, password, folder / "ctl.sock"))
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        assert KAMAILIO is not None
        self.log = open(self.folder / "kamailio.log", "ab")
        self.process = subprocess.Popen(
            [KAMAILIO, "-f", str(self.config), "-DD", "-E", "-Y", str(self.folder),
             "-m", "32", "-M", "4"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            preexec_fn=PBX_SIM.die_with_parent)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise AssertionError((self.folder / "kamailio.log").read_text()) from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
            self.log.close()
