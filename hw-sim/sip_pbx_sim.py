#!/usr/bin/env python3
"""A simulated county PBX with the phones of the people on call.

Debian's ``kamailio`` is the PBX: a registrar and proxy on 127.0.0.1 (UDP and TCP),
digest authentication with one password for every user, locations in memory. One
Debian ``baresip`` per ``--phone`` number registers with it as that number, so a station
registered with the PBX dials ``sip:<number>@127.0.0.1`` and the phone rings. Nothing of
StationEdge is imported: the station talks SIP and RTP to real, independent software.

Command line::

    python hw-sim/sip_pbx_sim.py --phone +8613800000002 [--phone …] [--password PW]
                                 [--dir PATH] [--control-port N]

It prints ``READY registrar=127.0.0.1:<port> control=<tcp port>`` once every phone is
registered, or ``UNAVAILABLE <reason>`` (exit status 3) when kamailio or baresip is not
installed. It runs until SIGTERM/SIGINT, or until its stdin reaches end of file when
stdin is a pipe (a parent that dies takes it, kamailio and the phones with it).

A phone that rings picks up after ``ring_s`` (1 s), listens — until the message ends
(the first second of silence after at least a second of sound), or for ``listen_s``
seconds of sound — presses ``key`` (``1``, RFC 4733) and waits for the caller to hang
up. What it heard is the decoded far-end audio baresip records (its ``sndfile`` module).

Control channel: TCP on 127.0.0.1, one JSON object per line in, one per line out:

* ``{"cmd": "phones"}``: every phone: ``number``, ``registered``, how it behaves
  (``answer``, ``listen_s``, ``key``) and its ``calls`` (``answered``, ``received_s`` of
  audio, ``heard_s`` of sound in it, ``pressed``, ``ended_by``).
* ``{"cmd": "phone", "number": "+8613800000002", "answer": false}``: change how a phone
  behaves (``answer``: pick up or let it ring; ``listen_s``: a number, or null for the
  whole message; ``key``: what to press, null for nothing).

The configuration builders (:func:`kamailio_config`, :func:`baresip_config`,
:func:`baresip_account`) are also used by the test suite's own SIP peers.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import glob
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import wave
from array import array
from pathlib import Path
from typing import Any

from sim_process import serve_json_lines, stop_event

READY_TIMEOUT_S = 15.0
FRAME = 160  # 20 ms at 8000 Hz
SOUND_DB = -40.0  # a 20 ms frame louder than this is sound


def find_kamailio() -> str | None:
    return shutil.which("kamailio") or next(
        (p for p in ("/usr/sbin/kamailio", "/sbin/kamailio") if os.access(p, os.X_OK)), None)


def find_baresip() -> str | None:
    return shutil.which("baresip")


def kamailio_modules() -> str:
    found = sorted(glob.glob("/usr/lib/*/kamailio/modules/")) or ["/usr/lib/kamailio/modules/"]
    return found[0]


def kamailio_config(port: int, password: str, ctl: Path) -> str:
    """A registrar and proxy on 127.0.0.1:``port``: REGISTER needs digest auth (the
    password of every user), INVITEs go to the registered contact, dialogs stay routed
    through it."""
    return f"""#!KAMAILIO
debug=1
log_stderror=yes
fork=no
children=1
tcp_children=1
auto_aliases=no
listen=udp:127.0.0.1:{port}
listen=tcp:127.0.0.1:{port}
mpath="{kamailio_modules()}"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"
loadmodule "kex.so"
loadmodule "ctl.so"
modparam("ctl", "binrpc", "unix:{ctl}")
modparam("registrar", "min_expires", 1)
modparam("usrloc", "db_mode", 0)

