"""Small shared pieces of the test suite (configs, free ports, a started station)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from edge.config import Config, parse

T = TypeVar("T")

SIM_VIEWER = {"Authorization": "Bearer sim-viewer"}
SIM_OPERATOR = {"Authorization": "Bearer sim-operator"}
SIM_ADMIN = {"Authorization": "Bearer sim-admin"}
SIM_VIEWER_SHA = "b89c42f17e196b44f2ef4b850fe90d1657c40cbe19258cf129f6eebce50e0b6e"

REPO = Path(__file__).resolve().parent.parent


#: Ports for the servers tests start (TCP, and SIP's UDP): where nothing else in the suite
#: takes ports by itself. Not the kernel's ephemeral range (32768-60999 on Linux), from
#: which every outgoing connection and every ``bind(0)`` of the suite's hundred processes
#: draws, so that a port found free there could be taken before the server bound it
#: (seen: a station's "Address already in use"); nor the RTP ports of the stations' SIP
#: (10000-20000) and of the simulated PBX's phones (20000-40000). Each xdist worker has a
#: band of its own.
PORT_BANDS_FROM, PORT_BAND, PORT_BANDS = 2000, 900, 8
_next_port = PORT_BANDS_FROM + PORT_BAND * (
    int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0) % PORT_BANDS)
_band_end = _next_port + PORT_BAND
_next_port += random.randrange(PORT_BAND)  # another run at the same time starts elsewhere


def free_port() -> int:
    """A port of 127.0.0.1 free for TCP and UDP, from this worker's band, never one this
    process handed out before in its last lap of the band."""
    global _next_port
    for _ in range(PORT_BAND):
        port = _next_port
        _next_port = port + 1 if port + 1 < _band_end else _band_end - PORT_BAND
        with socket.socket() as tcp, socket.socket(type=socket.SOCK_DGRAM) as udp:
            try:
                tcp.bind(("127.0.0.1", port))
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {_band_end - PORT_BAND}-{_band_end - 1}")


BUS_START, BUS_END = "# == the simulated RS-485 line", "# == end of the RS-485 line =="


def sim_config_text_for(data_dir: Path, extra: str = "", *, listen: str = "127.0.0.1:0",
                        time_scale: float = 1.0, devices: dict[str, str] | None = None,
                        with_simulators: bool = False, **replace: str) -> str:
    """The embedded simulated-station config, pointed at ``data_dir`` (TOML text).

    What hangs on the simulators' wires (the RS-485 line with its gauges, remote siren and
    remote hand alarm; the satellite phone) is left out unless ``with_simulators`` or
    ``devices`` names its simulator (``gauge_port``, ``modem_port``): a station whose
    test started no simulator would find those devices unreachable, and be degraded.
    ``replace`` swaps text of the template; ``extra`` is appended.
    """
    from edge.sim.station import sim_config_text

    devices = devices or {}
    text = sim_config_text(data_dir, listen, time_scale, devices)
    if not (with_simulators or "gauge_port" in devices):
        text = text[:text.index(BUS_START)] + text[text.index(BUS_END) + len(BUS_END):]
    if not (with_simulators or "modem_port" in devices) and "\n[sat_phone]" in text:
        cut = text.index("\n[sat_phone]")
        comment = text.rfind("\n\n", 0, cut)
        text = text[:comment + 1]
    for old, new in replace.items():
        text = text.replace(old, new)
    return text + "\n" + extra


def sim_config(data_dir: Path, extra: str = "", *, with_simulators: bool = False,
               **replace: str) -> Config:
    """:func:`sim_config_text_for`, parsed (for in-process stations)."""
    return parse(sim_config_text_for(data_dir, extra, with_simulators=with_simulators,
                                     **replace))


def gauge_line_config(data_dir: Path, port: str, poll_s: float, *, listen: str = "127.0.0.1:0",
                      timeout_s: float = 0.5) -> str:
    """A station with one RS-485 line of gauges at ``port`` and nothing else (TOML text, the
    ``sim-viewer`` token included); the caller appends its gauges and thresholds."""
    return f'''
[station]
id = "SG-RG"
name = "雨量测试站"
data_dir = "{data_dir}"
[sim]
[api]
listen = "{listen}"
[[api.tokens]]
name = "sim-viewer"
role = "viewer"
sha256 = "{SIM_VIEWER_SHA}"
[gpio]
backend = "mock"
[self_test]
enabled = false
[modbus.buses.rs485]
port = "{port}"
baudrate = 9600
parity = "N"
poll_interval_s = {poll_s}
timeout_s = {timeout_s}
'''


def sim_control(data_dir: Path, device: str, cmd: str, **params: object) -> dict[str, Any]:
    """One command to a simulator of a ``run --sim`` station through its control channel
    (``device``: its port's key in ``sim-devices.json``, e.g. ``modem_control``)."""
    import json

    devices = json.loads((data_dir / "sim-devices.json").read_text(encoding="utf-8"))
    with socket.create_connection(("127.0.0.1", int(devices[device])), timeout=10) as s:
        s.sendall(json.dumps({"cmd": cmd, **params}).encode() + b"\n")
        reply: dict[str, Any] = json.loads(s.makefile(encoding="utf-8").readline())
    assert reply["ok"], reply
    return reply


class StationRun:
    """A station started in-process on a manual clock (async context manager)."""

    def __init__(self, config: Config, clock: object | None = None) -> None:
        from drivers.clock import ManualClock
        from edge.station import Station

        self.clock = clock or ManualClock()
        self.station = Station(config, self.clock)  # type: ignore[arg-type]

    async def __aenter__(self) -> StationRun:
        await self.station.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop the station while its time runs, as it does for a real one: a broadcast on
        air fades out on the station's clock, and the stop waits for that (else it waits
        out its real-time bound, seconds, and then cuts the audio)."""
        self.station.request_stop("test over")
        await self.while_time_runs(self.station.stop())

    async def while_time_runs(self, work: Awaitable[T]) -> T:
        """Await ``work`` while the station's clock runs on, 0.1 s at a time."""
        task = asyncio.ensure_future(work)
        advance = getattr(self.clock, "advance", None)
        while advance is not None and not task.done():
            await advance(0.1)
        return await task

    def events(self, kind: str | None = None) -> list[dict[str, object]]:
        journal = self.station.journal
        return [e for e in journal.read(limit=1000) if kind is None or e["kind"] == kind]

    async def polled(self, at: object = None) -> None:
        """Wait (real time, bounded) until every Modbus gauge has polled at ``at`` (now).

        A gauge's poll is real I/O on the simulated line: the manual clock wakes it, and
        its reply arrives in real time.
        """
        import asyncio

        from sensors.modbus_gauge import ModbusRainGauge

        moment = at or self.clock.now()  # type: ignore[attr-defined]
        rain = self.station.parts.rain
        gauges = [g for g in (rain.gauges.values() if rain else [])
                  if isinstance(g, ModbusRainGauge)]
        for _ in range(5000):
            if all(g.polled_at is not None and g.polled_at >= moment for g in gauges):
                return
            await asyncio.sleep(0.002)
        raise AssertionError(f"gauges did not all poll at {moment}")

    async def settled_events(self, kind: str | None = None) -> list[dict[str, object]]:
        journal = self.station.journal
        last = journal.record("test.marker", "tests")
        await journal.durable(last)
        return [e for e in self.events(kind) if e["kind"] != "test.marker"]


