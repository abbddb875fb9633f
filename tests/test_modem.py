"""The modem against the simulated terminal (hw-sim/at_modem_sim.py) over a real pty.

The simulator is a child process; the channel and modem run on a ManualClock, so a
timeout or a backoff happens when the test advances the clock, and everything else is
awaited (the simulator's control channel answers ``wait_command``/``wait_held`` once
the terminal got there), never slept for.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from drivers.clock import ManualClock
from sat_phone.at_channel import AtChannel, ChannelSettings, ChannelState
from sat_phone.modem import IRIDIUM, Modem, ModemSettings, SmsSendError
from sat_phone.pdu import Deliver, StatusReport, join_parts

pytestmark = pytest.mark.waits  # on a simulated line's silences: see tests/conftest.py

SIM = Path(__file__).resolve().parents[1] / "hw-sim" / "at_modem_sim.py"
REPORT = "【沙沟镇应急站】后山雨量站1小时雨量52.3毫米，已达立即转移，警报已启动 10:32。"
CHINESE_120 = (REPORT * 4)[:120]
NUMBER = "+8613800000000"
CHANNEL = ChannelSettings(command_timeout_s=10, sync_timeout_s=5, backoff_max_s=30)
POLL = 30.0


class Sim:
    """The simulator process and its control channel."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int, link: Path) -> None:
        self.proc = proc
        self.port = port
        self.link = link

    @classmethod
    async def start(cls, tmp_path: Path, personality: str, *args: str) -> Sim:
        link = tmp_path / "ttySAT"
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(SIM), "--personality", personality, "--link", str(link), *args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        port = int((await proc.stdout.readline()).split()[1])
        assert (await proc.stdout.readline()).startswith(b"READY ")
        return cls(proc, port, link)

    async def call(self, cmd: str, **params: Any) -> dict[str, Any]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(json.dumps({"cmd": cmd, **params}).encode() + b"\n")
            reply = json.loads(await reader.readline())
        finally:
            writer.close()
            await writer.wait_closed()
        assert reply["ok"], reply
        return reply

    async def stop(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        await self.proc.stdout.read()
        await self.proc.wait()


@dataclass
class Station:
    sim: Sim
    clock: ManualClock
    channel: AtChannel
    modem: Modem
    inbox: list[Deliver] = field(default_factory=list)
    reports: list[StatusReport] = field(default_factory=list)
    undecodable: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    refuse: Callable[[Deliver], bool] | None = None  # the handler fails on these
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def take(self, message: Deliver) -> None:
        if self.refuse is not None and self.refuse(message):
            raise RuntimeError("the station cannot take this message now")
        self.inbox.append(message)
        self._arrived.set()

    def heard(self, kind: str, item: Any) -> None:
        getattr(self, kind).append(item)
        self._arrived.set()

    async def until(self, what: Callable[[], bool]) -> None:
        while not what():
            self._arrived.clear()
            await self._arrived.wait()

    async def shows(self, text: str) -> None:
        """Until the modem's health detail says ``text``."""
        await self.until(lambda: text in self.modem.status.detail)

    async def received(self, count: int) -> list[Deliver]:
        while len(self.inbox) < count:
            self._arrived.clear()
            await self._arrived.wait()
        return self.inbox

    async def status(self, wanted: str) -> None:
        if self.modem.status.status == wanted:
            return
        reached = asyncio.Event()
        self.modem.add_status_listener(lambda s: reached.set() if s.status == wanted else None)
        await reached.wait()

    async def status_while_time_runs(self, wanted: str, within_s: float) -> None:
        """Until the modem's status is ``wanted``, the clock moving on a second at a time
        whenever the terminal has had a moment (real time) to answer. A recovery takes
        timers (a command's timeout, a backoff) and real replies, in an order the
        machine's load decides: a fixed jump of the clock could end before the last
        timer was even set, and leave the test waiting for ever."""
        reached = asyncio.Event()
        self.modem.add_status_listener(lambda s: reached.set() if s.status == wanted else None)
        moved = 0.0
        while self.modem.status.status != wanted:
            try:
                await asyncio.wait_for(reached.wait(), 0.05)
            except TimeoutError:
                assert moved < within_s, f"not {wanted} within {within_s:g} s of the clock"
                await self.clock.advance(1.0)
                moved += 1.0

    async def settled(self) -> None:
        """Nothing of the inbox in flight: the clock may be moved without timing it out."""
        await self.modem.inbox.idle()

    async def commands(self, prefix: str) -> int:
        listed = (await self.sim.call("status"))["commands"]
        return sum(1 for c in listed if c.upper().startswith(prefix.upper()))


async def build(tmp_path: Path, personality: str, start_modem: bool = True,
                sweep_interval_s: float = 3600.0, *sim_args: str,
                poll_interval_s: float = POLL) -> Station:
    """A modem on the simulator; no periodic sweep unless asked for (the clock jumps)."""
    sim = await Sim.start(tmp_path, personality, *sim_args)
    clock = ManualClock()
    channel = AtChannel(str(sim.link), clock=clock, settings=CHANNEL)
    settings = ModemSettings(personality=personality, poll_interval_s=poll_interval_s,
                             sweep_interval_s=sweep_interval_s)
    inbox: list[Station] = []
    modem = Modem(channel, clock=clock, settings=settings, on_sms=lambda m: inbox[0].take(m),
                  on_report=lambda r: inbox[0].heard("reports", r),
                  on_undecodable=lambda pdu, _e: inbox[0].heard("undecodable", pdu),
                  on_notice=lambda text: inbox[0].heard("notices", text))
    station = Station(sim, clock, channel, modem)
    modem.add_status_listener(lambda _s: station._arrived.set())
    inbox.append(station)
    await channel.start()
    if start_modem:
        await station.modem.start()
        await station.status("ok")
    return station


@pytest.fixture
async def iridium(tmp_path: Path) -> AsyncIterator[Station]:
    station = await build(tmp_path, IRIDIUM)
    yield station
    await teardown(station)


async def teardown(station: Station) -> None:
    await station.modem.close()
    await station.channel.close()
    await station.sim.stop()


async def test_iridium_init_prefers_csqf_and_reads_battery(iridium: Station) -> None:
    readings = iridium.modem.readings
    assert (readings.registered, readings.signal_bars, readings.battery_percent) == (True, 4, 80)
    status = await iridium.sim.call("status")
    sent = status["commands"]
    for command in ("ATE0", "AT+CMEE=1", "AT+CMGF=0", "AT+CNMI=2,1,0,1,0", "AT+CLIP=1",
                    "AT+CIER=1,1,1", "AT+CSQF", "AT+CMGL=4"):
        assert command in sent
    assert "AT+CSQ" not in sent  # it may block for 50 s on a real 9555
    assert status["echo"] is False
    assert iridium.modem.status.detail == "registered, signal 4/5"


async def test_the_modem_and_channel_show_their_state_and_close_once(iridium: Station) -> None:
    port, generation = iridium.channel.port, iridium.channel.generation
    assert repr(iridium.channel) == f"<AtChannel {port} ready generation={generation}>"
    assert repr(iridium.modem) == (f"<Modem {port} running ok (registered, signal 4/5)"
                                   " signal_bars=4 registration=1 sent=0 received=0>")
    await iridium.sim.call("signal", bars=0)
    await iridium.status("degraded")
    shown = repr(iridium.modem)
    assert shown.startswith(f"<Modem {port} running degraded (")
    assert " signal_bars=0 " in shown
    await iridium.modem.close()
    await iridium.modem.close()
    assert repr(iridium.modem).startswith(f"<Modem {port} stopped degraded")
    await iridium.channel.close()
    await iridium.channel.close()
    assert repr(iridium.channel) == f"<AtChannel {port} closed (closed) generation={generation}>"


async def test_generic_terminal_signal_without_battery(tmp_path: Path) -> None:
    station = await build(tmp_path, "generic")
    try:
        r = station.modem.readings
        assert (r.signal_raw, r.signal_bars, r.battery_percent) == (23, 4, None)
        await station.clock.advance(POLL)
        await station.sim.call("wait_command", match="AT+CSQ", count=2)
        assert await station.commands("AT+CBC") == 1  # unsupported: not asked again
    finally:
        await teardown(station)


async def test_losing_signal_degrades_and_coming_back_recovers(iridium: Station) -> None:
    await iridium.sim.call("signal", bars=0)  # +CIEV arrives at once (+CIER)
    await iridium.status("degraded")
    assert iridium.modem.readings.signal_bars == 0
    await iridium.sim.call("signal", bars=3)
    await iridium.status("ok")
    assert iridium.modem.status.detail == "registered, signal 3/5"


async def test_chinese_report_goes_out_in_two_parts_and_arrives_intact(iridium: Station) -> None:
    references = await iridium.modem.send_sms(NUMBER, CHINESE_120)
    assert len(references) == 2
    [message] = (await iridium.sim.call("outbox"))["messages"]
    assert message["to"] == NUMBER
    assert message["text"] == CHINESE_120
    assert (message["parts"], message["complete"], message["encoding"]) == (2, True, "ucs2")
    assert message["parts_decode_alone"]
    assert message["references"] == references


async def test_send_without_network_raises_cms_500(iridium: Station) -> None:
    await iridium.sim.call("signal", bars=0)
    with pytest.raises(SmsSendError) as caught:
        await iridium.modem.send_sms(NUMBER, "测试")
    assert caught.value.code == 500
    assert "no network" in str(caught.value)
    await iridium.sim.call("signal", bars=4)
    await iridium.sim.call("fault", name="cms_error", code=332, count=1)
    with pytest.raises(SmsSendError) as caught:
        await iridium.modem.send_sms(NUMBER, CHINESE_120)
    assert (caught.value.code, caught.value.part, caught.value.sent_references) == (332, 1, [])
    assert len(await iridium.modem.send_sms(NUMBER, CHINESE_120)) == 2
    assert iridium.channel.state is ChannelState.READY


async def test_multipart_delivered_out_of_order_is_read_and_deleted(iridium: Station) -> None:
    text = REPORT * 4
    reply = await iridium.sim.call("deliver_sms", **{"from": "+8613912345678"}, text=text,
                                   order=[3, 1, 2], ref=77)
    assert reply["parts"] == 3
    parts = await iridium.received(3)
    assert [p.concat.seq for p in parts if p.concat] == [3, 1, 2]
    assert {p.sender for p in parts} == {"+8613912345678"}
    assert join_parts(sorted(parts, key=lambda p: p.concat.seq if p.concat else 0)) == text
    await iridium.sim.call("wait_command", match="AT+CMGD=", count=3)
    assert (await iridium.sim.call("status"))["stored"] == []


async def test_messages_stored_before_start_are_swept(tmp_path: Path) -> None:
    station = await build(tmp_path, IRIDIUM, start_modem=False)
    try:
        await station.sim.call("deliver_sms", **{"from": "10086"}, text="held while down")
        await station.modem.start()
        [message] = await station.received(1)
        assert (message.sender, message.text) == ("10086", "held while down")
        assert station.modem.sweeps == 1
    finally:
        await teardown(station)


async def test_urc_inside_responses_and_split_bytes(iridium: Station) -> None:
    await iridium.sim.call("fault", name="urc_in_response")
    await iridium.sim.call("fault", name="split")
    await iridium.clock.advance(POLL)
    await iridium.sim.call("wait_command", match="AT+CBC", count=2)
    assert await iridium.modem.send_sms(NUMBER, CHINESE_120)
    [message] = (await iridium.sim.call("outbox"))["messages"]
    assert message["text"] == CHINESE_120
    assert iridium.modem.status.status == "ok"


async def test_echo_back_on_makes_the_modem_initialise_again(iridium: Station) -> None:
    await iridium.sim.call("fault", name="echo")
    await iridium.clock.advance(POLL)
    await iridium.sim.call("wait_command", match="ATE0", count=2)
    await iridium.sim.call("wait_command", match="AT+CMGL=4", count=2)
    assert (await iridium.sim.call("status"))["echo"] is False
    assert await iridium.modem.send_sms(NUMBER, "echo test")


async def test_late_final_after_a_timeout_is_not_credited(iridium: Station) -> None:
    await iridium.sim.call("fault", name="late_final")
    await iridium.clock.advance(POLL)  # the poll's first command is held
    await iridium.sim.call("wait_held")
    await iridium.clock.advance(CHANNEL.command_timeout_s)
    assert iridium.channel.state is ChannelState.UNSYNCED
    await iridium.sim.call("release")
    ready = asyncio.Event()
    iridium.channel.add_state_listener(lambda s: ready.set() if s is ChannelState.READY else None)
    await ready.wait()
    assert iridium.channel.stale_finals >= 1
    assert len(await iridium.modem.send_sms(NUMBER, CHINESE_120)) == 2
    [message] = (await iridium.sim.call("outbox"))["messages"]
    assert message["text"] == CHINESE_120


async def test_wedged_terminal_is_a_fault_until_it_answers_again(iridium: Station) -> None:
    await iridium.sim.call("fault", name="wedge")
    for _ in range(40):
        await iridium.clock.advance(5)
        if iridium.modem.status.status == "fault":
            break
    assert iridium.modem.status.status == "fault"
    await iridium.sim.call("wait_command", match="AT+CFUN=1,1", count=1)
    with pytest.raises(SmsSendError):
        await iridium.modem.send_sms(NUMBER, "测试")
    await iridium.sim.call("fault", name="wedge", on=False)
    # a command already sent to the wedged terminal times out, then the longest backoff
    await iridium.status_while_time_runs(
        "ok", within_s=2 * (CHANNEL.command_timeout_s + CHANNEL.backoff_max_s))
    assert await iridium.modem.send_sms(NUMBER, "恢复")


async def test_port_vanishing_and_coming_back(iridium: Station) -> None:
    await iridium.sim.call("vanish")
    await iridium.status("offline")
    await iridium.clock.advance(1)
    await iridium.clock.advance(2)
    await iridium.sim.call("appear")
    await iridium.clock.advance(4)
    # "ok" comes with the port, before the terminal is initialised again: wait for that
    await asyncio.wait_for(iridium.sim.call("wait_command", match="ATE0", count=2), 30)
    await iridium.status("ok")
    assert await iridium.commands("ATE0") == 2  # initialised again on the new port
    assert len(await iridium.modem.send_sms(NUMBER, CHINESE_120)) == 2
