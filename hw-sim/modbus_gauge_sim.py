#!/usr/bin/env python3
"""A bus of simulated RS-485 Modbus RTU devices: tipping-bucket rain gauges and I/O modules.

An independent device: it imports nothing of the station's code, and writes its own
RTU framing and CRC, so a misunderstanding of the protocol cannot hide on both sides
of the wire.

Run::

    python hw-sim/modbus_gauge_sim.py --listen socket://127.0.0.1:0 \\
        --unit 1 --unit 2,width=32,word_order=little,function=input,scale_mm=0.0001 \\
        --rain storm:80:3600 --time-scale 60 --baud 9600 --wire-timing

    python hw-sim/modbus_gauge_sim.py --pty --unit 1      # prints the slave side path

When the bus is ready it prints one line ``READY <url-or-path>`` (plus
`` control=127.0.0.1:PORT`` with ``--control``) and runs until SIGTERM, SIGINT or
EOF on stdin (``--stdin ignore`` to keep running without a stdin).

Options:

``--listen socket://127.0.0.1:PORT`` (0: any free port) -- the master connects with
pyserial's ``socket://`` URL; one master at a time (a new connection replaces the old).
``--pty`` -- a pseudo-terminal; the printed path is opened as a serial port (8N1 only:
Linux ptys refuse even parity, use ``--listen`` for 8E1).
``--baud``, ``--parity`` -- the line; with ``--wire-timing`` every frame takes its
bytes x 11 bits / baud on the wire, the slave answers after the request's own wire
time plus 3.5 characters of silence, and the bus carries one frame at a time.
``--time-scale X`` -- simulated time runs X times faster than real time (rain profiles).
``--rain PROFILE`` -- default profile for every gauge:

* ``none``; ``constant:MM_PER_H``;
* ``storm:TOTAL_MM:DURATION_S[:START_S]`` -- a raised-cosine storm of TOTAL_MM over
  DURATION_S simulated seconds starting at START_S (peak 2 x TOTAL/DURATION);
* ``csv:PATH`` -- lines ``SECONDS,MM``: MM falls at SECONDS of simulated time.

``--unit ID[,key=value...]`` (repeatable) -- a device at address ID; keys:
``model`` xm9505|dfrobot-sen0575|lambrecht-rain-e (that gauge's register map; other
keys given win), ``function`` holding|input, ``register`` (counter wire address,
0..65535), ``width`` 16|32, ``word_order`` big|little (32-bit: which word comes
first), ``scale_mm`` (mm per count), ``rollover`` (the count at which the counter
starts again at 0; default 2^width), ``status_register`` (wire address of a status
word, on the counter's function), ``error_value`` (what the counter registers read
while the sensor is in error; negative = two's complement), ``clear`` REG:VALUE (an
FC06 write of VALUE to REG zeroes the counter), ``start`` (initial counter), ``rain``
(this unit's profile). Every unit also has 16 coils (FC01/FC05) and 16 discrete
inputs (FC02), and holding and input registers 0..63 (FC03/04/06); the counter and
the status word shadow their addresses on the counter's function; any other address
is refused (exception 2). Addresses without a unit stay silent, as on a real bus.

Control: one command per line on stdin and on the ``--control`` TCP port (127.0.0.1),
one reply line each, ``OK ...`` or ``ERR <reason>``. UNIT may be ``*`` (every unit).

* ``rain UNIT MM`` -- MM of rain falls now;
* ``profile UNIT PROFILE`` -- replace the rain profile (its clock restarts now);
* ``fault UNIT KIND [SECONDS] [every N] [COUNT]`` -- KIND: ``none``; ``silence`` (no
  reply); ``slow``/``late`` (reply after SECONDS; late is meant to exceed the master's
  timeout); ``garbage`` (the reply with a broken CRC); ``noise`` (random bytes
  instead of a reply); ``torn`` (the reply breaks off after its first 3 bytes, as
  when a device browns out mid-frame). ``every N`` applies it to every Nth request
  only (a gauge whose replies are sometimes late); COUNT limits it to COUNT requests;
* ``reset UNIT`` -- the counter restarts at 0 (as after a power loss);
* ``set UNIT RAW`` -- the counter jumps to RAW;
* ``wrap UNIT [MARGIN]`` -- the counter jumps to its rollover - MARGIN (default 3), so
  the next rain wraps it (the jump itself is seen by the master as a data gap);
* ``power UNIT off`` -- the gauge loses power: silent, and rain that falls is not
  counted; ``power UNIT on [RAW]`` -- back, its counter starting at RAW (default 0):
  with ``set`` near the top first, a power loss near the top of the counter;
* ``sensor UNIT fault [WORD]`` / ``sensor UNIT ok`` -- the status register reads WORD
  (default 0x0004) / 0;
* ``error UNIT on|off`` -- the counter registers read the unit's error value (the
  gauge keeps counting inside, and shows the count again after ``off``);
* ``di UNIT ADDR 0|1`` -- set a discrete input;
* ``coil UNIT ADDR 0|1`` -- set a coil from the module's side (a technician's manual
  switch, a power-on default of ON): the master finds out only by reading it;
* ``status UNIT`` -- ``OK unit=ID rain_mm=F raw=N requests=N replies=N coils=BITS
  discrete=BITS faults=KIND status_word=N error=on|off power=on|off`` (rain_mm: all
  the rain that fell on it); for an address without a unit ``OK unit=ID absent
  requests=N``;
* ``disconnect`` -- drop the master's connection (socket mode);
* ``time`` -- ``OK sim_s=F``; ``quit`` -- stop.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import math
import os
import random
import signal
import sys
import termios
import threading
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypedDict

BITS_PER_CHAR = 11
REGISTERS = 64
BITS = 16


# ---------------------------------------------------------------- RTU framing


def crc16(data: bytes) -> bytes:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc.to_bytes(2, "little")


def frame(payload: bytes) -> bytes:
    return payload + crc16(payload)


def request_length(buf: bytes) -> int | None:
    """Length of the request frame at the head of ``buf`` (None: need more bytes)."""
    if len(buf) < 2:
        return None
    if buf[1] in (1, 2, 3, 4, 5, 6):
        return 8
    if buf[1] in (15, 16):
        return 9 + buf[6] if len(buf) >= 7 else None
    return 0  # unknown function: resynchronise


# ---------------------------------------------------------------- rain profiles


class Profile:
    """Cumulative rain (mm) as a function of simulated seconds since the profile began."""

    def cumulative(self, t: float) -> float:
        return 0.0


@dataclass
class Constant(Profile):
    mm_per_h: float

    def cumulative(self, t: float) -> float:
        return self.mm_per_h * max(0.0, t) / 3600


@dataclass
class Storm(Profile):
    total_mm: float
    duration_s: float
    start_s: float = 0.0

    def cumulative(self, t: float) -> float:
        x = min(max(0.0, t - self.start_s), self.duration_s) / self.duration_s
        return self.total_mm * (x - math.sin(2 * math.pi * x) / (2 * math.pi))


@dataclass
class Series(Profile):
    points: list[tuple[float, float]]

    def cumulative(self, t: float) -> float:
        return sum(mm for at, mm in self.points if at <= t)


def parse_profile(text: str) -> Profile:
    kind, _, rest = text.partition(":")
    args = rest.split(":") if rest else []
    if kind == "none":
        return Profile()
    if kind == "constant" and len(args) == 1:
        return Constant(float(args[0]))
    if kind == "storm" and len(args) in (2, 3):
        return Storm(*(float(a) for a in args))
    if kind == "csv" and rest:
        points = []
        with open(rest, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#") and not line[0].isalpha():
                    at, mm = line.split(",")[:2]
                    points.append((float(at), float(mm)))
        return Series(sorted(points))
    raise ValueError(f"bad rain profile {text!r}")


# ---------------------------------------------------------------- devices


@dataclass
class Fault:
    kind: str = "none"
    seconds: float = 0.0
    remaining: int | None = None  # None: until changed
    every: int = 1                # applies to every Nth request only
    seen: int = 0

    def take(self) -> Fault:
        """The fault that applies to this request (and count it down)."""
        if self.kind == "none":
            return self
        self.seen += 1
        if self.seen % self.every:
            return Fault()
        current = Fault(self.kind, self.seconds)
        if self.remaining is not None:
            self.remaining -= 1
            if self.remaining <= 0:
                self.kind, self.remaining = "none", None
        return current


class ModelMap(TypedDict, total=False):
    """A gauge model's register map, as this simulated device implements it."""

    function: str
    register: int
    width: int
    word_order: str
    scale_mm: float
    rollover: int
    status_register: int
    error_value: int


