#!/usr/bin/env python3
"""A simulated satellite terminal: 3GPP 27.007/27.005 AT commands on a pty.

An independent device: it imports nothing of StationEdge and does its own PDU
decoding and encoding, so a misunderstanding of the wire cannot hide on both sides.

Command line::

    python hw-sim/at_modem_sim.py [--personality iridium|generic] [--link PATH]
                                  [--control-port N] [--csq-delay S] [--smsc NUMBER]
                                  [--audio PATH] [--sim-capacity N] [--submit-delay S]

It prints ``CONTROL <tcp port>`` then ``READY <pty slave path> control=<tcp port>`` on
stdout and runs
until SIGTERM/SIGINT, or until its stdin reaches end of file when stdin is a pipe (a
parent that dies takes the simulator with it). ``--link PATH`` keeps a symlink to the
current pty at PATH, like a ``/dev/serial/by-id/…`` name: removed when the port
vanishes, pointed at the new pty when it comes back.

Personalities:

* ``iridium`` (9555 class): ``+CSQ`` answers 0-5 after ``--csq-delay`` seconds
  (blocking, as the real one does); ``+CSQF`` answers at once; ``+CIER=1,1,1`` turns on
  ``+CIEV: 0,<bars>`` and ``+CIEV: 1,<service>``; Iridium's zero-padded ``+CREG:000,001``;
  ``+CBC`` supported; PDU mode only; command lines over 128 characters are an error.
* ``generic`` (27.007, Tiantong-like): ``+CSQ: <rssi>,99``; no ``+CSQF``/``+CIER``;
  no ``+CBC``; ``+CREG: 0,1``.

Identification and state (both): ``+CGMI``, ``+CGMM``, ``+CGMR``, ``+CGSN`` (IMEI),
``+CIMI`` (the SIM's IMSI), ``+CSCA?`` (the SMS centre, ``--smsc``), ``+CPMS?`` (SIM storage,
``--sim-capacity`` places, 30 by default).

Both start as after power-on: echo on, ``+CMEE=0``, no new-message indications.
``--submit-delay S`` makes every ``+CMGS`` take that long to answer (the satellite link).
``ATZ`` and ``AT+CFUN=1,1`` bring those defaults back (echo on again).

Voice calls: ``ring`` makes an incoming call (``RING``, ``+CLIP``); ``ATA`` answers it
(``OK``, the call is active); ``ATD<number>;`` places one (``OK``, dialing until the
control channel says ``remote_answer``); ``ATH``/``AT+CHUP`` end it; ``AT+CLCC`` lists
it (27.007: ``+CLCC: 1,<dir>,<stat>,0,0,"<number>",<type>``). The call's audio, what
the terminal would put on its sound card, is served on the unix socket ``--audio PATH``
as signed 16-bit little-endian mono PCM at 8000 Hz: a client that connects while a
call is active gets the audio queued for the call (``dtmf``, ``call_audio``), written
as fast as the socket takes it, and nothing else; what the client writes is what the
terminal sends to the far end (kept for ``uplink``). Audio queued before a client
connects waits for it; a call's end drops what is still queued.

Control channel: TCP on 127.0.0.1, one JSON object per line in, one per line out
(``{"ok": true, …}`` or ``{"ok": false, "error": "…"}``). Commands (``cmd``):

* ``deliver_sms`` ``from``, ``text``, optional ``order`` (1-based part numbers in the
  order to deliver, e.g. ``[3, 1, 2]``; repeats are duplicates), ``ref`` (0-255, or
  0-65535 with ``ref_bits: 16``): store the parts and announce each with ``+CMTI`` (or
  push ``+CMT`` when ``+CNMI`` mt=2). Replies ``parts`` and ``indices``. The SIM holds
  ``--sim-capacity`` messages (``+CPMS?``); a part that finds it full is not stored
  (the network keeps it) and has no index.
* ``urc`` ``text``: the terminal volunteers that line (a notice the station does not know).
* ``hardware_failure`` optional ``subsys`` (3), ``error`` (1): the Iridium unsolicited
  ``HARDWARE FAILURE: <subsys>,<error>``; nothing else changes until a reset.
* ``smsc`` ``number``: the SMS centre ``+CSCA?`` shows (``""``: none set).
* ``delivery`` ``status`` (``delivered``, ``pending``, ``failed`` or ``none``), optional
  ``delay`` (seconds, 0): what the status report of each part sent from now on says, when
  the part asked for one (TP-SRR) and ``+CNMI`` ds is 1 (pushed as ``+CDS``) or 2
  (stored, announced by ``+CDSI``); ``none``: no report ever comes. Default delivered.
* ``ring`` ``number``, optional ``times``: ``RING`` plus ``+CLIP`` when enabled.
* ``hangup``: the far end hangs up: ``NO CARRIER``, the call is over.
* ``remote_answer``: the far end of a call we placed answers (``+CLCC`` stat 0).
* ``dtmf`` ``digits``, optional ``tone_ms`` (100), ``gap_ms`` (100), ``level_db`` (-10
  dBFS per tone), ``twist_db`` (0: high tone this much louder), ``deviation`` (0.0:
  relative frequency error): the caller keys digits (Q.23 tone pairs) into the call.
* ``call_audio`` ``tone_hz`` and ``seconds`` (optional ``level_db``, -10), or ``wav`` (a
  path to a 16-bit mono 8000 Hz WAV file), or ``silence`` seconds: the caller speaks.
  Both reply ``written: true`` once a client has taken the audio (``false`` if none
  did within ``timeout`` seconds, default 10: the audio stays queued for the call).
* ``uplink`` ``wav``: write what the station sent into the call's audio since the last
  ``uplink`` (s16le 8000 Hz, what the far end heard) to that WAV path; replies ``seconds``.
* ``call``: the current call (``null``, or ``direction``, ``number``, ``state``).
* ``signal`` ``bars`` (0-5): 0 also drops registration (stat 2, searching); >0 registers.
* ``registration`` ``stat``: set the ``+CREG`` stat alone.
* ``outbox``: SMS sent by the station, reassembled per recipient and reference:
  ``messages`` = [{``to``, ``text``, ``parts``, ``received_parts``, ``complete``,
  ``encoding``, ``references``, ``parts_decode_alone``}]; ``clear_outbox`` empties it.
* ``status``: ``path``, ``personality``, ``echo``, ``bars``, ``registration``,
  ``stored`` (indices on the SIM), ``faults``, ``commands`` (every line received).
* ``wait_command`` ``match``, ``count``: reply once ``count`` received lines start with
  ``match`` (counting from start-up); lets a test wait for the terminal instead of sleeping.
* ``fault`` ``name`` plus options; ``on: false`` clears it:

  - ``urc_in_response``: a ``+CIEV`` URC between the information lines and the final;
  - ``split``: every output is written in 1-3 byte pieces, 1 ms apart;
  - ``late_final``: the final result of the next command is held until ``release``
    (or ``delay`` seconds); ``wait_held`` replies once one is held;
  - ``echo``: echo back on (as after an unannounced reboot);
  - ``cms_error`` ``code`` ``count`` ``skip``: after ``skip`` (default 0) good ones, the
    next ``count`` ``+CMGS`` fail with that code; ``every: true``: all of them, until
    cleared;
  - ``wedge``: accept bytes, never answer (until cleared);
  - ``no_sim``: no SIM card: ``+CIMI`` and ``+CPMS?`` answer ``+CME ERROR: 10`` /
    ``+CMS ERROR: 310`` (with ``+CMEE=1``; plain ``ERROR`` otherwise);
  - ``unanswered_cmgs`` ``count`` (1), ``skip`` (0): after ``skip`` answered ones, the
    next ``count`` SMS bodies are taken and never answered (no ``+CMGS``, no final,
    nothing sent); every other command is answered;
  - ``lost_cmti`` ``count`` (1): the next ``count`` messages delivered are stored but
    their ``+CMTI`` is lost (only a sweep of the store finds them);
  - ``csq_error``: ``+CSQ``/``+CSQF`` answer an error (``+CME ERROR: 30``, no network
    service), as terminals do while unregistered;
  - ``torn_cmt`` ``by`` and ``count`` (1): the next ``count`` messages delivered are
    pushed as ``+CMT`` (whatever ``+CNMI`` says) *and* kept in storage (unannounced), the
    push torn: ``by: "urc"`` puts ``+CIEV`` between the header and the PDU; ``"cmgs"``
    waits for the station's next SMS and puts that send's ``+CMGS:`` answer between
    them; ``"prompt"`` waits for the next ``AT+CMGS=`` and answers it with the header
    and then the prompt (the PDU never comes); ``"none"`` pushes it whole;
* ``release``: let a held final result go.
* ``vanish`` optional ``for`` (seconds): close the pty (the station sees the port go),
  and recreate it after ``for`` seconds or at ``appear``; ``appear`` replies the new path.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import struct
import tty
import wave
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sim_process import serve_json_lines, stop_event

# --- PDU: this device's own reading of 3GPP 23.040 / 23.038 -------------------

ALPHABET = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
EXTENDED = dict(zip("\f^{}\\[~]|€", (10, 20, 40, 41, 47, 60, 61, 62, 64, 101), strict=True))
EXTENDED_BACK = {v: k for k, v in EXTENDED.items()}


def to_septets(text: str) -> list[int] | None:
    out: list[int] = []
    for ch in text:
        if ch in EXTENDED:
            out += [27, EXTENDED[ch]]
        elif ch in ALPHABET and ch != "\x1b":
            out.append(ALPHABET.index(ch))
        else:
            return None
    return out


def from_septets(values: list[int]) -> str:
    text, i = [], 0
    while i < len(values):
        if values[i] == 27 and i + 1 < len(values):
            text.append(EXTENDED_BACK.get(values[i + 1], "?"))
            i += 2
        else:
            text.append(ALPHABET[values[i]] if values[i] != 27 else "?")
            i += 1
    return "".join(text)


def bits_of(data: bytes) -> str:
    """The octets as one bit string, least significant bit of the first octet first."""
    return "".join(format(b, "08b")[::-1] for b in data)


def octets_of(bits: str) -> bytes:
    bits += "0" * (-len(bits) % 8)
    return bytes(int(bits[i : i + 8][::-1], 2) for i in range(0, len(bits), 8))


def swap_digits(digits: str) -> bytes:
    digits += "F" * (len(digits) % 2)
    return bytes.fromhex("".join(digits[i + 1] + digits[i] for i in range(0, len(digits), 2)))


def read_digits(data: bytes, count: int) -> str:
    swapped = "".join(f"{b:02X}"[::-1] for b in data)
    return swapped[:count]


def parse_submit(tpdu: bytes) -> dict[str, Any]:
    """An SMS-SUBMIT TPDU as a dict: to, payload, encoding, concat, text."""
    first, pos = tpdu[0], 2  # first octet, message reference
    if first & 0x03 != 0x01:
        raise ValueError("not SMS-SUBMIT")
    ndigits, toa = tpdu[pos], tpdu[pos + 1]
    to = read_digits(tpdu[pos + 2 : pos + 2 + (ndigits + 1) // 2], ndigits)
    to = ("+" if toa & 0x70 == 0x10 else "") + to
    pos += 2 + (ndigits + 1) // 2
    dcs = tpdu[pos + 1]
    pos += 2
    pos += {0: 0, 2: 1}.get((first >> 3) & 3, 7)  # validity period
    udl, ud = tpdu[pos], tpdu[pos + 1 :]
    header = b""
    if first & 0x40:
        header = ud[: ud[0] + 1]
    concat = None
    i = 1
    while i + 1 < len(header):
        iei, length = header[i], header[i + 1]
        body = header[i + 2 : i + 2 + length]
        if iei == 0 and length == 3:
            concat = {"ref": body[0], "total": body[1], "seq": body[2], "bits": 8}
        elif iei == 8 and length == 4:
            concat = {"ref": body[0] << 8 | body[1], "total": body[2], "seq": body[3], "bits": 16}
        i += 2 + length
    ucs2 = (dcs & 0x0C) == 0x08
    if ucs2:
        payload = ud[len(header) : udl]
        text = payload.decode("utf-16-be", errors="surrogatepass")
    else:
        skip = -(-len(header) * 8 // 7)  # header plus fill, in septets
        bits = bits_of(ud)[skip * 7 : udl * 7]
        septets = [int(bits[j : j + 7][::-1], 2) for j in range(0, len(bits) - 6, 7)]
        payload = bytes(septets)
        text = from_septets(septets)
    if len(ud) < (udl if ucs2 else -(-udl * 7 // 8)):
        raise ValueError("user data shorter than UDL")
    return {"to": to, "payload": payload, "ucs2": ucs2, "concat": concat, "text": text,
            "srr": bool(first & 0x20)}


def build_deliver(
    sender: str, payload: bytes, ucs2: bool, concat: tuple[int, int, int, int] | None,
    smsc: str, when: datetime,
) -> str:
    """One SMS-DELIVER PDU with the SMSC octets in front (as +CMGR shows it)."""
    digits = smsc.lstrip("+")
    sc = bytes((0x91,)) + swap_digits(digits)
    out = bytes((len(sc),)) + sc
    header = b""
    if concat:
        ref, total, seq, ref_bits = concat
        ie = bytes((8, 4, ref >> 8, ref & 0xFF)) if ref_bits == 16 else bytes((0, 3, ref))
        ie += bytes((total, seq))
        header = bytes((len(ie),)) + ie
    out += bytes((0x04 | (0x40 if header else 0),))
    number = sender.lstrip("+")
    out += bytes((len(number), 0x91 if sender.startswith("+") else 0x81)) + swap_digits(number)
    out += bytes((0, 0x08 if ucs2 else 0))
    stamp = when.strftime("%y%m%d%H%M%S") + "32"  # +08:00 is 32 quarter-hours
    out += swap_digits(stamp)
    if ucs2:
        out += bytes((len(header) + len(payload),)) + header + payload
    else:
        fill = -len(header) * 8 % 7
        bits = bits_of(header) + "0" * fill + "".join(format(s, "07b")[::-1] for s in payload)
        out += bytes((len(bits) // 7,)) + octets_of(bits)
    return out.hex().upper()


def build_status_report(recipient: str, mr: int, status: int, smsc: str,
                        when: datetime) -> str:
    """An SMS-STATUS-REPORT PDU (23.040 9.2.2.3) with the SMSC octets in front."""
    digits = smsc.lstrip("+")
    sc = bytes((0x91,)) + swap_digits(digits)
    number = recipient.lstrip("+")
    stamp = swap_digits(when.strftime("%y%m%d%H%M%S") + "32")
    tpdu = (bytes((0x06, mr, len(number), 0x91 if recipient.startswith("+") else 0x81))
            + swap_digits(number) + stamp + stamp + bytes((status,)))
    return (bytes((len(sc),)) + sc + tpdu).hex().upper()


DELIVERY_STATUS = {"delivered": 0x00, "pending": 0x20, "failed": 0x41}


def tpdu_length(pdu_hex: str) -> int:
    """What +CMGR/+CMGL report as <length>: the octets after the SMSC field."""
    return len(pdu_hex) // 2 - 1 - int(pdu_hex[:2], 16)


def split_for_delivery(text: str, ref_bits: int) -> tuple[bool, list[bytes]]:
    septets = to_septets(text)
    if septets is not None:
        size, units, width = (160 if len(septets) <= 160 else 153 - (ref_bits == 16)), septets, 1
        data = bytes(units)
    else:
        data = text.encode("utf-16-be")
        units_n = len(data) // 2
        size, width = (70 if units_n <= 70 else 67 - (ref_bits == 16)), 2
    n = len(data) // width
    parts, start = [], 0
    while start < n:
        end = min(start + size, n)
        if end < n and width == 2 and 0xD8 <= data[(end - 1) * 2] <= 0xDB:
            end -= 1
        if end < n and width == 1 and data[end - 1] == 27:
            end -= 1
        parts.append(data[start * width : end * width])
        start = end
    return septets is None, parts


# --- call audio ----------------------------------------------------------------

AUDIO_RATE = 8000
DTMF_ROWS = (697.0, 770.0, 852.0, 941.0)
DTMF_COLUMNS = (1209.0, 1336.0, 1477.0, 1633.0)
DTMF_KEYS = ("123A", "456B", "789C", "*0#D")


def tone_pcm(freqs: list[tuple[float, float]], seconds: float) -> bytes:
    """A sum of sines, each (Hz, dBFS), as s16le samples at AUDIO_RATE."""
    count = round(seconds * AUDIO_RATE)
    amps = [(2 * math.pi * f / AUDIO_RATE, 10 ** (db / 20)) for f, db in freqs]
    samples = (
        max(-32768, min(32767, round(32767 * sum(a * math.sin(w * n) for w, a in amps))))
        for n in range(count)
    )
    return struct.pack(f"<{count}h", *samples)


def dtmf_pcm(digits: str, tone_ms: float, gap_ms: float, level_db: float, twist_db: float,
             deviation: float) -> bytes:
    out = b""
    for key in digits:
        row = next((i for i, keys in enumerate(DTMF_KEYS) if key in keys), None)
        if row is None:
            raise ValueError(f"not a DTMF key: {key!r}")
        low = DTMF_ROWS[row] * (1 + deviation)
        high = DTMF_COLUMNS[DTMF_KEYS[row].index(key)] * (1 + deviation)
        out += tone_pcm([(low, level_db), (high, level_db + twist_db)], tone_ms / 1000)
        out += tone_pcm([], gap_ms / 1000)
    return out


def wav_pcm(path: str) -> bytes:
    with wave.open(path, "rb") as wav:
        if (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) != (1, 2, AUDIO_RATE):
            raise ValueError("call audio WAV must be mono, 16-bit, 8000 Hz")
        return wav.readframes(wav.getnframes())


class CallAudio:
    """The active call's audio, served to whoever listens on the unix socket."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.clients: list[asyncio.StreamWriter] = []
        self.uplink = bytearray()  # what the station said into the call (the far end hears it)
        self.queue: list[tuple[bytes, asyncio.Future[bool]]] = []
        self._changed = asyncio.Event()
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        if self.path is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._server = await asyncio.start_unix_server(self._client, path=str(self.path))

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.clients.append(writer)
        self._changed.set()
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(4096):  # EOF when the station hangs up
                self.uplink += data
        with contextlib.suppress(ValueError):
            self.clients.remove(writer)
        writer.close()

    def enqueue(self, pcm: bytes) -> asyncio.Future[bool]:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.queue.append((pcm, future))
        self._changed.set()
        return future

    def drop(self) -> None:
        """The call ended: queued audio goes nowhere; listeners are hung up on."""
        for _, future in self.queue:
            if not future.done():
                future.set_result(False)
        self.queue.clear()
        for writer in self.clients:
            writer.close()
        self.clients.clear()

    async def serve(self) -> None:
        while True:
            self._changed.clear()
            if self.queue and self.clients:
                pcm, future = self.queue.pop(0)
                for writer in list(self.clients):
                    with contextlib.suppress(ConnectionError, RuntimeError):
                        writer.write(pcm)
                        await writer.drain()
                if not future.done():
                    future.set_result(True)
                continue
            await self._changed.wait()

    def close(self) -> None:
        self.drop()
        if self._server is not None:
            self._server.close()
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


