"""The AT channel over a real pty, with the test playing the terminal on the master side.

Time is a ManualClock: a timeout happens when the test advances the clock, so each
race (late OK, URC in the middle, a port that vanishes) is staged exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from drivers.clock import ManualClock
from sat_phone.at_channel import (
    AtChannel,
    AtCommandError,
    AtTimeout,
    AtUnavailable,
    ChannelSettings,
    ChannelState,
)
from sat_phone.at_parser import Line

OK = b"\r\nOK\r\n"
Reply = Callable[[str], bytes | None]


def standard(command: str) -> bytes | None:
    """A well-behaved terminal: echo off, CMEE=1."""
    answers = {
        "AT": OK,
        "AT+CMEE?": b"\r\n+CMEE: 1\r\n" + OK,
        "AT+CSQ": b"\r\n+CSQ: 17,99\r\n" + OK,
        "AT+CGSN": b"\r\n300234010753370\r\n" + OK,
        "AT+CMGS=23": b"\r\n> ",
        "ATE0": OK,
    }
    return answers.get(command, b"\r\nERROR\r\n")


class Terminal:
    """The far end of a pty, reachable at a stable symlink that survives re-creation."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.reply: Reply = standard
        self.received: list[str] = []
        self._buf = b""
        self._waiters: list[tuple[Callable[[str], bool], asyncio.Future[str]]] = []
        self.master = self.slave = -1
        self.appear()

    def appear(self) -> None:
        self.master, self.slave = os.openpty()  # holding the slave keeps the master from HUP
        tty.setraw(self.slave)
        self._slave_path = os.ttyname(self.slave)
        tmp = self.link.with_suffix(".tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(self._slave_path)
        tmp.replace(self.link)
        asyncio.get_running_loop().add_reader(self.master, self._readable)

    def vanish(self) -> None:
        asyncio.get_running_loop().remove_reader(self.master)
        os.close(self.master)
        os.close(self.slave)
        self.master = self.slave = -1

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def saw(self, predicate: Callable[[str], bool]) -> asyncio.Future[str]:
        """A future for the first command received from now on that matches."""
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, future))
        return future

    def _readable(self) -> None:
        try:
            self._buf += os.read(self.master, 4096)
        except OSError:
            return  # nobody has the slave open (between reopen attempts)
        while True:
            ends = (self._buf.find(b"\r"), self._buf.find(b"\x1a"))
            cut = min((i for i in ends if i >= 0), default=-1)
            if cut < 0:
                return
            text, self._buf = self._buf[:cut].decode(), self._buf[cut + 1 :]
            self.received.append(text)
            for predicate, future in list(self._waiters):
                if predicate(text) and not future.done():
                    future.set_result(text)
                    self._waiters.remove((predicate, future))
            answer = self.reply(text)
            if answer:
                self.send(answer)

    def close(self) -> None:
        if self.master >= 0:
            self.vanish()


SETTINGS = ChannelSettings(
    command_timeout_s=5, sync_timeout_s=2, backoff_initial_s=1, backoff_max_s=30
)


@pytest.fixture
async def terminal(tmp_path: Path) -> AsyncIterator[Terminal]:
    term = Terminal(tmp_path / "ttySAT")
    yield term
    term.close()


@pytest.fixture
async def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def channel(terminal: Terminal, clock: ManualClock) -> AsyncIterator[AtChannel]:
    chan = AtChannel(str(terminal.link), clock=clock, settings=SETTINGS)
    await chan.start()
    await reached(chan, ChannelState.READY)
    yield chan
    await chan.close()


async def reached(channel: AtChannel, state: ChannelState) -> None:
    if channel.state is state:
        return
    event = asyncio.Event()
    channel.add_state_listener(lambda s: event.set() if s is state else None)
    await event.wait()


