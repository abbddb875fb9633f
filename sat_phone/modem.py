"""The satellite terminal as the station sees it: is it there, registered, with signal;
and SMS in and out.

The modem sits on an :class:`~sat_phone.at_channel.AtChannel` and never touches the
port. It re-runs its init sequence whenever the channel's ``generation`` moves (the
port was reopened, the terminal was reset, or echo came back on), because a terminal
forgets ``ATE0``, ``+CMEE``, PDU mode and new-message indications when it restarts.

Incoming messages are stored on the terminal and announced by ``+CMTI``; each is read
(``+CMGR``), handed to ``on_sms``, and deleted (``+CMGD``) only after ``on_sms``
returned, so a message the station failed to take is read again by the sweep of stored
messages (``+CMGL=4``) at the next init.

Iridium quirks: ``+CSQ`` can block 10–50 s or end in ``ERROR`` when not registered,
so the Iridium personality asks ``+CSQF`` (answers at once with the last value) and
turns on ``+CIER`` so signal and service changes arrive as ``+CIEV``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from drivers.clock import Clock
from drivers.tasks import cancel_and_wait
from sat_phone.at_channel import (
    AtChannel,
    AtCommandError,
    AtError,
    AtTimeout,
    AtUnavailable,
    ChannelState,
)
from sat_phone.at_parser import Line
from sat_phone.pdu import Deliver, PduError, decode_deliver, encode_submit
from sat_phone.waiting import event_or_timeout

log = logging.getLogger(__name__)

IRIDIUM = "iridium"
GENERIC = "generic"
REGISTERED = (1, 5)  # 27.007 +CREG stat: 1 home, 5 roaming
CMS_REASONS = {
    38: "network out of order",
    41: "temporary failure",
    42: "congestion",
    304: "invalid PDU mode parameter",
    330: "SMSC address unknown",
    331: "no network service",
    332: "network timeout",
    500: "unknown error (usually: no network)",
}

SmsCallback = Callable[[Deliver], Awaitable[None] | None]
UndecodableCallback = Callable[[str, str], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class ModemSettings:
    personality: str = GENERIC  # "iridium" or "generic" (Tiantong and 27.007 terminals)
    poll_interval_s: float = 30.0
    poll_backoff_max_s: float = 300.0
    new_message_indication: str = "AT+CNMI=2,1,0,0,0"
    signal_timeout_s: float = 60.0  # +CSQ may block on Iridium
    list_timeout_s: float = 60.0
    sms_timeout_s: float = 120.0  # +CMGS over a geostationary link


@dataclass(frozen=True, slots=True)
class Readings:
    """The last values the terminal reported (``None``: not known or not supported)."""

    registration: int | None = None  # +CREG stat
    signal_raw: int | None = None  # +CSQ rssi 0-31/99, or Iridium bars 0-5
    signal_bars: int | None = None  # 0-5 on both personalities
    battery_percent: int | None = None
    updated: datetime | None = None

    @property
    def registered(self) -> bool | None:
        return None if self.registration is None else self.registration in REGISTERED


ModemHealth = Literal["ok", "degraded", "offline", "fault", "unknown"]


@dataclass(frozen=True, slots=True)
class ModemStatus:
    """For health: ``ok``, ``degraded`` (no signal, not registered, resynchronising),
    ``offline`` (port gone), ``fault`` (terminal does not answer), ``unknown``."""

    status: ModemHealth
    detail: str
    since: datetime


class SmsSendError(Exception):
    """An SMS (or one of its parts) was not accepted by the terminal."""

    def __init__(
        self, number: str, part: int, parts: int, sent: list[int], code: int | None, reason: str
    ) -> None:
        where = f"part {part}/{parts}" if parts > 1 else "message"
        super().__init__(f"SMS to {number}: {where} not sent: {reason}")
        self.number = number
        self.part = part
        self.parts = parts
        self.sent_references = sent
        self.code = code
        self.reason = reason


def csq_bars(rssi: int) -> int | None:
    """27.007 rssi (0-31, 99 unknown) as 0-5 bars, the scale Iridium reports."""
    if rssi == 99 or rssi < 0:
        return None
    return min(5, (rssi + 5) // 6) if rssi else 0


def parse_ints(value: str) -> list[int]:
    """``"000,001"`` → ``[0, 1]``; non-numbers (quoted fields) are skipped."""
    out = []
    for field in value.split(","):
        field = field.strip().strip('"')
        if field.isdecimal():
            out.append(int(field))
    return out


class Modem:
    """Health, readings and SMS of one terminal; :meth:`start` it after the channel."""

    def __init__(
        self,
        channel: AtChannel,
        *,
        clock: Clock,
        settings: ModemSettings | None = None,
        on_sms: SmsCallback | None = None,
        on_undecodable: UndecodableCallback | None = None,
    ) -> None:
        self.channel = channel
        self.settings = settings or ModemSettings()
        self._clock = clock
        self._on_sms = on_sms
        self._on_undecodable = on_undecodable
        self.readings = Readings()
        self._status = ModemStatus("unknown", "not started", clock.now())
        self._changed = asyncio.Event()
        self._inbox: asyncio.Queue[int | Deliver] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._inited_generation = -1
        self._battery_supported = True
        self._failures = 0
        self._reference = random.randrange(256)
        self.sent_messages = 0
        self.received_messages = 0
        self.sweeps = 0
        self._status_listeners: list[Callable[[ModemStatus], None]] = []
        channel.add_urc_listener(self._on_urc)
        channel.add_state_listener(self._on_channel_state)

    async def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._run(), name="modem poll"),
                asyncio.create_task(self._read_inbox(), name="modem inbox"),
            ]

    def __repr__(self) -> str:
        r = self.readings
        running = "running" if self._tasks else "stopped"
        return (f"<Modem {self.channel.port} {running} {self._status.status}"
                f" ({self._status.detail}) signal_bars={r.signal_bars}"
                f" registration={r.registration} sent={self.sent_messages}"
                f" received={self.received_messages}>")

    async def close(self) -> None:
        """Stop polling and reading the inbox; closing again does nothing."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            await cancel_and_wait([task])

    def add_status_listener(self, listener: Callable[[ModemStatus], None]) -> None:
        """``listener`` hears each change of status or detail (to journal it, light a LED)."""
        self._status_listeners.append(listener)

    @property
    def status(self) -> ModemStatus:
        return self._status

    @property
    def initialised(self) -> bool:
        return self._inited_generation == self.channel.generation

    # --- SMS out -----------------------------------------------------------------

    async def send_sms(
        self,
        number: str,
        text: str,
        *,
        reference: int | None = None,
        ref_bits: int = 8,
        first_part: int = 1,
    ) -> list[int]:
        """Send ``text`` (split into parts if needed); the ``+CMGS`` reference of each part.

        Raises :class:`SmsSendError` naming the part that failed, the references of
        the parts already sent, and the ``+CMS ERROR`` code (500: usually no network).
        A retry passes the same ``reference`` and ``first_part`` (the part that failed)
        so the recipient's phone joins the parts into one message.
        """
        if reference is None:
            self._reference = (self._reference + 1) % (1 << ref_bits)
            reference = self._reference
        pdus = encode_submit(number, text, reference=reference, ref_bits=ref_bits)
        sent: list[int] = []
        for part, pdu in enumerate(pdus, start=1):
            if part < first_part:
                continue
            try:
                response = await self.channel.command_with_body(
                    f"AT+CMGS={pdu.tpdu_length}", pdu.hex, prefix="+CMGS:",
                    timeout_s=self.settings.sms_timeout_s,
                )
            except AtCommandError as exc:
                reason = exc.final.line
                if exc.code in CMS_REASONS:
                    reason = f"{exc.final.line} ({CMS_REASONS[exc.code]})"
                raise SmsSendError(number, part, len(pdus), sent, exc.code, reason) from exc
            except (AtTimeout, AtUnavailable) as exc:
                raise SmsSendError(number, part, len(pdus), sent, None, str(exc)) from exc
            values = parse_ints(response.values[0]) if response.values else []
            sent.append(values[0] if values else -1)
        self.sent_messages += 1
        return sent

    # --- SMS in ------------------------------------------------------------------

    def _on_urc(self, line: Line) -> None:
        text = line.text
        if text.startswith("+CMTI:"):
            numbers = parse_ints(text[6:])
            if numbers:
                self._inbox.put_nowait(numbers[-1])
        elif text.startswith("+CMT:") and line.pdu:
            self._queue_pdu(line.pdu)
        elif text.startswith("+CIEV:"):
            self._on_indicator(parse_ints(text[6:]))

    def _queue_pdu(self, pdu: str) -> None:
        try:
            self._inbox.put_nowait(decode_deliver(pdu))
        except PduError as exc:
            log.warning("undecodable +CMT PDU %s: %s", pdu, exc)
            asyncio.get_running_loop().create_task(self._report_undecodable(pdu, str(exc)))

    async def _read_inbox(self) -> None:
        while True:
            item = await self._inbox.get()
            try:
                if isinstance(item, Deliver):
                    await self._deliver(item)
                else:
                    await self._read_stored(item)
            except AtError as exc:
                log.info("stored message %s left for the next sweep: %s", item, exc)
            except Exception:
                log.exception("incoming SMS handler failed; message kept on the terminal")

    async def _read_stored(self, index: int) -> None:
        response = await self.channel.command(f"AT+CMGR={index}", prefix="+CMGR:")
        if response.lines and response.lines[0].pdu:
            await self._take_stored(index, response.lines[0].pdu)

    async def _take_stored(self, index: int, pdu: str) -> None:
        try:
            message = decode_deliver(pdu)
        except PduError as exc:
            log.warning("undecodable stored message %d: %s", index, exc)
            await self._report_undecodable(pdu, str(exc))
        else:
            await self._deliver(message)
        await self.channel.command(f"AT+CMGD={index}")

    async def _sweep(self) -> None:
        """Take every message stored on the terminal (read or not) at start."""
        response = await self.channel.command(
            "AT+CMGL=4", prefix="+CMGL:", timeout_s=self.settings.list_timeout_s
        )
        self.sweeps += 1
        for line in response.lines:
            numbers = parse_ints(line.text[6:])
            if numbers and line.pdu:
                await self._take_stored(numbers[0], line.pdu)

    async def _deliver(self, message: Deliver) -> None:
        self.received_messages += 1
        if self._on_sms is not None:
            await _settle(self._on_sms(message))

    async def _report_undecodable(self, pdu: str, error: str) -> None:
        if self._on_undecodable is not None:
            await _settle(self._on_undecodable(pdu, error))

    # --- health ------------------------------------------------------------------

    def _on_channel_state(self, state: ChannelState) -> None:
        self._changed.set()
        self._update_status()

    def _on_indicator(self, values: list[int]) -> None:
        if len(values) != 2:
            return
        indicator, value = values
        if indicator == 0 and self.settings.personality == IRIDIUM:
            self._set_readings(signal_raw=value, signal_bars=value)
        elif indicator == 1 and self.settings.personality == IRIDIUM:
            self._set_readings(registration=1 if value else 0)

    async def _run(self) -> None:
        while True:
            self._changed.clear()  # set again by any channel change while we work
            if not self._channel_ready():
                await self._changed.wait()
                continue
            try:
                if not self.initialised:
                    await self._initialise()
                await self._poll()
                self._failures = 0
            except AtUnavailable:
                if not self._channel_ready():
                    continue  # wait for the channel to come back
            except AtError as exc:
                self._failures += 1
                log.info("modem poll failed (%d in a row): %s", self._failures, exc)
            self._update_status()
            interval = min(
                self.settings.poll_interval_s * 2 ** min(self._failures, 10),
                self.settings.poll_backoff_max_s,
            )
            await event_or_timeout(self._clock, self._changed, interval)

    async def _initialise(self) -> None:
        await self.channel.command("ATE0")
        generation = self.channel.generation
        for command in ("AT+CMEE=1", "AT+CMGF=0"):
            await self.channel.command(command)
        optional = [self.settings.new_message_indication, "AT+CLIP=1"]
        if self.settings.personality == IRIDIUM:
            optional.append("AT+CIER=1,1,1")
        for command in optional:
            try:
                await self.channel.command(command)
            except AtCommandError as exc:
                log.warning("terminal refused %s: %s", command, exc.final.line)
        self._battery_supported = True
        self._inited_generation = generation
        log.info("terminal initialised (generation %d)", generation)
        await self._sweep()

    async def _poll(self) -> None:
        creg = await self.channel.command("AT+CREG?", prefix="+CREG:")
        numbers = parse_ints(creg.values[0]) if creg.values else []
        registration = numbers[1] if len(numbers) >= 2 else (numbers[0] if numbers else None)
        if self.settings.personality == IRIDIUM:
            csqf = await self.channel.command("AT+CSQF", prefix="+CSQF:")
            bars = parse_ints(csqf.values[0])[0] if csqf.values else None
            raw = bars
        else:
            csq = await self.channel.command(
                "AT+CSQ", prefix="+CSQ:", timeout_s=self.settings.signal_timeout_s
            )
            raw = parse_ints(csq.values[0])[0] if csq.values else None
            bars = None if raw is None else csq_bars(raw)
        battery = self.readings.battery_percent
        if self._battery_supported:
            try:
                cbc = await self.channel.command("AT+CBC", prefix="+CBC:")
                values = parse_ints(cbc.values[0]) if cbc.values else []
                battery = values[1] if len(values) >= 2 else None
            except AtCommandError:
                self._battery_supported = False
                battery = None
        self._set_readings(
            registration=registration, signal_raw=raw, signal_bars=bars, battery_percent=battery
        )

    def _set_readings(self, **values: int | None) -> None:
        self.readings = replace(self.readings, **values, updated=self._clock.now())
        self._update_status()

    def _channel_ready(self) -> bool:
        """Asked afresh each time: the channel changes state while this task awaits."""
        return self.channel.state is ChannelState.READY

    def _update_status(self) -> None:
        state = self.channel.state
        r = self.readings
        status: ModemHealth
        if state is ChannelState.CLOSED:
            status, detail = "unknown", "channel closed"
        elif state is ChannelState.OFFLINE:
            status, detail = "offline", self.channel.detail
        elif state is ChannelState.FAULT:
            status, detail = "fault", self.channel.detail
        elif state is ChannelState.UNSYNCED:
            status, detail = "degraded", f"resynchronising: {self.channel.detail}"
        elif r.updated is None:
            status, detail = "unknown", "not polled yet"
        elif not r.registered:
            status, detail = "degraded", f"not registered (+CREG stat {r.registration})"
        elif not r.signal_bars:
            status, detail = "degraded", "no signal"
        else:
            status, detail = "ok", f"registered, signal {r.signal_bars}/5"
        if status != self._status.status:
            log.info("satellite terminal %s: %s", status, detail)
            self._status = ModemStatus(status, detail, self._clock.now())
        elif detail != self._status.detail:
            self._status = replace(self._status, detail=detail)
        else:
            return
        for listener in self._status_listeners:
            try:
                listener(self._status)
            except Exception:
                log.exception("status listener failed")


async def _settle(result: Awaitable[None] | None) -> None:
    """Callbacks may be plain functions or coroutines; wait for the latter."""
    if inspect.isawaitable(result):
        await result