# --- the terminal --------------------------------------------------------------

BJT = timezone(timedelta(hours=8))


class Terminal:
    def __init__(self, personality: str, link: Path | None, csq_delay: float, smsc: str,
                 audio: Path | None = None, capacity: int = 30,
                 submit_delay: float = 0.0) -> None:
        self.personality = personality
        self.capacity = capacity
        self.submit_delay = submit_delay
        self.delivery: dict[str, Any] = {"status": "delivered", "delay": 0.0}
        self._torn_waiting: list[tuple[str, str]] = []  # (by, pdu) waiting for a send
        self._later: set[asyncio.Task[None]] = set()
        self.audio = CallAudio(audio)
        self.call: dict[str, Any] | None = None  # direction, number, state
        self.link = link
        self.csq_delay = csq_delay
        self.smsc = smsc
        self.bars = 4
        self.registration = 1
        self.storage: dict[int, list[Any]] = {}  # index -> [stat, pdu hex]
        self.outbox: list[dict[str, Any]] = []
        self.mr = random.randrange(256)
        self.commands: list[str] = []
        self.faults: dict[str, Any] = {}
        self.power_on()
        self.master = self.slave = -1
        self.path = ""
        self._in = b""
        self._body: bytes | None = None  # collecting a PDU after the prompt
        self._work: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._out_lock = asyncio.Lock()
        self._pending_out = bytearray()
        self._held: asyncio.Event | None = None
        self._held_waiters: list[asyncio.Future[None]] = []
        self._command_waiters: list[tuple[str, int, asyncio.Future[None]]] = []
        self._appear_task: asyncio.Task[None] | None = None

    def power_on(self) -> None:
        self.echo = True
        self.cmee = 0
        self.cnmi_mt = 0
        self.cnmi_ds = 0
        self.clip = False
        self.cier = False

    # --- the pty ---------------------------------------------------------------

    def appear(self) -> None:
        if self.master >= 0:
            return
        self.master, self.slave = os.openpty()  # the slave stays open: no HUP between users
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        if self.link:
            tmp = self.link.with_name(self.link.name + ".new")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            tmp.symlink_to(self.path)
            tmp.replace(self.link)
        asyncio.get_running_loop().add_reader(self.master, self._readable)

    def vanish(self) -> None:
        if self.master < 0:
            return
        loop = asyncio.get_running_loop()
        loop.remove_reader(self.master)
        loop.remove_writer(self.master)
        os.close(self.master)
        os.close(self.slave)
        self.master = self.slave = -1
        self._pending_out.clear()
        self._in, self._body = b"", None
        while not self._work.empty():
            self._work.get_nowait()
        if self.link:
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()

    def _readable(self) -> None:
        try:
            data = os.read(self.master, 4096)
        except OSError:
            return
        self._in += data
        while self._in:
            if self._body is not None:
                ends = (self._in.find(b"\x1a"), self._in.find(b"\x1b"))
                cut = min((i for i in ends if i >= 0), default=-1)
                if cut < 0:
                    return
                body, end, self._in = self._in[:cut], self._in[cut : cut + 1], self._in[cut + 1 :]
                self._body = None
                if self.echo:
                    self.write_now(body + end)
                kind = "body" if end == b"\x1a" else "cancel"
                self._work.put_nowait((kind, body.decode(errors="replace").strip()))
                continue
            cut = self._in.find(b"\r")
            if cut < 0:
                return
            line, self._in = self._in[:cut].decode(errors="replace").strip(), self._in[cut + 1 :]
            if not line:
                continue
            self.commands.append(line)
            for match, count, future in list(self._command_waiters):
                if self._count(match) >= count and not future.done():
                    future.set_result(None)
            if "wedge" in self.faults:
                continue
            if self.echo:
                self.write_now(line.encode() + b"\r")
            if line.upper().startswith("AT+CMGS="):
                self._body = b""
            self._work.put_nowait(("line", line))

    def _count(self, match: str) -> int:
        return sum(1 for c in self.commands if c.upper().startswith(match.upper()))

    def write_now(self, data: bytes) -> None:
        if self.master < 0:
            return
        if self._pending_out:
            self._pending_out += data
            return
        try:
            sent = os.write(self.master, data)
        except BlockingIOError:
            sent = 0
        except OSError:
            return
        if sent < len(data):
            self._pending_out += data[sent:]
            asyncio.get_running_loop().add_writer(self.master, self._flush)

    def _flush(self) -> None:
        try:
            sent = os.write(self.master, bytes(self._pending_out))
        except BlockingIOError:
            return
        except OSError:
            sent = len(self._pending_out)
        del self._pending_out[:sent]
        if not self._pending_out:
            asyncio.get_running_loop().remove_writer(self.master)

    async def write(self, data: bytes) -> None:
        async with self._out_lock:
            if "split" not in self.faults:
                self.write_now(data)
                return
            i = 0
            while i < len(data):
                n = random.randint(1, 3)
                self.write_now(data[i : i + n])
                i += n
                await asyncio.sleep(0.001)

    async def urc(self, text: str) -> None:
        await self.write(b"\r\n" + text.encode() + b"\r\n")

    # --- command processing ----------------------------------------------------

    async def serve(self) -> None:
        while True:
            kind, text = await self._work.get()
            if "wedge" in self.faults:
                continue
            if kind == "cancel":
                continue
            if kind == "body":
                await self.answer_body(text)
                continue
            final: str | None
            lines: list[str]
            if self.personality == "iridium" and len(text) > 128:
                lines, final = [], "ERROR"
            else:
                lines, final = await self.execute(text)
            if final is None and (torn := self._take_torn("prompt")) is not None:
                await self.write(f"\r\n+CMT: ,{tpdu_length(torn)}\r\n".encode())
            await self.respond(lines, final)

    async def answer_body(self, body: str) -> None:
        """The PDU after the prompt: sent (after the link's delay), refused, or never
        answered; a +CMT waiting to be torn by this answer comes out around it."""
        fault = self.faults.get("unanswered_cmgs")
        if fault and fault.get("skip", 0) > 0:
            fault["skip"] -= 1
        elif self._use("unanswered_cmgs") is not None:
            return
        if self.submit_delay:
            await asyncio.sleep(self.submit_delay)
        lines, final = self.submit(body)
        torn = self._take_torn("cmgs") if lines else None
        if torn is not None:
            await self.write(f"\r\n+CMT: ,{tpdu_length(torn)}\r\n\r\n{lines[0]}\r\n"
                             f"{torn}\r\n".encode())
            lines = []
        await self.respond(lines, final)

    def _use(self, name: str) -> dict[str, Any] | None:
        """A fault's options if it is on, counting one use (``every``: it stays on)."""
        fault = self.faults.get(name)
        if fault is not None and not fault.get("every"):
            fault["count"] = int(fault.get("count", 1)) - 1
            if fault["count"] <= 0:
                del self.faults[name]
        return fault

    def _take_torn(self, by: str) -> str | None:
        for i, (how, pdu) in enumerate(self._torn_waiting):
            if how == by:
                del self._torn_waiting[i]
                return pdu
        return None

    def store(self, pdu: str) -> int | None:
        """Keep a received PDU on the SIM; None when it is full."""
        if len(self.storage) >= self.capacity:
            return None
        index = next(i for i in range(1, self.capacity + 2) if i not in self.storage)
        self.storage[index] = [0, pdu]
        return index

    async def respond(self, lines: list[str], final: str | None) -> None:
        if final is None:  # the prompt
            await self.write(b"\r\n> ")
            return
        body = b"".join(b"\r\n" + line.encode() + b"\r\n" for line in lines)
        if "urc_in_response" in self.faults:
            body += f"\r\n+CIEV: 0,{self.bars}\r\n".encode()
        await self.write(body)
        late = self.faults.pop("late_final", None)
        if late is not None:
            self._held = asyncio.Event()
            for future in self._held_waiters:
                if not future.done():
                    future.set_result(None)
            self._held_waiters.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._held.wait(), late.get("delay"))
            self._held = None
        await self.write(b"\r\n" + final.encode() + b"\r\n")

    def error(self, cms: int | None = None, cme: int = 4) -> tuple[list[str], str]:
        if self.cmee == 0:
            return [], "ERROR"
        return [], f"+CMS ERROR: {cms}" if cms is not None else f"+CME ERROR: {cme}"

    async def execute(self, line: str) -> tuple[list[str], str | None]:
        cmd = line.upper()
        if not cmd.startswith("AT"):
            return [], "ERROR"
        cmd = cmd[2:]
        iridium = self.personality == "iridium"
        if cmd in ("", "E0", "E1"):
            if cmd.startswith("E"):
                self.echo = cmd == "E1"
            return [], "OK"
        if cmd == "A":
            if self.call is None or self.call["state"] != "incoming":
                return [], "NO CARRIER"
            self.call["state"] = "active"
            return [], "OK"
        if cmd in ("H", "H0", "+CHUP"):
            self.end_call()
            return [], "OK"
        if cmd.startswith("D"):
            if self.call is not None:
                return [], "BUSY"
            if self.registration not in (1, 5):
                return [], "NO CARRIER"
            self.call = {"direction": "out", "number": line[3:].rstrip(";"), "state": "dialing"}
            return [], "OK"
        if cmd == "+CLCC":
            if self.call is None:
                return [], "OK"
            c = self.call
            stat = {"active": 0, "dialing": 2, "incoming": 4}[c["state"]]
            kind = 145 if c["number"].startswith("+") else 129
            direction = 1 if c["direction"] == "in" else 0
            return [f'+CLCC: 1,{direction},{stat},0,0,"{c["number"]}",{kind}'], "OK"
        if cmd in ("Z", "+CFUN=1,1"):
            self.power_on()
            return [], "OK"
        if cmd == "+CMEE?":
            return [f"+CMEE: {self.cmee}"], "OK"
        if cmd.startswith("+CMEE="):
            self.cmee = int(cmd[6:] or 0)
            return [], "OK"
        if cmd == "+CMGF=0":
            return [], "OK"
        if cmd == "+CMGF=1":
            return self.error() if iridium else ([], "OK")
        if cmd.startswith("+CNMI="):
            fields = cmd[6:].split(",")
            self.cnmi_mt = int(fields[1]) if len(fields) > 1 and fields[1] else 0
            self.cnmi_ds = int(fields[3]) if len(fields) > 3 and fields[3] else 0
            return [], "OK"
        if cmd in ("+CSQ", "+CSQF") and "csq_error" in self.faults:
            return self.error(cme=30)
        if cmd.startswith("+CLIP="):
            self.clip = cmd.endswith("1")
            return [], "OK"
        if cmd == "+CREG?":
            return ([f"+CREG:000,{self.registration:03d}"] if iridium
                    else [f"+CREG: 0,{self.registration}"]), "OK"
        if cmd == "+CSQ":
            if iridium:
                await asyncio.sleep(self.csq_delay)
                return [f"+CSQ:{self.bars}"], "OK"
            rssi = {0: 99, 1: 5, 2: 11, 3: 17, 4: 23, 5: 31}[self.bars]
            return [f"+CSQ: {rssi},99"], "OK"
        if iridium and cmd == "+CSQF":
            return [f"+CSQF:{self.bars}"], "OK"
        if iridium and cmd.startswith("+CIER="):
            self.cier = cmd[6:].startswith("1")
            return [], "OK"
        if iridium and cmd == "+CBC":
            return ["+CBC: 0,80"], "OK"
        if cmd == "+CGMI":
            return ["Iridium" if iridium else "StationEdge simulated terminal"], "OK"
        if cmd == "+CGSN":
            return ["300234010753370"], "OK"
        if cmd == "+CGMM":
            return ["9555 Satellite Handset" if iridium else "TT-S01 simulated"], "OK"
        if cmd == "+CGMR":
            return ["HT11002" if iridium else "V1.0.0-sim"], "OK"
        if cmd == "+CIMI":
            if "no_sim" in self.faults:
                return self.error(cme=10)
            return ["901031234567890" if iridium else "460040000000001"], "OK"
        if cmd == "+CSCA?":
            return [f'+CSCA: "{self.smsc}",{145 if self.smsc.startswith("+") else 129}'], "OK"
        if cmd == "+CPMS?" or cmd.startswith("+CPMS="):
            if "no_sim" in self.faults:
                return self.error(cms=310)
            used = len(self.storage)
            return [f'+CPMS: {",".join([f""""SM",{used},{self.capacity}"""] * 3)}'], "OK"
        if cmd.startswith("+CMGS="):
            return [], None
        if cmd.startswith("+CMGR="):
            index = int(cmd[6:])
            if index not in self.storage:
                return self.error(cms=321)
            entry = self.storage[index]
            lines = [f"+CMGR: {entry[0]},,{tpdu_length(entry[1])}", entry[1]]
            entry[0] = 1
            return lines, "OK"
        if cmd.startswith("+CMGD="):
            fields = cmd[6:].split(",")
            if len(fields) > 1 and fields[1] == "4":
                self.storage.clear()
            else:
                self.storage.pop(int(fields[0]), None)
            return [], "OK"
        if cmd.startswith("+CMGL="):
            wanted = int(cmd[6:] or 4)
            lines = []
            for index, entry in sorted(self.storage.items()):
                if wanted == 4 or entry[0] == wanted:
                    lines += [f"+CMGL: {index},{entry[0]},,{tpdu_length(entry[1])}", entry[1]]
                    entry[0] = 1
            return lines, "OK"
        return self.error()

    def submit(self, body: str) -> tuple[list[str], str]:
        sends = (c for c in reversed(self.commands) if c.upper().startswith("AT+CMGS="))
        declared = next(sends, "")
        try:
            pdu = bytes.fromhex(body)
            tpdu = pdu[1 + pdu[0] :]
            if len(tpdu) != int(declared[8:]):
                return self.error(cms=304)
            message = parse_submit(tpdu)
        except (ValueError, IndexError):
            return self.error(cms=304)
        fault = self.faults.get("cms_error")
        if fault and fault.get("skip", 0) > 0:
            fault["skip"] -= 1
        elif fault:
            self._use("cms_error")
            return self.error(cms=int(fault.get("code", 500)))
        if self.registration not in (1, 5):
            return self.error(cms=500)
        self.mr = (self.mr + 1) % 256
        message["mr"] = self.mr
        self.outbox.append(message)
        if message["srr"] and self.cnmi_ds in (1, 2) and self.delivery["status"] != "none":
            task = asyncio.get_running_loop().create_task(self.report_later(message))
            self._later.add(task)
            task.add_done_callback(self._later.discard)
        return [f"+CMGS: {self.mr}"], "OK"

    async def report_later(self, message: dict[str, Any]) -> None:
        """The SMS centre's status report on a part sent: pushed (ds=1) or stored (ds=2)."""
        await asyncio.sleep(float(self.delivery.get("delay", 0.0)))
        status = DELIVERY_STATUS[self.delivery["status"]]
        pdu = build_status_report(message["to"], message["mr"], status, self.smsc,
                                  datetime.now(BJT))
        if self.cnmi_ds == 1:
            await self.urc(f"+CDS: {tpdu_length(pdu)}\r\n{pdu}")
        elif (index := self.store(pdu)) is not None:
            await self.urc(f'+CDSI: "SM",{index}')

    # --- control -----------------------------------------------------------------

    async def deliver(self, sender: str, text: str, order: list[int] | None,
                      ref: int, ref_bits: int) -> dict[str, Any]:
        ucs2, payloads = split_for_delivery(text, ref_bits)
        total = len(payloads)
        indices: list[int] = []
        torn = self._use("torn_cmt")
        lost = self._use("lost_cmti")
        for seq in order or range(1, total + 1):
            concat = (ref, total, seq, ref_bits) if total > 1 else None
            now = datetime.now(BJT)
            pdu = build_deliver(sender, payloads[seq - 1], ucs2, concat, self.smsc, now)
            if torn is not None:
                await self.push_torn(pdu, str(torn.get("by", "urc")), indices)
                continue
            if self.cnmi_mt == 2:
                await self.urc(f"+CMT: ,{tpdu_length(pdu)}\r\n{pdu}")
                continue
            index = self.store(pdu)
            if index is None:
                continue
            indices.append(index)
            if self.cnmi_mt == 1 and lost is None:
                await self.urc(f'+CMTI: "SM",{index}')
        return {"parts": total, "indices": indices}

    async def push_torn(self, pdu: str, by: str, indices: list[int]) -> None:
        """Keep a copy in storage (unannounced) and push the +CMT, torn as asked."""
        index = self.store(pdu)
        if index is not None:
            indices.append(index)
        header = f"+CMT: ,{tpdu_length(pdu)}"
        if by == "urc":
            await self.write(f"\r\n{header}\r\n\r\n+CIEV: 0,{self.bars}\r\n{pdu}\r\n".encode())
        elif by == "none":
            await self.urc(f"{header}\r\n{pdu}")
        else:  # "cmgs" or "prompt": torn by the station's next send
            self._torn_waiting.append((by, pdu))

    async def set_signal(self, bars: int) -> None:
        self.bars = bars
        registration = 1 if bars else 2
        changed = (self.registration in (1, 5)) != (registration == 1)
        self.registration = registration
        if self.cier:
            await self.urc(f"+CIEV: 0,{bars}")
            if changed:
                await self.urc(f"+CIEV: 1,{1 if bars else 0}")

    def outbox_messages(self) -> list[dict[str, Any]]:
        groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for i, m in enumerate(self.outbox):
            c = m["concat"]
            key = (m["to"], c["ref"], c["total"], c["bits"]) if c else (m["to"], "single", i)
            groups.setdefault(key, []).append(m)
        out = []
        for parts in groups.values():
            concat = parts[0]["concat"]
            total = concat["total"] if concat else 1
            parts = sorted(parts, key=lambda m: m["concat"]["seq"] if m["concat"] else 0)
            payload = b"".join(p["payload"] for p in parts)
            if parts[0]["ucs2"]:
                text = payload.decode("utf-16-be", errors="replace")
                alone = all(_decodes_alone(p["payload"]) for p in parts)
            else:
                text = from_septets(list(payload))
                alone = all(not p["payload"].endswith(b"\x1b") for p in parts)
            out.append({
                "to": parts[0]["to"], "text": text, "parts": total,
                "received_parts": len(parts), "complete": len(parts) == total,
                "encoding": "ucs2" if parts[0]["ucs2"] else "gsm7",
                "references": [p["mr"] for p in parts], "parts_decode_alone": alone,
            })
        return out

    async def control(self, request: dict[str, Any]) -> dict[str, Any]:
        cmd = request.get("cmd")
        if cmd == "deliver_sms":
            result = await self.deliver(
                request["from"], request["text"], request.get("order"),
                int(request.get("ref", random.randrange(256))), int(request.get("ref_bits", 8)),
            )
            return {"ok": True, **result}
        if cmd == "ring":
            if self.call is None:
                self.call = {"direction": "in", "number": request["number"], "state": "incoming"}
            for _ in range(int(request.get("times", 1))):
                await self.urc("RING")
                if self.clip:
                    number = request["number"]
                    await self.urc(f'+CLIP: "{number}",{145 if number.startswith("+") else 129}')
            return {"ok": True}
        if cmd == "hangup":
            self.end_call()
            await self.urc("NO CARRIER")
            return {"ok": True}
        if cmd == "remote_answer":
            if self.call is None or self.call["state"] != "dialing":
                return {"ok": False, "error": "no outgoing call to answer"}
            self.call["state"] = "active"
            return {"ok": True}
        if cmd == "call":
            return {"ok": True, "call": self.call}
        if cmd == "uplink":
            data, self.audio.uplink = bytes(self.audio.uplink), bytearray()
            with wave.open(str(request["wav"]), "wb") as wav:
                wav.setnchannels(1)
                wav.setsampwidth(2)
                wav.setframerate(AUDIO_RATE)
                wav.writeframes(data[: len(data) // 2 * 2])
            return {"ok": True, "seconds": len(data) / 2 / AUDIO_RATE}
        if cmd in ("dtmf", "call_audio"):
            if self.call is None or self.call["state"] != "active":
                return {"ok": False, "error": "no active call"}
            future = self.audio.enqueue(self.call_pcm(request))
            try:
                written = await asyncio.wait_for(asyncio.shield(future),
                                                 float(request.get("timeout", 10)))
            except TimeoutError:
                written = False
            return {"ok": True, "written": written}
        if cmd == "signal":
            await self.set_signal(int(request["bars"]))
            return {"ok": True}
        if cmd == "registration":
            self.registration = int(request["stat"])
            return {"ok": True}
        if cmd == "urc":
            await self.urc(str(request["text"]))
            return {"ok": True}
        if cmd == "hardware_failure":
            subsys, error = int(request.get("subsys", 3)), int(request.get("error", 1))
            await self.urc(f"HARDWARE FAILURE: {subsys},{error}")
            return {"ok": True}
        if cmd == "smsc":
            self.smsc = str(request["number"])
            return {"ok": True}
        if cmd == "delivery":
            if request["status"] not in (*DELIVERY_STATUS, "none"):
                return {"ok": False, "error": f"unknown delivery status {request['status']!r}"}
            self.delivery = {"status": request["status"], "delay": float(request.get("delay", 0))}
            return {"ok": True}
        if cmd == "outbox":
            return {"ok": True, "messages": self.outbox_messages()}
        if cmd == "clear_outbox":
            self.outbox.clear()
            return {"ok": True}
        if cmd == "status":
            return {
                "ok": True, "path": self.path, "personality": self.personality,
                "echo": self.echo, "bars": self.bars, "registration": self.registration,
                "stored": sorted(self.storage), "faults": self.faults, "commands": self.commands,
            }
        if cmd == "wait_command":
            seen: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            entry = (request["match"], int(request.get("count", 1)), seen)
            if self._count(entry[0]) < entry[1]:
                self._command_waiters.append(entry)
                await seen
                self._command_waiters.remove(entry)
            return {"ok": True}
        if cmd == "fault":
            return self.set_fault(request)
        if cmd == "wait_held":
            if self._held is None:
                held: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._held_waiters.append(held)
                await held
            return {"ok": True}
        if cmd == "release":
            if self._held is not None:
                self._held.set()
            return {"ok": True}
        if cmd == "vanish":
            self.vanish()
            if "for" in request:
                self._appear_task = asyncio.create_task(self._appear_later(float(request["for"])))
            return {"ok": True}
        if cmd == "appear":
            self.appear()
            return {"ok": True, "path": self.path}
        return {"ok": False, "error": f"unknown command {cmd!r}"}

    def end_call(self) -> None:
        self.call = None
        self.audio.drop()

    def call_pcm(self, request: dict[str, Any]) -> bytes:
        level = float(request.get("level_db", -10.0))
        if request["cmd"] == "dtmf":
            return dtmf_pcm(str(request["digits"]), float(request.get("tone_ms", 100)),
                            float(request.get("gap_ms", 100)), level,
                            float(request.get("twist_db", 0.0)),
                            float(request.get("deviation", 0.0)))
        if "wav" in request:
            return wav_pcm(str(request["wav"]))
        if "silence" in request:
            return tone_pcm([], float(request["silence"]))
        return tone_pcm([(float(request["tone_hz"]), level)], float(request["seconds"]))

    def set_fault(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request.get("name")
        if name not in ("urc_in_response", "split", "late_final", "echo", "cms_error", "wedge",
                        "no_sim", "unanswered_cmgs", "csq_error", "torn_cmt", "lost_cmti"):
            return {"ok": False, "error": f"unknown fault {name!r}"}
        if not request.get("on", True):
            self.faults.pop(name, None)
            return {"ok": True}
        if name == "echo":
            self.echo = True
            return {"ok": True}
        self.faults[name] = {k: v for k, v in request.items() if k not in ("cmd", "name", "on")}
        return {"ok": True}

    async def _appear_later(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self.appear()


def _decodes_alone(payload: bytes) -> bool:
    try:
        payload.decode("utf-16-be")
    except UnicodeDecodeError:
        return False
    return True


# --- process -------------------------------------------------------------------


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--personality", choices=("iridium", "generic"), default="generic")
    parser.add_argument("--link", type=Path, help="keep a stable symlink to the pty here")
    parser.add_argument("--control-port", type=int, default=0)
    parser.add_argument("--csq-delay", type=float, default=2.0, help="Iridium +CSQ blocking time")
    parser.add_argument("--smsc", default="+8613800100500")
    parser.add_argument("--audio", type=Path, help="serve call audio on this unix socket")
    parser.add_argument("--sim-capacity", type=int, default=30, help="messages the SIM holds")
    parser.add_argument("--submit-delay", type=float, default=0.0,
                        help="seconds each +CMGS takes (the satellite link)")
    args = parser.parse_args(argv)

    terminal = Terminal(args.personality, args.link, args.csq_delay, args.smsc, args.audio,
                        args.sim_capacity, args.submit_delay)
    terminal.appear()
    await terminal.audio.start()
    stop, eof = await stop_event()
    server = await serve_json_lines(terminal.control, args.control_port)
    port = server.sockets[0].getsockname()[1]
    print(f"CONTROL {port}", flush=True)
    print(f"READY {terminal.path} control={port}", flush=True)

    tasks = [asyncio.create_task(terminal.serve()), asyncio.create_task(terminal.audio.serve())]
    if eof is not None:
        tasks.append(eof)
    await stop.wait()
    for task in tasks:
        task.cancel()
    server.close()
    terminal.audio.close()
    terminal.vanish()


if __name__ == "__main__":
    asyncio.run(main())