def urc_collector(channel: AtChannel) -> tuple[list[str], Callable[[str], asyncio.Future[None]]]:
    urcs: list[str] = []
    waiters: list[tuple[str, asyncio.Future[None]]] = []

    def on_urc(line: Line) -> None:
        urcs.append(line.text)
        for text, future in waiters:
            if line.text.startswith(text) and not future.done():
                future.set_result(None)

    def expect(text: str) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters.append((text, future))
        return future

    channel.add_urc_listener(on_urc)
    return urcs, expect


async def test_command_gets_its_prefixed_lines_and_urcs_go_elsewhere(
    channel: AtChannel, terminal: Terminal
) -> None:
    urcs, _ = urc_collector(channel)
    interleaved = b'\r\n+CSQ: 9,99\r\n\r\n+CMTI: "SM",4\r\n\r\n+CIEV: 0,3\r\n' + OK
    terminal.reply = lambda c: interleaved if c == "AT+CSQ" else standard(c)
    response = await channel.command("AT+CSQ", prefix="+CSQ:")
    assert response.values == ["9,99"]
    assert urcs == ['+CMTI: "SM",4', "+CIEV: 0,3"]
    bare = await channel.command("AT+CGSN", capture_all=True)
    assert bare.values == ["300234010753370"]


async def test_stale_ok_is_never_credited_to_the_next_command(
    channel: AtChannel, terminal: Terminal
) -> None:
    _, expect = urc_collector(channel)
    marker = expect("+CIEV")
    terminal.send(OK + b"\r\n+CIEV: 1,1\r\n")  # an OK with no command in flight
    await marker
    assert channel.stale_finals == 1
    response = await channel.command("AT+CSQ", prefix="+CSQ:")
    assert response.values == ["17,99"]


async def test_error_finals_raise_with_their_code(channel: AtChannel, terminal: Terminal) -> None:
    terminal.reply = lambda c: b"\r\n+CMS ERROR: 500\r\n" if c == "AT+CMGS=23" else standard(c)
    with pytest.raises(AtCommandError) as caught:
        await channel.command_with_body("AT+CMGS=23", "00AB", prefix="+CMGS:")
    assert (caught.value.kind, caught.value.code) == ("cms_error", 500)
    assert channel.state is ChannelState.READY


async def test_sms_prompt_then_body_and_ctrl_z_with_echo_on(
    channel: AtChannel, terminal: Terminal
) -> None:
    pdu = "0011000B916407281553F80000AA0AE8329BFD4697D9EC37"
    generation = channel.generation

    def echoing(command: str) -> bytes | None:
        if command == pdu:
            return pdu.encode() + b"\x1a\r\n+CMGS: 7\r\n" + OK
        return command.encode() + b"\r" + (standard(command) or b"")

    terminal.reply = echoing
    response = await channel.command_with_body("AT+CMGS=23", pdu, prefix="+CMGS:")
    assert response.values == ["7"]
    assert terminal.received[-2:] == ["AT+CMGS=23", pdu]
    assert channel.generation == generation + 1  # echo back on: the modem must re-init
    await channel.command("ATE0")
    terminal.reply = standard
    assert (await channel.command("AT+CSQ", prefix="+CSQ:")).values == ["17,99"]
    assert channel.generation == generation + 1


async def test_late_ok_after_a_timeout_is_not_taken_for_the_resync(
    channel: AtChannel, terminal: Terminal, clock: ManualClock
) -> None:
    states: list[ChannelState] = []
    channel.add_state_listener(states.append)
    held: list[str] = []

    def late(command: str) -> bytes | None:
        if command == "AT+CSQ" and not terminal.received[:-1].count("AT+CSQ"):
            held.append(command)  # say nothing the first time…
            return None
        answer = standard(command) or b""
        if held:  # … and answer it, late, in front of the resync's answers
            held.clear()
            return b"\r\n+CSQ: 5,99\r\n" + OK + answer
        return answer

    terminal.reply = late
    sent = terminal.saw(lambda c: c == "AT+CSQ")
    pending = asyncio.create_task(channel.command("AT+CSQ", prefix="+CSQ:"))
    await sent
    await clock.advance(5)
    with pytest.raises(AtTimeout):
        await pending
    await reached(channel, ChannelState.READY)
    assert states == [ChannelState.UNSYNCED, ChannelState.READY]
    assert terminal.received[-2:] == ["AT", "AT+CMEE?"]
    assert channel.stale_finals >= 1
    response = await channel.command("AT+CSQ", prefix="+CSQ:")
    assert response.values == ["17,99"]