request_route {{
    if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
    if (is_method("REGISTER")) {{
        if (!pv_auth_check("$fd", "{password}", "0", "1")) {{ auth_challenge("$fd", "0"); exit; }}
        save("location");
        exit;
    }}
    if (has_totag()) {{
        if (loose_route() || is_method("ACK|BYE|CANCEL|INFO")) {{ t_relay(); exit; }}
        sl_send_reply("404", "Not here"); exit;
    }}
    if (is_method("CANCEL")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
    remove_hf("Route");
    if (is_method("INVITE")) {{ record_route(); }}
    if (!lookup("location")) {{ sl_send_reply("404", "Not Found"); exit; }}
    t_relay();
}}
"""


def records_folder() -> Path:
    """A new, short folder for a phone's recordings (the caller removes it).

    baresip's sndfile module builds ``<snd_path>/dump-<time>-<enc|dec>.wav`` in 128 bytes
    and cuts the name silently: under a deep folder (a test's temporary directory) both
    directions went into one file named ``dump-<time>-``, and the phone heard nothing.
    """
    return Path(tempfile.mkdtemp(prefix="baresip-rec-"))


def baresip_config(sip_port: int, ctrl_port: int, source: Path, records: Path) -> str:
    """One phone: G.711, its microphone a WAV file, the far end's audio recorded as
    ``records/dump-…-dec.wav``, driven over ``ctrl_tcp`` on ``ctrl_port``. Its loudspeaker
    is an ``aubridge`` device with nothing behind it, which takes audio at the call's pace:
    ALSA's ``null`` device took it as fast as it came, and kept a third of a core busy for
    every phone in a call."""
    return f"""poll_method epoll
net_interface 127.0.0.1
sip_listen 127.0.0.1:{sip_port}
audio_player aubridge,nowhere
audio_source aufile,{source}
ausrc_srate 8000
ausrc_channels 1
auplay_srate 8000
auplay_channels 1
rtp_ports 20000-40000
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module aubridge.so
module sndfile.so
module_app account.so
module_app menu.so
module_app ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:{ctrl_port}
snd_path {records}
"""


def baresip_account(user: str, *, port: int | None = None, registrar: str | None = None,
                    password: str | None = None, auto_answer: bool = False) -> str:
    """An ``accounts`` line: direct calls to ``user@127.0.0.1:port``, or registered with
    ``registrar`` (host:port, UDP) as ``user@127.0.0.1``."""
    mode = "auto" if auto_answer else "manual"
    if registrar is None:
        return f"<sip:{user}@127.0.0.1:{port}>;regint=0;answermode={mode}"
    return (f"<sip:{user}@127.0.0.1;transport=udp>;auth_pass={password};"
            f"outbound=\"sip:{registrar};transport=udp\";regint=600;answermode={mode}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def die_with_parent() -> None:
    """Run in a child before exec: it gets SIGTERM when its parent dies."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, preexec_fn=die_with_parent)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Ear:
    """What a phone heard so far, read from its growing recording of the far end."""

    def __init__(self) -> None:
        self.read = 44  # bytes of the file taken (past its WAV header)
        self.frames = 0  # 20 ms frames heard, sound or not
        self.sound = 0  # of which sound
        self.quiet = 0  # of which silent, at the end

    def listen(self, path: Path) -> None:
        try:
            with open(path, "rb") as recording:
                recording.seek(self.read)
                data = recording.read()
        except OSError:
            return
        whole = len(data) // (2 * FRAME) * 2 * FRAME
        self.read += whole
        samples = array("h", data[:whole])
        for start in range(0, len(samples), FRAME):
            power = sum(v * v for v in samples[start:start + FRAME]) / FRAME / 32768.0**2
            self.frames += 1
            if 10 * math.log10(power + 1e-12) > SOUND_DB:
                self.sound, self.quiet = self.sound + 1, 0
            else:
                self.quiet += 1


class Phone:
    """One number: a baresip registered with the PBX, picking up and pressing a key."""

    def __init__(self, number: str, folder: Path, registrar: str, password: str,
                 baresip: str) -> None:
        self.number = number
        self.folder = folder
        self.answer = True
        self.ring_s = 1.0
        self.listen_s: float | None = None
        self.key: str | None = "1"
        self.registered = asyncio.Event()
        self.calls: list[dict[str, Any]] = []
        folder.mkdir(parents=True, exist_ok=True)
        self.records = records_folder()
        source = folder / "mic.wav"
        with wave.open(str(source), "wb") as w:  # the villager's microphone: a quiet room
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(bytes(2 * 8000 * 120))
        self.ctrl_port = free_port()
        (folder / "config").write_text(baresip_config(0, self.ctrl_port, source, self.records))
        (folder / "accounts").write_text(
            baresip_account(number, registrar=registrar, password=password) + "\n")
        self.process = _start([baresip, "-f", str(folder)], folder / "baresip.log")
        self._writer: asyncio.StreamWriter | None = None
        self._call: asyncio.Task[None] | None = None

    def as_json(self) -> dict[str, Any]:
        return {"number": self.number, "registered": self.registered.is_set(),
                "answer": self.answer, "listen_s": self.listen_s, "key": self.key,
                "calls": self.calls}

    async def run(self) -> None:
        """Follow baresip's events (netstring-framed JSON) for as long as it lives."""
        reader = await self._connect()
        self.command("reginfo")  # it may have registered before we listened
        buffer = b""
        while chunk := await reader.read(65536):
            buffer += chunk
            while b":" in buffer:
                head, _, rest = buffer.partition(b":")
                if len(rest) < int(head) + 1:
                    break
                self._on_message(json.loads(rest[:int(head)]))
                buffer = rest[int(head) + 1:]

    async def _connect(self) -> asyncio.StreamReader:
        for _ in range(200):
            try:
                reader, self._writer = await asyncio.open_connection("127.0.0.1", self.ctrl_port)
                return reader
            except OSError:
                if self.process.poll() is not None:
                    break
                await asyncio.sleep(0.05)
        raise RuntimeError(f"phone {self.number}: baresip did not start "
                           f"(see {self.folder / 'baresip.log'})")

    def command(self, command: str, params: str = "") -> None:
        if self._writer is not None:
            body = json.dumps({"command": command, "params": params, "token": command}).encode()
            self._writer.write(b"%d:%s," % (len(body), body))

    def _on_message(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "REGISTER_OK" or (message.get("token") == "reginfo"
                                     and "\x1b[32mOK" in str(message.get("data"))):
            self.registered.set()
        elif kind == "REGISTER_FAIL":
            self.registered.clear()
        elif kind == "CALL_INCOMING" and self.answer:
            self._call = asyncio.create_task(self._pick_up())
        elif kind == "CALL_ESTABLISHED":
            self.calls.append({"answered": True, "received_s": 0.0, "heard_s": 0.0,
                               "pressed": None, "ended_by": None})
            self._call = asyncio.create_task(self._listen())  # picked up: accept was sent
        elif kind == "CALL_CLOSED":
            if self._call is not None:
                self._call.cancel()
            if self.calls and self.calls[-1]["ended_by"] is None:
                self.calls[-1]["ended_by"] = message.get("param") or "closed"
            for dump in self.records.glob("dump-*.wav"):
                dump.unlink()

    async def _pick_up(self) -> None:
        await asyncio.sleep(self.ring_s)
        self.command("accept")

    async def _listen(self) -> None:
        call, ear = self.calls[-1], Ear()
        while True:
            await asyncio.sleep(0.1)
            dumps = sorted(self.records.glob("dump-*-dec.wav"))
            if dumps:
                ear.listen(dumps[-1])
            call["received_s"] = round(ear.frames * 0.02, 2)
            call["heard_s"] = round(ear.sound * 0.02, 2)
            if (ear.sound * 0.02 >= self.listen_s if self.listen_s is not None
                    else ear.sound >= 50 and ear.quiet >= 45):  # 1 s of sound, then 0.9 s quiet
                if self.key is not None:
                    self.command("sndcode", self.key)
                    call["pressed"] = self.key
                return

    def disconnect(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def stop(self) -> None:
        _stop(self.process)
        shutil.rmtree(self.records, ignore_errors=True)


class Pbx:
    def __init__(self, folder: Path, password: str, kamailio: str) -> None:
        self.folder = folder
        for _ in range(5):  # kamailio cannot take port 0: pick one, again if it was taken
            self.port = free_port()
            config = folder / "kamailio.cfg"
            config.write_text(kamailio_config(self.port, password, folder / "ctl.sock"))
            self.process = _start([kamailio, "-f", str(config), "-DD", "-E", "-Y", str(folder),
                                   "-m", "32", "-M", "4"], folder / "kamailio.log")
            if self._listening():
                return
            _stop(self.process)
        raise RuntimeError(f"kamailio did not start (see {folder / 'kamailio.log'})")

    def _listening(self) -> bool:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                if self.process.poll() is not None:
                    return False
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        _stop(self.process)


def control(phones: dict[str, Phone], request: dict[str, Any]) -> dict[str, Any]:
    cmd = request["cmd"]
    if cmd == "phones":
        return {"ok": True, "phones": [p.as_json() for p in phones.values()]}
    if cmd == "phone":
        phone = phones[request["number"]]
        if "answer" in request:
            phone.answer = bool(request["answer"])
        if "listen_s" in request:
            phone.listen_s = None if request["listen_s"] is None else float(request["listen_s"])
        if "key" in request:
            phone.key = None if request["key"] is None else str(request["key"])[:1]
        return {"ok": True, "phone": phone.as_json()}
    return {"ok": False, "error": f"unknown command {cmd!r}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--phone", action="append", default=[], help="a number to register")
    parser.add_argument("--password", default="sim-sip", help="every user's SIP password")
    parser.add_argument("--dir", type=Path, help="configs and logs here (default: temporary)")
    parser.add_argument("--control-port", type=int, default=0)
    args = parser.parse_args(argv)

    kamailio, baresip = find_kamailio(), find_baresip()
    if kamailio is None or baresip is None:
        missing = [n for n, path in (("kamailio", kamailio), ("baresip", baresip)) if not path]
        print(f"UNAVAILABLE {' and '.join(missing)} not installed "
              f"(apt-get install {' '.join(missing)})", flush=True)
        return 3
    with tempfile.TemporaryDirectory(prefix="sip-pbx-") as temporary:
        folder: Path = args.dir or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        pbx = Pbx(folder, args.password, kamailio)
        registrar = f"127.0.0.1:{pbx.port}"
        phones: dict[str, Phone] = {}
        try:
            for number in args.phone:
                phones[number] = Phone(number, folder / f"phone{number}", registrar,
                                       args.password, baresip)
            return asyncio.run(serve(registrar, phones, args.control_port))
        finally:
            for phone in phones.values():
                phone.stop()
            pbx.stop()


async def serve(registrar: str, phones: dict[str, Phone], control_port: int) -> int:
    """Follow the phones, answer the control channel; until told to stop."""
    tasks = [asyncio.create_task(phone.run()) for phone in phones.values()]

    async def handle(request: dict[str, Any]) -> dict[str, Any]:
        return control(phones, request)

    try:
        await asyncio.wait_for(asyncio.gather(*(p.registered.wait() for p in phones.values())),
                               READY_TIMEOUT_S)
        stop, eof = await stop_event()
        tasks += [eof] if eof is not None else []
        server = await serve_json_lines(handle, control_port)
        print(f"READY registrar={registrar} control={server.sockets[0].getsockname()[1]}",
              flush=True)
        await stop.wait()
        server.close()
    except TimeoutError:
        print(f"phones not registered with {registrar} in {READY_TIMEOUT_S} s", flush=True)
        return 1
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for phone in phones.values():
            phone.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