#: Run before the station's own code, in the station's process: die with the test process
#: (``PR_SET_PDEATHSIG``), so even a test runner killed with ``kill -9`` leaves no station
#: behind (the station's simulators die with the station the same way).
DIE_WITH_PARENT = (
    "import ctypes, os, signal, sys; "
    "ctypes.CDLL('libc.so.6', use_errno=True).prctl(1, signal.SIGKILL); "
    "os.getppid() == int(sys.argv[1]) or sys.exit('the test process is gone'); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[2:]])"
)


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60.0,
             interval: float = 0.05) -> Any:
    """Poll ``check`` until it gives something truthy (a station in another process
    cannot tell us when it is done); the deadline is only there to fail, never to pass."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


#: A config for a station process: TOML text from its data dir and listen address.
ConfigFor = Callable[[Path, str], str]


def _speech_cache() -> Path:
    """Speech made by the simulated stations of earlier tests (and runs), shared by every
    worker. A station a test starts finds its messages' speech made, as a restarted
    station does, instead of loading numpy and running espeak-ng for each (about a second
    of CPU per station). Making speech at a first start is tested in-process
    (test_tts.py, test_broadcast_station.py). The folder is named by the code that makes
    speech, so a change there never meets speech made before it."""
    makers = b"".join((REPO / name).read_bytes()
                      for name in ("broadcast/tts.py", "drivers/audio_wav.py"))
    return REPO / "var" / f"test-speech-{hashlib.sha256(makers).hexdigest()[:12]}"


SPEECH_CACHE = _speech_cache()


def seed_speech(data_dir: Path) -> None:
    """Give a fresh data dir the speech made so far (a data dir of its own is left alone)."""
    made = data_dir / "tts"
    if made.exists() or not SPEECH_CACHE.is_dir():
        return
    made.mkdir(parents=True)
    for wav in SPEECH_CACHE.glob("tts-*.wav"):
        shutil.copyfile(wav, made / wav.name)


def keep_speech(data_dir: Path) -> None:
    """Add what a station made to the shared speech (whole files only: the station writes
    each atomically, and so does this)."""
    SPEECH_CACHE.mkdir(parents=True, exist_ok=True)
    for wav in (data_dir / "tts").glob("tts-*.wav"):
        if not (SPEECH_CACHE / wav.name).exists():
            partial = SPEECH_CACHE / f".{wav.name}.{os.getpid()}"
            shutil.copyfile(wav, partial)
            os.replace(partial, SPEECH_CACHE / wav.name)


class SimStationProcess:
    """``station-edge run --sim`` as a child process, on its own port and data dir.

    With ``config``, ``station-edge run --config <data_dir>/config.toml`` instead: a
    simulated station (``[sim]`` in that config) whose simulators the test started.
    The station leads its own process group, which its simulators join: :meth:`kill`
    takes the whole group down, whatever state a failed test left it in. Tests get
    stations from the ``sim_station`` fixture, which kills them at teardown.
    """

    def __init__(self, data_dir: Path, *extra_args: str, time_scale: float | None = None,
                 config: ConfigFor | None = None, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()  # a port given: the same station, restarted
        self.base_url = f"http://127.0.0.1:{self.port}"
        listen = f"127.0.0.1:{self.port}"
        data_dir.mkdir(parents=True, exist_ok=True)
        seed_speech(data_dir)
        if config is None:
            run = ["--sim", "--listen", listen, "--data-dir", str(data_dir)]
        else:
            config_path = data_dir / "config.toml"
            config_path.write_text(config(data_dir, listen), encoding="utf-8")
            run = ["--config", str(config_path)]
        args = [sys.executable, "-c", DIE_WITH_PARENT, str(os.getpid()),
                "-m", "edge.cli", "run", *run, *extra_args]
        if time_scale is not None:
            args += ["--time-scale", str(time_scale)]
        self.log_path = data_dir.parent / f"{data_dir.name}-station.log"
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT,
                                        cwd=REPO, start_new_session=True)
        self._http = httpx.Client(base_url=self.base_url, timeout=10)

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Until health answers (raises with the log if the station died or never answered)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if self.get("/api/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.kill()
        raise AssertionError(f"station not ready:\n{self.log()}")

    def get(self, path: str, headers: dict[str, str] = SIM_VIEWER,
            **kw: Any) -> httpx.Response:
        return self._http.get(path, headers=headers, **kw)

    def post(self, path: str, json: object, headers: dict[str, str] = SIM_OPERATOR,
             **kw: Any) -> httpx.Response:
        return self._http.post(path, json=json, headers=headers, **kw)

    def delete(self, path: str, headers: dict[str, str] = SIM_OPERATOR,
               **kw: Any) -> httpx.Response:
        return self._http.delete(path, headers=headers, **kw)

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The station's whole journal (page by page), or the events of one kind."""
        out: list[dict[str, Any]] = []
        while page := self.get(f"/api/v1/events?after={out[-1]['seq'] if out else 0}"
                               "&limit=1000").json()["events"]:
            out += page
        return [e for e in out if kind is None or e["kind"] == kind]

    def signal(self, sig: int) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout: float = 20.0) -> int:
        """The station's exit status once it has stopped by itself (after a signal)."""
        return self.process.wait(timeout=timeout)

    def stop(self) -> int:
        """SIGTERM, as systemd stops it; its exit status."""
        self.signal(signal.SIGTERM)
        return self.wait()

    def kill(self) -> None:
        """``kill -9`` of the station and of everything in its process group; idempotent."""
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # its simulators, if any survived
        self.process.wait()
        self._log.close()
        self._http.close()
        keep_speech(self.data_dir)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def children(self) -> dict[int, list[str]]:
        """The station's child processes and their command lines (those alive right now)."""
        found = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat", "rb") as f:
                        fields = f.read().rsplit(b")", 1)[1].split()
                    if int(fields[1]) == self.process.pid:
                        with open(f"/proc/{entry}/cmdline", "rb") as f:
                            found[int(entry)] = f.read().decode().split("\0")
                except OSError:
                    continue
        return found