async def test_wedged_terminal_escalates_to_reopen_reset_and_fault_then_recovers(
    channel: AtChannel, terminal: Terminal, clock: ManualClock
) -> None:
    faults: list[float] = []
    channel.add_state_listener(
        lambda s: faults.append(clock.monotonic()) if s is ChannelState.FAULT else None)
    terminal.reply = lambda c: None
    sent = terminal.saw(lambda c: c == "AT+CSQ")
    pending = asyncio.create_task(channel.command("AT+CSQ"))
    await sent
    await clock.advance(5)
    with pytest.raises(AtTimeout):
        await pending
    reset = terminal.saw(lambda c: c == "AT+CFUN=1,1")
    for _ in range(12):
        await clock.advance(2)
        if reset.done():
            break
    # the channel wrote the reset on the clock; its bytes cross the pty in real time
    await asyncio.wait_for(reset, 10)
    for _ in range(80):
        await clock.advance(0.5)
        if channel.state is ChannelState.FAULT:
            break
    assert channel.state is ChannelState.FAULT
    with pytest.raises(AtUnavailable):
        await channel.command("AT+CSQ")
    terminal.reply = standard  # the terminal is back: the first probe, seconds later, finds it
    await clock.advance(faults[0] + SETTINGS.backoff_initial_s - clock.monotonic())
    await reached(channel, ChannelState.READY)  # the clock stays: no answer can time out
    assert (await channel.command("AT+CSQ", prefix="+CSQ:")).values == ["17,99"]


def test_a_faulted_channel_probes_after_seconds_then_backs_off() -> None:
    delays = [SETTINGS.fault_probe_delay_s(n) for n in range(7)]
    assert delays == [1, 2, 4, 8, 16, 30, 30]  # backoff_initial_s 1, backoff_max_s 30


async def test_port_vanishing_and_coming_back_at_the_stable_path(
    channel: AtChannel, terminal: Terminal, clock: ManualClock
) -> None:
    generation = channel.generation
    terminal.vanish()
    await reached(channel, ChannelState.OFFLINE)
    with pytest.raises(AtUnavailable):
        await channel.command("AT+CSQ")
    await clock.advance(1)
    await clock.advance(2)  # still gone: the backoff grows
    assert channel.state is ChannelState.OFFLINE
    terminal.appear()
    await clock.advance(4)
    await reached(channel, ChannelState.READY)
    assert channel.generation > generation
    assert (await channel.command("AT+CSQ", prefix="+CSQ:")).values == ["17,99"]


async def test_a_command_queued_behind_a_timeout_waits_for_the_resync(
    channel: AtChannel, terminal: Terminal, clock: ManualClock
) -> None:
    terminal.reply = lambda c: None if c == "AT+CSQ" else standard(c)
    sent = terminal.saw(lambda c: c == "AT+CSQ")
    stuck = asyncio.create_task(channel.command("AT+CSQ", prefix="+CSQ:"))
    await sent
    behind = asyncio.create_task(channel.command("AT+CGSN", capture_all=True))
    await clock.advance(SETTINGS.command_timeout_s)
    with pytest.raises(AtTimeout):
        await stuck
    assert (await behind).values == ["300234010753370"]  # after AT and AT+CMEE? in order
    assert terminal.received[-3:] == ["AT", "AT+CMEE?", "AT+CGSN"]
