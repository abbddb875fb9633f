"""The satellite terminal as the station sees it: is it there, registered, with signal;
and SMS in and out.

The modem sits on an :class:`~sat_phone.at_channel.AtChannel` and never touches the
port. It re-runs its init sequence whenever the channel's ``generation`` moves (the
port was reopened, the terminal was reset, or echo came back on), because a terminal
forgets ``ATE0``, ``+CMEE``, PDU mode and new-message indications when it restarts.

Incoming messages and status reports are the :class:`~sat_phone.inbox.Inbox`'s job
(read, handed over, deleted only then; the SIM store swept after every resync, every
failed send, every torn PDU and periodically). Health is judged by
:func:`~sat_phone.terminal_status.assess` from everything the modem knows: registration
(kept even when a later poll command fails), signal, SMS sends failing in a row, a
``HARDWARE FAILURE`` the terminal announced (until it restarts), messages stuck on the
SIM, a full SIM store, a missing SMS centre (both checked at start: ``+CPMS``, ``+CSCA``),
an undecodable message. Other lines the terminal volunteers are *notices*: logged,
heard by ``on_notice``, shown in health for a while; never dropped in silence.

Sent messages ask for a status report (TP-SRR) when the terminal accepts ``+CNMI``
with ``ds=1``; the reports arrive as ``+CDS`` and go to ``on_report``.

Iridium quirks: ``+CSQ`` can block 10–50 s or end in ``ERROR`` when not registered,
so the Iridium personality asks ``+CSQF`` (answers at once with the last value) and
turns on ``+CIER`` so signal and service changes arrive as ``+CIEV``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

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
from sat_phone.calls import call_urc
from sat_phone.inbox import Inbox, ReportCallback, SmsCallback, UndecodableCallback, parse_ints
from sat_phone.pdu import encode_submit
from sat_phone.terminal_status import (
    REGISTERED,
    Limits,
    ModemHealth,
    Readings,
    TerminalFacts,
    assess,
)
from sat_phone.waiting import event_or_timeout

__all__ = ["GENERIC", "IRIDIUM", "REGISTERED", "Modem", "ModemHealth", "ModemSettings",
           "ModemStatus", "Readings", "SmsSendError", "csq_bars", "parse_ints"]

log = logging.getLogger(__name__)

IRIDIUM = "iridium"
GENERIC = "generic"
#: New messages stored and announced (+CMTI), status reports pushed (+CDS, ds=1).
INDICATIONS = "AT+CNMI=2,1,0,1,0"
#: … for a terminal that refuses status reports, or when they are not wanted.
INDICATIONS_WITHOUT_REPORTS = "AT+CNMI=2,1,0,0,0"
#: Lines other parts of the station handle (calls), or that need nothing.
OTHERS_URCS = ("RING", "+CRING:", "+CLIP:", "+CCWA:", "+CLCC:", "CONNECT", "+CUSD:",
               "+CBM:", "+SBDRING")
#: Answers of our own commands: one arriving as a URC is late (its command timed out).
LATE_ANSWERS = ("+CSQ:", "+CSQF:", "+CBC:", "+CMGS:", "+CMEE:", "+CPMS:", "+CSCA:", "+CMGL:",
                "+CMGR:", "+CGSN", "+CIER:")
NOTICE_REPEAT_S = 600.0  # the same notice again within this is logged at debug level
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

@dataclass(frozen=True, slots=True)
class ModemSettings:
    personality: str = GENERIC  # "iridium" or "generic" (Tiantong and 27.007 terminals)
    poll_interval_s: float = 30.0
    poll_backoff_max_s: float = 300.0
    delivery_reports: bool = True
    signal_timeout_s: float = 60.0  # +CSQ may block on Iridium
    list_timeout_s: float = 60.0
    sms_timeout_s: float = 60.0  # per part; see ChannelSettings for why
    sweep_interval_s: float = 60.0
    limits: Limits = field(default_factory=Limits)


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


class Modem:
    """Health, readings and SMS of one terminal; :meth:`start` it after the channel."""

    def __init__(
        self,
        channel: AtChannel,
        *,
        clock: Clock,
        settings: ModemSettings | None = None,
        on_sms: SmsCallback | None = None,
        on_report: ReportCallback | None = None,
        on_undecodable: UndecodableCallback | None = None,
        on_notice: Callable[[str], None] | None = None,
    ) -> None:
        self.channel = channel
        self.settings = settings = settings or ModemSettings()
        self._clock = clock
        self._on_notice = on_notice
        self.inbox = Inbox(
            channel, clock=clock, may_sweep=self._channel_ready_and_initialised,
            on_sms=on_sms, on_report=on_report, on_undecodable=on_undecodable,
            on_change=self._update_status, list_timeout_s=settings.list_timeout_s,
            sweep_interval_s=settings.sweep_interval_s,
        )
        self.readings = Readings()
        self._status = ModemStatus("unknown", "not started", clock.now())
        self._changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._inited_generation = -1
        self._battery_supported = True
        self._failures = 0
        self._poll_error: str | None = None
        self._signal_error: str | None = None
        self._reference = random.randrange(256)
        self.delivery_reports = False  # the terminal accepted ds=1 at init
        self.send_failures = 0
        self.last_send_error: str | None = None
        self.hardware_failure: tuple[str, int] | None = None  # (text, channel generation)
        self.notices: deque[tuple[datetime, str]] = deque(maxlen=20)
        self.notice_count = 0
        self._notice_logged: dict[str, datetime] = {}
        self.sent_messages = 0
        self._status_listeners: list[Callable[[ModemStatus], None]] = []
        channel.add_urc_listener(self._on_urc)
        channel.add_state_listener(self._on_channel_state)

    @property
    def received_messages(self) -> int:
        return self.inbox.received

    @property
    def sweeps(self) -> int:
        return self.inbox.sweeps

    async def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._run(), name="modem poll"),
                asyncio.create_task(self.inbox.run(), name="modem inbox"),
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
        last_part: int | None = None,
    ) -> list[int]:
        """Send ``text`` (split into parts if needed); the ``+CMGS`` reference of each part.

        Raises :class:`SmsSendError` naming the part that failed, the references of
        the parts already sent, and the ``+CMS ERROR`` code (500: usually no network).
        A retry passes the same ``reference`` and ``first_part`` (the part that failed)
        so the recipient's phone joins the parts into one message; ``last_part`` stops
        early (the outbox sends part by part, so a report can go between two parts).
        """
        if reference is None:
            self._reference = (self._reference + 1) % (1 << ref_bits)
            reference = self._reference
        pdus = encode_submit(number, text, reference=reference, ref_bits=ref_bits,
                             status_report=self.delivery_reports)
        last_part = len(pdus) if last_part is None else min(last_part, len(pdus))
        sent: list[int] = []
        for part in range(first_part, last_part + 1):
            pdu = pdus[part - 1]
            try:
                response = await self.channel.command_with_body(
                    f"AT+CMGS={pdu.tpdu_length}", pdu.hex, prefix="+CMGS:",
                    timeout_s=self.settings.sms_timeout_s,
                )
            except AtCommandError as exc:
                reason = exc.final.line
                if exc.code in CMS_REASONS:
                    reason = f"{exc.final.line} ({CMS_REASONS[exc.code]})"
                raise self._send_failed(
                    SmsSendError(number, part, len(pdus), sent, exc.code, reason)) from exc
            except (AtTimeout, AtUnavailable) as exc:
                raise self._send_failed(
                    SmsSendError(number, part, len(pdus), sent, None, str(exc))) from exc
            values = parse_ints(response.values[0]) if response.values else []
            sent.append(values[0] if values else -1)
        if last_part == len(pdus):
            self.sent_messages += 1
        if self.send_failures:
            self.send_failures = 0
            self._update_status()
        return sent

    def _send_failed(self, error: SmsSendError) -> SmsSendError:
        """Count a failed send for health, and sweep: a send can tear an inbound PDU."""
        self.send_failures += 1
        self.last_send_error = error.reason
        self._update_status()
        self.inbox.request_sweep("send failed")
        return error

    # --- what the terminal volunteers ---------------------------------------------

    def _on_urc(self, line: Line) -> None:
        text = line.text
        if self.inbox.take_urc(line):
            return
        if text.startswith("+CIEV:"):
            self._on_indicator(parse_ints(text[6:]))
        elif text.startswith("+CREG:"):
            stat = text[6:].strip()
            if stat.isdecimal():  # the unsolicited form, +CREG=1: "+CREG: <stat>"
                self._set_readings(registration=int(stat))
            else:  # "<n>,<stat>" is a late answer to AT+CREG?; the next poll asks again
                log.debug("late +CREG answer ignored: %r", text)
        elif text.startswith("HARDWARE FAILURE"):
            self.hardware_failure = (text, self.channel.generation)
            self._notice(text, hardware=True)
            self._update_status()
        elif text.startswith(LATE_ANSWERS):
            log.info("late answer to a command that gave up on it: %r", text)
        elif call_urc(text) is None and not text.startswith(OTHERS_URCS):
            self._notice(text)

    def _notice(self, text: str, *, hardware: bool = False) -> None:
        """A line the terminal volunteered: logged, kept, heard; never silently dropped.
        The same line again within ``NOTICE_REPEAT_S`` is counted and logged at debug
        level only (a chatty terminal must not fill the journal)."""
        now = self._clock.now()
        self.notices.append((now, text))
        self.notice_count += 1
        repeat = timedelta(seconds=NOTICE_REPEAT_S)
        last = self._notice_logged.get(text)
        quiet = last is not None and now - last < repeat
        if not quiet:
            self._notice_logged = {t: at for t, at in self._notice_logged.items()
                                   if now - at < repeat}
            self._notice_logged[text] = now
        log.log(logging.DEBUG if quiet else logging.WARNING,
                "satellite terminal %s: %r", "hardware failure" if hardware else "notice", text)
        if not hardware:
            self._update_status()
        if self._on_notice is not None and not quiet:
            try:
                self._on_notice(text)
            except Exception:
                log.exception("notice listener failed")

    # --- health ------------------------------------------------------------------

    def _on_channel_state(self, state: ChannelState) -> None:
        self._changed.set()
        if state is ChannelState.READY and self.initialised:
            self.inbox.request_sweep("resynchronised")  # a +CMTI may have been lost
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
                self._poll_error = str(exc)
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
        self.delivery_reports = await self._indications()
        optional = ["AT+CLIP=1"]
        if self.settings.personality == IRIDIUM:
            optional.append("AT+CIER=1,1,1")
        for command in optional:
            await self._optional(command)
        await self._check_smsc()
        self._battery_supported = True
        self._inited_generation = generation
        if self.hardware_failure is not None and self.hardware_failure[1] != generation:
            log.info("terminal restarted since it reported %s", self.hardware_failure[0])
            self.hardware_failure = None
        log.info("terminal initialised (generation %d)", generation)
        self.inbox.request_sweep("initialised")

    async def _optional(self, command: str) -> bool:
        try:
            await self.channel.command(command)
        except AtCommandError as exc:
            log.warning("terminal refused %s: %s", command, exc.final.line)
            return False
        return True

    async def _indications(self) -> bool:
        """New-message indications; True when status reports will come (+CDS)."""
        if self.settings.delivery_reports and await self._optional(INDICATIONS):
            return True
        await self._optional(INDICATIONS_WITHOUT_REPORTS)
        return False

    async def _check_smsc(self) -> None:
        """The SMS centre the terminal sends through; none set means no SMS goes out."""
        try:
            response = await self.channel.command("AT+CSCA?", prefix="+CSCA:")
        except AtCommandError as exc:
            log.warning("SMS centre not readable: %s", exc.final.line)
            return
        value = response.values[0] if response.values else ""
        smsc = value.split(",")[0].strip().strip('"')
        if not smsc:
            log.warning("the terminal has no SMS centre set (+CSCA)")
        self._set_readings(smsc=smsc)

    async def _poll(self) -> None:
        creg = await self.channel.command("AT+CREG?", prefix="+CREG:")
        numbers = parse_ints(creg.values[0]) if creg.values else []
        registration = numbers[1] if len(numbers) >= 2 else (numbers[0] if numbers else None)
        read: dict[str, int | None] = {"registration": registration}
        try:
            read.update(await self._poll_rest())
        finally:  # registration kept whatever failed after it; judged with the rest at once
            self._set_readings(**read)

    async def _poll_rest(self) -> dict[str, int | None]:
        raw, bars = await self._signal()
        battery = self.readings.battery_percent
        if self._battery_supported:
            try:
                cbc = await self.channel.command("AT+CBC", prefix="+CBC:")
                values = parse_ints(cbc.values[0]) if cbc.values else []
                battery = values[1] if len(values) >= 2 else None
            except AtCommandError:
                self._battery_supported = False
                battery = None
        return {"signal_raw": raw, "signal_bars": bars, "battery_percent": battery}

    async def _signal(self) -> tuple[int | None, int | None]:
        """(raw, bars); unknown when the terminal refuses (+CSQ errors while unregistered)."""
        try:
            if self.settings.personality == IRIDIUM:
                csqf = await self.channel.command("AT+CSQF", prefix="+CSQF:")
                bars = parse_ints(csqf.values[0])[0] if csqf.values else None
                self._signal_error = None
                return bars, bars
            csq = await self.channel.command(
                "AT+CSQ", prefix="+CSQ:", timeout_s=self.settings.signal_timeout_s
            )
        except AtCommandError as exc:
            self._signal_error = f"{exc.command}: {exc.final.line}"
            return None, None
        self._signal_error = None
        raw = parse_ints(csq.values[0])[0] if csq.values else None
        return raw, None if raw is None else csq_bars(raw)

    def _set_readings(self, **values: Any) -> None:
        self.readings = replace(self.readings, **values, updated=self._clock.now())
        self._update_status()

    def _channel_ready(self) -> bool:
        """Asked afresh each time: the channel changes state while this task awaits."""
        return self.channel.state is ChannelState.READY

    def _channel_ready_and_initialised(self) -> bool:
        return self._channel_ready() and self.initialised

    def facts(self) -> TerminalFacts:
        """Everything health is judged on, besides the channel's state."""
        inbox = self.inbox
        return TerminalFacts(
            readings=self.readings, now=self._clock.now(), poll_failures=self._failures,
            poll_error=self._poll_error, signal_error=self._signal_error,
            send_failures=self.send_failures, send_error=self.last_send_error,
            hardware_failure=self.hardware_failure[0] if self.hardware_failure else None,
            storage=inbox.storage, stuck_since=list(inbox.stuck.values()),
            last_undecodable=inbox.last_undecodable,
            last_notice=self.notices[-1] if self.notices else None,
        )

    def _update_status(self) -> None:
        state = self.channel.state
        status: ModemHealth
        if state is ChannelState.CLOSED:
            status, detail = "unknown", "channel closed"
        elif state is ChannelState.OFFLINE:
            status, detail = "offline", self.channel.detail
        elif state is ChannelState.FAULT:
            status, detail = "fault", self.channel.detail
        elif state is ChannelState.UNSYNCED:
            status, detail = "degraded", f"resynchronising: {self.channel.detail}"
        else:
            status, detail = assess(self.facts(), self.settings.limits)
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