class Scrape:
    """The station's ``/metrics`` as the county's Prometheus reads it, sample by sample."""

    def __init__(self, text: str) -> None:
        from prometheus_client.parser import text_string_to_metric_families

        self.text = text
        self.families = list(text_string_to_metric_families(text))
        self.samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                        for family in self.families for s in family.samples}

    @classmethod
    def of(cls, station: object) -> Scrape:
        from prometheus_client import generate_latest

        from edge.api.metrics import registry_for

        return cls(generate_latest(registry_for(station)).decode())

    def value(self, name: str, **labels: str) -> float:
        return self.samples[(name, tuple(sorted(labels.items())))]

    def series(self, name: str) -> list[dict[str, str]]:
        """The label sets of every sample called ``name``."""
        return [dict(labels) for n, labels in self.samples if n == name]


#: How long :func:`until` waits at most (a loaded machine is slow, never this slow).
UNTIL_S = 30.0


async def until(what: str, check: Callable[[], Any]) -> Any:
    """Await ``check`` giving something truthy, for what another thread or process makes
    true (the journal's writer, a simulator on the wire) while the test's clock stands
    still; fails after :data:`UNTIL_S` real seconds, never passes on a deadline."""
    import asyncio

    try:
        async with asyncio.timeout(UNTIL_S):
            while not (result := check()):  # noqa: ASYNC110 (another thread or process)
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None
    return result