# The three register maps the station's catalogue knows, written here from the makers'
# documents independently of the station's code (docs/gauges/ gives the sources).
MODELS: dict[str, ModelMap] = {
    "xm9505": {"function": "holding", "register": 0, "width": 16, "scale_mm": 0.1},
    "dfrobot-sen0575": {"function": "input", "register": 0x0008, "width": 32,
                        "word_order": "little", "scale_mm": 0.0001},
    "lambrecht-rain-e": {"function": "input", "register": 31101, "width": 32,
                         "word_order": "big", "scale_mm": 0.001, "rollover": 3_000_000,
                         "status_register": 34901, "error_value": 0xFF676981},
}


@dataclass
class Unit:
    address: int
    clock: Callable[[], float]
    function: str = "holding"
    register: int = 0
    width: int = 16
    word_order: str = "big"
    scale_mm: float = 0.1
    rollover: int | None = None
    status_register: int | None = None
    error_value: int | None = None
    clear: tuple[int, int] | None = None
    start: int = 0
    profile: Profile = field(default_factory=Profile)
    profile_t0: float = 0.0
    added_mm: float = 0.0
    counts_offset: int = 0
    holding: dict[int, int] = field(default_factory=dict)
    inputs: dict[int, int] = field(default_factory=dict)
    coils: list[bool] = field(default_factory=lambda: [False] * BITS)
    discrete: list[bool] = field(default_factory=lambda: [False] * BITS)
    fault: Fault = field(default_factory=Fault)
    status_word: int = 0
    error_on: bool = False
    powered: bool = True
    replies: int = 0

    def __post_init__(self) -> None:
        if self.function not in ("holding", "input") or self.width not in (16, 32):
            raise ValueError(f"unit {self.address}: bad function or width")
        if self.word_order not in ("big", "little") or self.scale_mm <= 0:
            raise ValueError(f"unit {self.address}: bad word_order or scale_mm")
        if not 0 <= self.register <= 0x10000 - self.width // 16:
            raise ValueError(f"unit {self.address}: register outside 0..65535")
        if self.rollover is not None and not 2 <= self.rollover <= 1 << self.width:
            raise ValueError(f"unit {self.address}: rollover outside 2..2^width")
        self.counts_offset = self.start

    @property
    def modulus(self) -> int:
        return self.rollover if self.rollover is not None else 1 << self.width

    def rain_mm(self) -> float:
        return self.profile.cumulative(self.clock() - self.profile_t0) + self.added_mm

    def raw(self) -> int:
        counts = math.floor(self.rain_mm() / self.scale_mm + 1e-6)
        return (counts + self.counts_offset) % self.modulus

    def set_raw(self, raw: int) -> None:
        counts = math.floor(self.rain_mm() / self.scale_mm + 1e-6)
        self.counts_offset = raw - counts

    def set_profile(self, profile: Profile) -> None:
        self.added_mm = self.rain_mm()
        self.profile, self.profile_t0 = profile, self.clock()

    def power(self, on: bool, raw: int = 0) -> None:
        """Off: silent, and rain that falls is not counted; on: the counter starts at ``raw``."""
        if on and not self.powered:
            self.set_raw(raw)
        self.powered = on

    def counter_words(self) -> list[int]:
        raw = self.error_value if self.error_on and self.error_value is not None else self.raw()
        if self.width == 16:
            return [raw & 0xFFFF]
        words = [raw >> 16 & 0xFFFF, raw & 0xFFFF]
        return words if self.word_order == "big" else words[::-1]

    def read_registers(self, function: int, address: int, count: int) -> list[int] | None:
        """The words of ``count`` registers from ``address`` (None: an illegal address).

        The counter and the status register shadow their addresses on the counter's
        function; other addresses below 64 read what was written (0 by default).
        """
        table = self.holding if function == 3 else self.inputs
        mine = function == (3 if self.function == "holding" else 4)
        shadow: dict[int, int] = {}
        if mine:
            shadow = dict(enumerate(self.counter_words(), start=self.register))
            if self.status_register is not None:
                shadow[self.status_register] = self.status_word
        words = []
        for at in range(address, address + count):
            if at in shadow:
                words.append(shadow[at])
            elif at < REGISTERS:
                words.append(table.get(at, 0))
            else:
                return None
        return words

    def handle(self, pdu: bytes) -> bytes:
        """The response PDU to a request PDU (function code first)."""
        fc = pdu[0]
        try:
            if fc in (1, 2, 3, 4):
                address, count = int.from_bytes(pdu[1:3], "big"), int.from_bytes(pdu[3:5], "big")
                if fc in (1, 2):
                    bits = (self.coils if fc == 1 else self.discrete)[address:address + count]
                    if count == 0 or len(bits) != count:
                        return bytes([fc | 0x80, 2])
                    packed = bytearray((count + 7) // 8)
                    for i, bit in enumerate(bits):
                        packed[i // 8] |= bit << (i % 8)
                    return bytes([fc, len(packed)]) + bytes(packed)
                words = self.read_registers(fc, address, count) if 0 < count <= 125 else None
                if words is None:
                    return bytes([fc | 0x80, 2])
                return bytes([fc, 2 * count]) + b"".join(w.to_bytes(2, "big") for w in words)
            if fc == 5:
                address, state = int.from_bytes(pdu[1:3], "big"), pdu[3:5]
                if address >= BITS or state not in (b"\xff\x00", b"\x00\x00"):
                    return bytes([fc | 0x80, 2 if address >= BITS else 3])
                self.coils[address] = state == b"\xff\x00"
                return pdu[:5]
            if fc == 6:
                address, value = int.from_bytes(pdu[1:3], "big"), int.from_bytes(pdu[3:5], "big")
                if address >= REGISTERS:
                    return bytes([fc | 0x80, 2])
                if self.clear == (address, value):
                    self.set_raw(0)
                else:
                    self.holding[address] = value
                return pdu[:5]
        except IndexError:
            return bytes([fc | 0x80, 3])
        return bytes([fc | 0x80, 1])

    def status(self, requests: int) -> str:
        bits = "".join("1" if b else "0" for b in self.coils)
        di = "".join("1" if b else "0" for b in self.discrete)
        return (
            f"unit={self.address} rain_mm={self.rain_mm():.4f} raw={self.raw()} "
            f"requests={requests} replies={self.replies} coils={bits} discrete={di} "
            f"faults={self.fault.kind} status_word={self.status_word} "
            f"error={'on' if self.error_on else 'off'} power={'on' if self.powered else 'off'}"
        )


class UnitOptions(ModelMap, total=False):
    """What a ``--unit`` spec may set beyond the address."""

    clear: tuple[int, int]
    start: int
    profile: Profile


def parse_unit(spec: str, clock: Callable[[], float], default: Profile) -> Unit:
    head, *pairs = spec.split(",")
    address = int(head)
    options: UnitOptions = {"profile": default}
    model: ModelMap = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key == "model":
            if value not in MODELS:
                raise ValueError(f"unknown model {value!r}; known: {sorted(MODELS)}")
            model = MODELS[value]
        elif key == "function":
            options["function"] = value
        elif key == "word_order":
            options["word_order"] = value
        elif key == "register":
            options["register"] = int(value, 0)
        elif key == "width":
            options["width"] = int(value, 0)
        elif key == "start":
            options["start"] = int(value, 0)
        elif key == "rollover":
            options["rollover"] = int(value, 0)
        elif key == "status_register":
            options["status_register"] = int(value, 0)
        elif key == "error_value":
            options["error_value"] = int(value, 0)
        elif key == "scale_mm":
            options["scale_mm"] = float(value)
        elif key == "clear":
            register, _, clear_value = value.partition(":")
            options["clear"] = (int(register, 0), int(clear_value, 0))
        elif key == "rain":
            options["profile"] = parse_profile(value)
        else:
            raise ValueError(f"unknown unit key {key!r} in {spec!r}")
    if not 1 <= address <= 247:
        raise ValueError(f"unit address must be 1..247, got {address}")
    merged: UnitOptions = {**model, **options}  # keys given win over the model's
    error = merged.get("error_value")
    if error is not None and error < 0:
        merged["error_value"] = error % (1 << merged.get("width", 16))
    return Unit(address, clock, **merged)


# ---------------------------------------------------------------- the bus


class Bus:
    """The slave side of the line: frames in, replies out, faults and wire time."""

    def __init__(self, units: dict[int, Unit], baud: int, wire_timing: bool) -> None:
        self.units = units
        self.char_s = BITS_PER_CHAR / baud
        self.wire_timing = wire_timing
        self.requests: dict[int, int] = {}
        self.write: Callable[[bytes], None] | None = None
        self._buf = b""
        self._last_rx = 0.0
        self._line_free = 0.0
        self._generation = 0

    def wire_s(self, chars: float) -> float:
        return chars * self.char_s if self.wire_timing else 0.0

    def received(self, data: bytes) -> None:
        now = time.monotonic()
        if self._buf and now - self._last_rx > max(0.05, 3.5 * self.char_s):
            self._buf = b""  # a silent gap ends any partial frame (RTU t3.5)
        self._last_rx = now
        self._buf += data
        while (size := request_length(self._buf)) is not None:
            if size == 0 or len(self._buf) > 256:
                self._buf = b""
                return
            if len(self._buf) < size:
                return
            request, self._buf = self._buf[:size], self._buf[size:]
            if crc16(request[:-2]) != request[-2:]:
                self._buf = b""
                return
            self.dispatch(request)

    def dispatch(self, request: bytes) -> None:
        address = request[0]
        self.requests[address] = self.requests.get(address, 0) + 1
        # Wire timing: the request goes on the line once it is free (3.5 characters
        # after the previous frame), the reply follows 3.5 characters after it, and
        # the line is free again 3.5 characters after that.
        now = time.monotonic()
        request_end = max(now, self._line_free) + self.wire_s(len(request))
        self._line_free = max(self._line_free, request_end + self.wire_s(3.5))
        unit = self.units.get(address)
        if unit is None:
            return
        fault = unit.fault.take()
        if fault.kind == "silence" or not unit.powered:
            return
        if fault.kind == "noise":
            reply = bytes(random.getrandbits(8) for _ in range(7))
        else:
            reply = frame(bytes([address]) + unit.handle(request[1:-2]))
            if fault.kind == "garbage":
                reply = reply[:-2] + bytes(b ^ 0xFF for b in reply[-2:])
            elif fault.kind == "torn":
                reply = reply[:3]
        due = request_end + self.wire_s(3.5) + self.wire_s(len(reply))
        if fault.kind in ("slow", "late"):
            due += fault.seconds
        if self.wire_timing:
            self._line_free = max(self._line_free, due + self.wire_s(3.5))
        unit.replies += 1
        generation = self._generation
        asyncio.get_running_loop().call_later(max(0.0, due - now), self._send, reply, generation)

    def _send(self, reply: bytes, generation: int) -> None:
        if self.write is not None and generation == self._generation:
            self.write(reply)

    def drop_pending(self) -> None:
        """Forget replies not yet sent (the master that asked has gone)."""
        self._generation += 1
        self._buf = b""


# ---------------------------------------------------------------- endpoints


class SocketLine(asyncio.Protocol):
    def __init__(self, bus: Bus, lines: list[SocketLine]) -> None:
        self.bus, self.lines = bus, lines
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        for old in list(self.lines):
            old.close()
        assert isinstance(transport, asyncio.Transport)  # a stream server's connection
        self.transport = transport
        self.lines.append(self)
        self.bus.drop_pending()
        self.bus.write = transport.write

    def data_received(self, data: bytes) -> None:
        self.bus.received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self in self.lines:
            self.lines.remove(self)
            self.bus.write = None

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        if self in self.lines:
            self.lines.remove(self)


def open_pty(bus: Bus) -> tuple[str, Callable[[], None]]:
    master, slave = os.openpty()
    tty.setraw(slave, termios.TCSANOW)
    os.set_blocking(master, False)
    loop = asyncio.get_running_loop()

    def readable() -> None:
        try:
            data = os.read(master, 1024)
        except OSError:
            return  # EIO while nobody has the slave open
        bus.received(data)

    def write(data: bytes) -> None:
        with contextlib.suppress(OSError):
            os.write(master, data)

    loop.add_reader(master, readable)
    bus.write = write

    def close() -> None:
        loop.remove_reader(master)
        os.close(master)
        os.close(slave)

    return os.ttyname(slave), close


# ---------------------------------------------------------------- control


class Control:
    def __init__(self, bus: Bus, clock: Callable[[], float], lines: list[SocketLine],
                 stop: asyncio.Event) -> None:
        self.bus, self.clock, self.lines, self.stop = bus, clock, lines, stop

    def targets(self, which: str) -> list[Unit]:
        if which == "*":
            return list(self.bus.units.values())
        unit = self.bus.units.get(int(which))
        if unit is None:
            raise ValueError(f"no unit {which}")
        return [unit]

    def command(self, line: str) -> str:
        words = line.split()
        if not words:
            return "ERR empty command"
        try:
            return "OK" + self._run(words[0].lower(), words[1:]).rstrip()
        except (ValueError, IndexError, OSError) as exc:
            return f"ERR {exc}"

    def _run(self, verb: str, args: list[str]) -> str:
        if verb == "rain":
            for unit in self.targets(args[0]):
                unit.added_mm += float(args[1])
        elif verb == "profile":
            for unit in self.targets(args[0]):
                unit.set_profile(parse_profile(args[1]))
        elif verb == "fault":
            kind = args[1]
            if kind not in ("none", "silence", "slow", "late", "garbage", "noise", "torn"):
                raise ValueError(f"unknown fault {kind}")
            timed = kind in ("slow", "late")
            seconds = float(args[2]) if timed else 0.0
            rest = args[3:] if timed else args[2:]
            every = 1
            if rest and rest[0] == "every":
                every, rest = int(rest[1]), rest[2:]
                if every < 1:
                    raise ValueError("every N needs N >= 1")
            count = int(rest[0]) if rest else None
            for unit in self.targets(args[0]):
                unit.fault = Fault(kind, seconds, count, every)
        elif verb == "reset":
            for unit in self.targets(args[0]):
                unit.set_raw(0)
        elif verb == "set":
            for unit in self.targets(args[0]):
                unit.set_raw(int(args[1], 0) % unit.modulus)
        elif verb == "wrap":
            margin = int(args[1]) if len(args) > 1 else 3
            for unit in self.targets(args[0]):
                unit.set_raw(unit.modulus - margin)
        elif verb == "sensor":
            for unit in self.targets(args[0]):
                if unit.status_register is None:
                    raise ValueError(f"unit {unit.address} has no status register")
                unit.status_word = 0 if args[1] == "ok" else int(args[2], 0) if len(args) > 2 \
                    else 0x0004
        elif verb == "error":
            for unit in self.targets(args[0]):
                if unit.error_value is None:
                    raise ValueError(f"unit {unit.address} has no error value")
                unit.error_on = args[1] == "on"
        elif verb == "power":
            for unit in self.targets(args[0]):
                unit.power(args[1] == "on", int(args[2], 0) if len(args) > 2 else 0)
        elif verb in ("di", "coil"):
            for unit in self.targets(args[0]):
                bits = unit.discrete if verb == "di" else unit.coils
                bits[int(args[1])] = args[2] == "1"
        elif verb == "status":
            address = int(args[0])
            requests = self.bus.requests.get(address, 0)
            found = self.bus.units.get(address)
            if found is None:
                return f" unit={address} absent requests={requests}"
            return " " + found.status(requests)
        elif verb == "disconnect":
            for line in list(self.lines):
                line.close()
        elif verb == "time":
            return f" sim_s={self.clock():.3f}"
        elif verb == "quit":
            self.stop.set()
        else:
            raise ValueError(f"unknown command {verb}")
        return ""


async def serve_control(control: Control) -> asyncio.Server:
    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                writer.write((control.command(line.decode(errors="replace")) + "\n").encode())
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(client, "127.0.0.1", 0)


def read_stdin(control: Control, loop: asyncio.AbstractEventLoop) -> None:
    """Commands on stdin; EOF stops the simulator (its parent has gone)."""
    for line in sys.stdin:
        reply = asyncio.run_coroutine_threadsafe(_command(control, line), loop)
        try:
            print(reply.result(), flush=True)
        except (RuntimeError, concurrent.futures.CancelledError):
            return
    loop.call_soon_threadsafe(control.stop.set)


async def _command(control: Control, line: str) -> str:
    return control.command(line)


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Simulated Modbus RTU rain gauges on one bus.")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--listen", metavar="socket://127.0.0.1:PORT")
    where.add_argument("--pty", action="store_true")
    p.add_argument("--baud", type=int, default=9600)
    p.add_argument("--parity", choices=["N", "E", "O"], default="N")
    p.add_argument("--wire-timing", action="store_true")
    p.add_argument("--time-scale", type=float, default=1.0)
    p.add_argument("--rain", default="none")
    p.add_argument("--unit", action="append", default=[])
    p.add_argument("--control", action="store_true", help="also listen for control on TCP")
    p.add_argument("--stdin", choices=["control", "ignore"], default="control")
    p.add_argument("--seed", type=int, default=None)
    args = p.parse_args(argv)
    if args.pty and args.parity != "N":
        p.error("a Linux pty refuses parity; use --listen socket://... for 8E1")
    if args.time_scale <= 0:
        p.error("--time-scale must be > 0")
    return args


async def run(args: argparse.Namespace) -> None:
    t0 = time.monotonic()

    time_scale: float = args.time_scale

    def sim_clock() -> float:
        return (time.monotonic() - t0) * time_scale

    random.seed(args.seed)
    default = parse_profile(args.rain)
    units = {}
    for spec in args.unit:
        unit = parse_unit(spec, sim_clock, default)
        units[unit.address] = unit
    bus = Bus(units, args.baud, args.wire_timing)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    lines: list[SocketLine] = []
    control = Control(bus, sim_clock, lines, stop)
    closers: list[Callable[[], None]] = []
    if args.pty:
        where, close_pty = open_pty(bus)
        closers.append(close_pty)
    else:
        if not args.listen.startswith("socket://"):
            raise SystemExit("--listen takes socket://127.0.0.1:PORT")
        host, _, port = args.listen[len("socket://"):].rpartition(":")
        server = await loop.create_server(lambda: SocketLine(bus, lines), host, int(port))
        bound = server.sockets[0].getsockname()
        where = f"socket://{bound[0]}:{bound[1]}"
        closers.append(server.close)
    ready = f"READY {where}"
    if args.control:
        control_server = await serve_control(control)
        ready += f" control=127.0.0.1:{control_server.sockets[0].getsockname()[1]}"
        closers.append(control_server.close)
    print(ready, flush=True)
    if args.stdin == "control":
        threading.Thread(target=read_stdin, args=(control, loop), daemon=True).start()
    await stop.wait()
    bus.drop_pending()
    for line in list(lines):
        line.close()
    for close in closers:
        close()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        asyncio.run(run(args))
    except (ValueError, OSError) as exc:
        raise SystemExit(f"modbus_gauge_sim: {exc}") from None


if __name__ == "__main__":
    main()
