"""Messages the terminal received: read, handed over, and only then deleted; and the SIM
store swept so that none is stranded there.

A terminal announces a stored message with ``+CMTI`` (the station's ``+CNMI`` asks for
that), pushes one with ``+CMT``, and a status report with ``+CDS`` (or stores it and
says ``+CDSI``). Any of these can be torn by a line the terminal put in the middle, and
an announcement can be lost while the port is being reopened, so the store is swept
(``+CMGL=4``) after every resynchronisation, after every failed send, after a torn
PDU, and every ``sweep_interval_s`` anyway.

A stored message is deleted (``+CMGD``) only after its handler returned, which for the
station means the message (or its part) is on disk and journaled; a handler that fails
leaves it on the SIM, where the next sweep finds it again. A message that survives two
sweeps is *stuck* (health says so). A terminal that pushes ``+CMT`` and keeps a copy
too would have each message handed over twice; the PDUs taken from pushes are
remembered and their stored copies deleted unread.

Stored outgoing messages (``+CMGL`` stat 2 and 3, written on the handset) are not ours
and stay where they are.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Final

from drivers.clock import Clock
from sat_phone.at_channel import AtChannel, AtError
from sat_phone.at_parser import Line, announced_length, has_smsc
from sat_phone.pdu import (
    Deliver,
    PduError,
    StatusReport,
    decode_deliver,
    decode_status_report,
    message_type,
)
from sat_phone.waiting import first_of

log = logging.getLogger(__name__)

SWEEP: Final = "sweep"
REMEMBERED_PUSHES = 64
STORED_OUTGOING = (2, 3)  # +CMGL stat: stored unsent, stored sent
_STRAY_PDU = re.compile(r"[0-9A-Fa-f]{14,}")

SmsCallback = Callable[[Deliver], Awaitable[None] | None]
ReportCallback = Callable[[StatusReport], Awaitable[None] | None]
UndecodableCallback = Callable[[str, str], Awaitable[None] | None]


def parse_ints(value: str) -> list[int]:
    """``"000,001"`` → ``[0, 1]``; non-numbers (quoted fields) are skipped."""
    out = []
    for field in value.split(","):
        field = field.strip().strip('"')
        if field.isdecimal():
            out.append(int(field))
    return out


class Inbox:
    """The terminal's received messages, read by one task in order of arrival."""

    def __init__(
        self,
        channel: AtChannel,
        *,
        clock: Clock,
        may_sweep: Callable[[], bool],
        on_sms: SmsCallback | None = None,
        on_report: ReportCallback | None = None,
        on_undecodable: UndecodableCallback | None = None,
        on_change: Callable[[], None] | None = None,
        list_timeout_s: float = 60.0,
        sweep_interval_s: float = 60.0,
    ) -> None:
        self.channel = channel
        self.list_timeout_s = list_timeout_s
        self.sweep_interval_s = sweep_interval_s
        self._clock = clock
        self._may_sweep = may_sweep
        self._on_sms = on_sms
        self._on_report = on_report
        self._on_undecodable = on_undecodable
        self._on_change = on_change
        self._queue: asyncio.Queue[int | Deliver | StatusReport | str] = asyncio.Queue()
        self._sweep_queued = False
        self._idle = asyncio.Event()
        self._last_sweep = clock.monotonic()
        self._pushed: OrderedDict[str, None] = OrderedDict()
        self._left: dict[int, datetime] = {}  # on the SIM after the last sweep, since
        self.stuck: dict[int, datetime] = {}  # … and after the one before it too
        self.storage: tuple[int, int] | None = None  # (used, total) from +CPMS?
        self.received = 0
        self.reports = 0
        self.sweeps = 0
        self.torn = 0
        self.undecodable = 0
        self.last_undecodable: datetime | None = None

    # --- what the terminal says ---------------------------------------------------

    def take_urc(self, line: Line) -> bool:
        """Handle a URC that concerns received messages; False when it is not one."""
        text = line.text
        if text.startswith(("+CMTI:", "+CDSI:")):
            numbers = parse_ints(text[6:])
            if numbers:
                self._put(numbers[-1])
            return True
        if text.startswith(("+CMT:", "+CDS:")):
            if line.pdu is None:
                self._torn(text)
            else:
                self._take_push(text, line.pdu)
            return True
        if _STRAY_PDU.fullmatch(text):  # the PDU of a torn header, arriving on its own
            self._torn(text)
            return True
        return False

    def request_sweep(self, reason: str) -> None:
        """Sweep the store as soon as the reader is free (once, however often asked)."""
        if not self._sweep_queued:
            log.debug("SIM sweep requested: %s", reason)
            self._sweep_queued = True
            self._put(SWEEP)

    async def idle(self) -> None:
        """Return once nothing is queued and nothing is being read (for tests and
        benchmarks that move a manual clock: no command of ours is in flight then)."""
        await self._idle.wait()

    def _put(self, item: int | Deliver | StatusReport | str) -> None:
        self._idle.clear()
        self._queue.put_nowait(item)

    def _torn(self, text: str) -> None:
        self.torn += 1
        log.info("torn PDU (%s): the message is read from storage", text[:40])
        self.request_sweep("torn PDU")

    def _take_push(self, header: str, pdu: str) -> None:
        smsc = _smsc(header, pdu)
        try:
            if header.startswith("+CDS:"):
                self._put(decode_status_report(pdu, has_smsc=smsc))
            else:
                self._put(decode_deliver(pdu, has_smsc=smsc))
        except PduError as exc:
            log.warning("undecodable %s PDU %s: %s", header[:5], pdu, exc)
            asyncio.get_running_loop().create_task(self._report_undecodable(pdu, str(exc)))
            return
        self._pushed[pdu.upper()] = None
        while len(self._pushed) > REMEMBERED_PUSHES:
            self._pushed.popitem(last=False)

    # --- the reader -----------------------------------------------------------------

    async def run(self) -> None:
        while True:
            item = await self._next()
            try:
                if item == SWEEP:
                    self._sweep_queued = False
                    await self._sweep()
                elif isinstance(item, Deliver):
                    await self._hand_over(item)
                elif isinstance(item, StatusReport):
                    await self._report(item)
                elif isinstance(item, int):
                    await self._read_stored(item)
            except AtError as exc:
                log.info("SIM store: %s; left for the next sweep", exc)
            except Exception:
                log.exception("incoming SMS handler failed; message kept on the terminal")

    async def _next(self) -> int | Deliver | StatusReport | str:
        """The next item, or a sweep when ``sweep_interval_s`` passed without one."""
        while True:
            if not self._queue.empty():
                return self._queue.get_nowait()
            due = self._last_sweep + self.sweep_interval_s - self._clock.monotonic()
            getter = asyncio.ensure_future(self._queue.get())
            self._idle.set()
            try:
                item: int | Deliver | StatusReport | str = await first_of(
                    self._clock, [getter], max(0.0, due))
                return item
            except TimeoutError:
                self._last_sweep = self._clock.monotonic()
                if self._may_sweep():
                    self.request_sweep("periodic")
            finally:
                getter.cancel()

    async def _read_stored(self, index: int) -> None:
        response = await self.channel.command(f"AT+CMGR={index}", prefix="+CMGR:")
        if not response.lines:
            return
        line = response.lines[0]
        if line.pdu is None:
            self._torn(line.text)
        else:
            await self._take_stored(index, line.text, line.pdu)

    async def _take_stored(self, index: int, header: str, pdu: str) -> None:
        if pdu.upper() in self._pushed:
            log.debug("stored copy %d of a pushed message: deleted unread", index)
        else:
            smsc = _smsc(header, pdu)
            try:
                kind = message_type(pdu, has_smsc=smsc)
                if kind == 1:
                    return  # an outgoing message stored on the handset: not ours
                if kind == 2:
                    await self._report(decode_status_report(pdu, has_smsc=smsc))
                else:
                    await self._hand_over(decode_deliver(pdu, has_smsc=smsc))
            except PduError as exc:
                log.warning("undecodable stored message %d: %s", index, exc)
                await self._report_undecodable(pdu, str(exc))
        await self.channel.command(f"AT+CMGD={index}")

    async def _sweep(self) -> None:
        """Take every received message stored on the terminal."""
        self._last_sweep = self._clock.monotonic()
        response = await self.channel.command(
            "AT+CMGL=4", prefix="+CMGL:", timeout_s=self.list_timeout_s
        )
        self.sweeps += 1
        left: set[int] = set()
        for line in response.lines:
            fields = parse_ints(line.text[6:])
            if not fields or (len(fields) > 1 and fields[1] in STORED_OUTGOING):
                continue
            index = fields[0]
            try:
                if line.pdu is None:
                    self.torn += 1
                    await self._read_stored(index)  # torn in the listing: read it alone
                else:
                    await self._take_stored(index, line.text, line.pdu)
            except AtError:
                left.add(index)
                raise
            except Exception:
                log.exception("stored message %d: handler failed; kept on the terminal", index)
                left.add(index)
        self._note_left(left)
        await self._check_storage()  # what is left: is there room for the next message?

    async def _check_storage(self) -> None:
        try:
            response = await self.channel.command("AT+CPMS?", prefix="+CPMS:")
        except AtError as exc:
            log.info("SIM storage not readable: %s", exc)
            return
        numbers = parse_ints(response.values[0]) if response.values else []
        storage = (numbers[0], numbers[1]) if len(numbers) >= 2 else None
        if storage != self.storage:
            if storage is not None and storage[0] >= storage[1] > 0:
                log.warning("SIM message storage full (%d/%d)", *storage)
            self.storage = storage
            self._changed()

    def _note_left(self, left: set[int]) -> None:
        now = self._clock.now()
        previous = self._left
        self._left = {index: previous.get(index, now) for index in left}
        stuck = {index: since for index, since in self._left.items() if index in previous}
        if stuck != self.stuck:
            if stuck:
                log.warning("messages stuck on the SIM: %s", sorted(stuck))
            self.stuck = stuck
            self._changed()

    # --- handing over ---------------------------------------------------------------

    async def _hand_over(self, message: Deliver) -> None:
        self.received += 1
        if self._on_sms is not None:
            await _settle(self._on_sms(message))

    async def _report(self, report: StatusReport) -> None:
        self.reports += 1
        if self._on_report is not None:
            await _settle(self._on_report(report))

    async def _report_undecodable(self, pdu: str, error: str) -> None:
        self.undecodable += 1
        self.last_undecodable = self._clock.now()
        self._changed()
        if self._on_undecodable is not None:
            await _settle(self._on_undecodable(pdu, error))

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()


def _smsc(header: str, pdu: str) -> bool:
    """Whether the PDU carries the service-centre octets (the parser checked it is one)."""
    length = announced_length(header)
    return True if length is None else has_smsc(pdu, length) is not False


async def _settle(result: Awaitable[None] | None) -> None:
    """Callbacks may be plain functions or coroutines; wait for the latter."""
    if inspect.isawaitable(result):
        await result
