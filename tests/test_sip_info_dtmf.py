"""叫醒 answered by SIP INFO: SIPp (Debian's sip-tester) plays a phone that presses 1 as
``application/dtmf-relay``; keys also sent as RFC 4733 into the same call (by this test,
to the RTP port the station offered) show that both ways reach the station and that one
key sent both ways counts once.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import drivers.sip_ua
from tests.helpers import free_port, sim_config
from tests.test_sip_station import PULSE_GAUGE, raise_rain, sip_section, started

SIPP = shutil.which("sipp")
SCENARIO = Path(__file__).parent / "sipp" / "wakeup_info.xml"
pytestmark = [pytest.mark.slow,  # SIPp as a process, a real-time call
              pytest.mark.skipif(SIPP is None, reason="SIPp (Debian's sip-tester) is needed")]
EVENTS = {str(d): d for d in range(10)} | {"*": 10, "#": 11}


async def send_rfc4733(sock: socket.socket, port: int, pt: int, digit: str, first_seq: int,
                       timestamp: int) -> int:
    """One key as RFC 4733 telephone-events (3 updates, 3 end packets, 20 ms apart);
    the next sequence number."""
    seq = first_seq
    for k in range(6):
        end = 0x80 if k >= 3 else 0
        header = struct.pack("!BBHII", 0x80, (0x80 if k == 0 else 0) | pt, seq & 0xFFFF,
                             timestamp, 0x5EED)
        payload = struct.pack("!BBH", EVENTS[digit], end | 10, 160 * min(k + 1, 4))
        sock.sendto(header + payload, ("127.0.0.1", port))
        seq += 1
        await asyncio.sleep(0.02)
    return seq


@pytest.fixture
def sipp_phone(tmp_path: Path) -> Iterator[tuple[int, Path, subprocess.Popen[bytes]]]:
    """SIPp waiting for one call: its SIP port, the file it writes the RTP port to, it."""
    assert SIPP is not None
    port, ports_file = free_port(), tmp_path / "rtp-port"
    with open(tmp_path / "sipp.log", "wb") as log:
        sipp = subprocess.Popen(
            [SIPP, "-sf", str(SCENARIO), "-i", "127.0.0.1", "-p", str(port), "-mi", "127.0.0.1",
             "-mp", str(free_port()), "-m", "1", "-nostdin", "-timeout", "60s",
             "-key", "ports_file", str(ports_file), "-trace_err"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
        try:
            yield port, ports_file, sipp
        finally:
            if sipp.poll() is None:
                sipp.kill()
            sipp.wait()


async def test_a_wake_up_answered_by_sip_info_and_a_key_sent_both_ways_counts_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    sipp_phone: tuple[int, Path, subprocess.Popen[bytes]],
) -> None:
    # The echo window is wall-clock time; widened so a loaded machine cannot split a pair
    # (the window itself is tested in test_wakeup.py).
    monkeypatch.setattr(drivers.sip_ua, "ECHO_WINDOW_S", 600.0)
    port, ports_file, sipp = sipp_phone
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        config = sim_config(tmp_path, PULSE_GAUGE + sip_section(free_port(), extra=f'''
[[sip.wakeup]]
targets = ["sip:duty@127.0.0.1:{port}"]
answer_within_s = 60'''))
        async with started(config) as (run, watch):
            alarm = raise_rain(run, {"1h": 52.3, "24h": 52.3})
            for _ in range(400):  # a file SIPp writes once the call is up: polled, at most 20 s
                if ports_file.exists():
                    break
                await asyncio.sleep(0.05)
            rtp_port, pt = map(int, ports_file.read_text().split())
            seq = await send_rfc4733(rtp, rtp_port, pt, "2", 1, 8000)  # not the answer key
            answered = await watch.event("sip.wakeup_answered")  # SIPp's INFO
            seq = await send_rfc4733(rtp, rtp_port, pt, "1", seq, 16000)  # 1 again, by RTP
            seq = await send_rfc4733(rtp, rtp_port, pt, "3", seq, 24000)
            await watch.until(lambda: any(k == "sip.dtmf" and d["digit"] == "3"
                                          for k, d in watch.seen))
            keys = [(d["digit"], d["method"]) for k, d in watch.seen if k == "sip.dtmf"]
            assert sorted(keys) == [("1", "sip_info"), ("2", "rfc4733"), ("3", "rfc4733")]
            assert answered["tier"] == 1
            assert alarm.wakeup["state"] == "answered"
            assert alarm.wakeup["answered_by"] == f"sip:duty@127.0.0.1:{port}"
            assert await asyncio.to_thread(sipp.wait, 30) == 0, "SIPp got its BYE"
    finally:
        rtp.close()
