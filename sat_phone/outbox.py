"""The persistent SMS outbox: a report queued is a report sent, even across ``kill -9``.

Over a satellite link an SMS fails for ordinary reasons (no network, ``+CMS ERROR:
500``, the terminal rebooting), and the first report (首报) must still go out. So a
message is written to SQLite (``synchronous=FULL``) before :meth:`Outbox.enqueue`
returns, and a sender task retries it with backoff until it is sent or has used its
attempts. Each attempt is reported to ``on_attempt`` (the daemon journals it).

Reports first: each message has a priority class, stored with it. First reports (首报)
and 叫应 (:attr:`SmsPriority.REPORT`) go before everything else, and a routine
multipart message is sent part by part and steps aside between two parts when a report
is waiting, so one slow or stuck send delays a report by at most one part's timeout.

A multipart message keeps its concatenation reference for life, and a retry resumes
at the part that failed, so the recipient's phone still joins the parts into one. Each
part's ``+CMGS`` reference is stored as soon as the part is sent; with status reports
requested, each part's delivery (pending / delivered / failed) is kept beside it, set
by :meth:`Outbox.delivery_report` when the SMS centre's report comes back.
The schedule is kept in wall-clock time, which survives a restart; messages found
pending at start are due at once.

A full or read-only disk must not silence a first report: a message the database does
not take is kept in memory (under the id it will have on disk), sent like any other,
and written, with whatever happened to it meanwhile, as soon as the disk takes it. The
same holds for any change to a message that cannot be written. Only a restart before
then loses it, which is no worse than the disk allows.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import json
import logging
import random
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from drivers.clock import Clock
from sat_phone.modem import SmsSendError
from sat_phone.numbers import number_key
from sat_phone.pdu import DELIVERED, encode_address, split_text
from sat_phone.pdu import FAILED as DELIVERY_FAILED
from sat_phone.pdu import PENDING as DELIVERY_PENDING
from sat_phone.sqlite_store import SqliteStore, Table
from sat_phone.waiting import event_or_timeout

log = logging.getLogger(__name__)

PENDING, SENT, FAILED = "pending", "sent", "failed"
IDLE_WAKE_S = 3600.0
REPORT_SEARCH = 500  # recent messages a status report is matched against
EARLY_REPORTS_S = 600.0  # a report that names no part yet waits this long for it
EARLY_REPORTS = 64  # … and at most this many wait
#: How often rows the disk refused are offered to it again (clock seconds).
FLUSH_RETRY_S = 2.0

SendSms = Callable[..., Awaitable[list[int]]]
"""``modem.send_sms``: (number, text, *, reference, first_part, last_part) -> references."""


class SmsPriority(enum.IntEnum):
    """Which messages go first (lower first); stored with each message."""

    REPORT = 0  # first reports (首报) and 叫应: people act on them
    ROUTINE = 1  # replies, operators' messages, everything else


@dataclass(frozen=True, slots=True)
class OutboxSettings:
    max_attempts: int = 20
    retry_initial_s: float = 30.0
    retry_max_s: float = 900.0


@dataclass(frozen=True, slots=True)
class OutgoingSms:
    id: int
    number: str
    text: str
    tag: str | None
    reference: int
    parts: int
    parts_sent: int
    references: tuple[int, ...]
    state: str
    attempts: int
    created: datetime
    next_try: datetime
    last_error: str | None
    priority: SmsPriority = SmsPriority.ROUTINE
    #: Per part sent: None (no status report asked), else {"status": pending|delivered|
    #: failed, "code": TP-ST or None, "at": ISO time of the report or None}.
    parts_delivery: tuple[dict[str, Any] | None, ...] = ()

    @property
    def delivery(self) -> str | None:
        """The message's delivery: failed if a part failed, delivered when every part
        was, pending while any is awaited; None when no report was asked for."""
        asked = [p["status"] for p in self.parts_delivery if p is not None]
        if not asked:
            return None
        if DELIVERY_FAILED in asked:
            return DELIVERY_FAILED
        if len(asked) == self.parts and all(s == DELIVERED for s in asked):
            return DELIVERED
        return DELIVERY_PENDING


@dataclass(frozen=True, slots=True)
class Delivery:
    """A status report recorded on a part (``sms`` and ``part`` None: none matched it)."""

    sms: OutgoingSms | None
    part: int | None
    number: str
    reference: int
    status: int  # TP-ST
    outcome: str  # delivered / pending / failed


@dataclass(frozen=True, slots=True)
class _Report:
    received: float  # clock.monotonic()
    number: str
    reference: int
    status: int
    outcome: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try at sending: ``final`` when the message is now sent or given up."""

    sms: OutgoingSms
    attempt: int
    ok: bool
    error: str | None
    code: int | None
    final: bool


class Outbox(SqliteStore):
    """Queued SMS in a SQLite file, sent through ``send`` by one background task."""

    table_name = "outbox"

    def __init__(
        self,
        path: Path,
        *,
        send: SendSms,
        clock: Clock,
        settings: OutboxSettings | None = None,
        on_attempt: Callable[[Attempt], Awaitable[None] | None] | None = None,
        reports_requested: Callable[[], bool] | None = None,
        on_delivery: Callable[[Delivery], None] | None = None,
    ) -> None:
        super().__init__(path)
        self.settings = settings or OutboxSettings()
        self._send = send
        self._clock = clock
        self._on_attempt = on_attempt
        self._reports_requested = reports_requested or (lambda: False)
        self._on_delivery = on_delivery
        self._early: list[_Report] = []
        self._wake = asyncio.Event()
        self.steps_aside = 0  # times a message paused between parts for a report
        #: Rows the disk has not taken yet (whole rows, by id): sent from memory meanwhile.
        self._unsaved: dict[int, dict[str, Any]] = {}

    def _create(self, conn: sqlite3.Connection) -> None:
        conn.executescript("""
            CREATE TABLE "outbox" (
               "id" INTEGER PRIMARY KEY, "number" TEXT NOT NULL, "text" TEXT NOT NULL,
               "tag" TEXT, "reference" INTEGER, "parts" INTEGER, "parts_sent" INTEGER,
               "refs" TEXT, "state" TEXT NOT NULL, "attempts" INTEGER,
               "created" TEXT NOT NULL, "next_try" TEXT NOT NULL, "last_error" TEXT,
               "priority" INTEGER, "delivery" TEXT);
            CREATE INDEX "idx_outbox_state_next_try" ON "outbox" ("state", "next_try");
        """)

    def _upgrade(self, conn: sqlite3.Connection) -> None:
        columns = Table(conn, "outbox").columns()
        if "priority" not in columns:  # written before reports went first
            conn.execute('ALTER TABLE "outbox" ADD COLUMN "priority" INTEGER NOT NULL '
                         f"DEFAULT {int(SmsPriority.ROUTINE)}")
        if "delivery" not in columns:
            conn.execute("""ALTER TABLE "outbox" ADD COLUMN "delivery" TEXT NOT NULL """
                         "DEFAULT '[]'")

    def enqueue(
        self, number: str, text: str, *, tag: str | None = None,
        priority: SmsPriority = SmsPriority.ROUTINE,
    ) -> int:
        """Store the message durably and return its id; the sender task takes it from here."""
        encode_address(number)  # a bad number or a text too long is refused here, not later
        _, payloads = split_text(text)
        now = _iso(self._clock.now())
        row = {
            "number": number, "text": text, "tag": tag, "reference": random.randrange(256),
            "parts": len(payloads), "parts_sent": 0, "refs": "[]", "state": PENDING,
            "attempts": 0, "created": now, "next_try": now, "last_error": None,
            "priority": int(priority), "delivery": "[]",
        }
        try:
            if not self._flush():
                raise sqlite3.OperationalError(f"{len(self._unsaved)} earlier rows not written")
            message_id = self._table.insert(row)
        except sqlite3.Error as exc:
            message_id = self._next_id()
            self._unsaved[message_id] = {**row, "id": message_id}
            log.error("SMS %d to %s kept in memory, not on disk (%s): sent all the same",
                      message_id, number, exc)
        self._wake.set()
        return message_id

    def retry_now(self) -> None:
        """Make every pending message due (the terminal just came back)."""
        now = _iso(self._clock.now())
        for row in self._unsaved.values():
            if row["state"] == PENDING:
                row["next_try"] = now
        try:
            self._connection.execute(
                "UPDATE outbox SET next_try = ? WHERE state = ?", (now, PENDING))
        except sqlite3.Error as exc:
            log.warning("outbox: retry times not written (%s); due at their own time", exc)
        self._wake.set()

    def get(self, message_id: int) -> OutgoingSms:
        row = self._unsaved.get(message_id)
        return _sms(row if row is not None else self._table.get(message_id))

    def messages(self, state: str | None = None, limit: int = 100) -> list[OutgoingSms]:
        where, args = ("state = ?", [state]) if state else (None, None)
        rows = {row["id"]: row for row in self._table.rows_where(
            where, args, order_by="id desc", limit=limit)}
        rows.update((i, r) for i, r in self._unsaved.items() if state in (None, r["state"]))
        newest = sorted(rows.values(), key=lambda r: r["id"], reverse=True)
        return [_sms(row) for row in newest if state in (None, row["state"])][:limit]

    @property
    def unsaved_count(self) -> int:
        """Messages (or changes to them) kept in memory until the disk takes them."""
        return len(self._unsaved)

    def counts(self) -> dict[str, int]:
        """How many messages are in each state (every state present, 0 when none), those
        kept in memory included."""
        counts = dict.fromkeys((PENDING, SENT, FAILED), 0)
        for state, count in self._connection.execute(
            "SELECT state, COUNT(*) FROM outbox GROUP BY state"
        ):
            counts[state] = count
        for message_id, row in self._unsaved.items():
            counts[row["state"]] += 1
            if (on_disk := self._on_disk(message_id)) is not None:
                counts[on_disk] -= 1  # counted above as the disk still has it
        return counts

    def oldest_pending(self) -> datetime | None:
        """When the oldest message still waiting to be sent was queued (None: none waits)."""
        pending = self._pending()
        return min(m.created for m in pending) if pending else None

    def delivery_report(
        self, number: str, reference: int, status: int, outcome: str, at: datetime
    ) -> Delivery | None:
        """Record a status report on the part it names: the newest part sent to ``number``
        with that ``+CMGS`` reference that is still awaiting one (never overwriting a
        final result: the 8-bit reference repeats). A report that can name no part yet
        (it overtook the storing of its part's reference) is kept and tried again as parts
        are stored, for ``EARLY_REPORTS_S``; then it is told as unmatched."""
        report = _Report(self._clock.monotonic(), number, reference, status, outcome, at)
        delivery = self._apply(report)
        if delivery is None:
            self._early.append(report)
        self._expire_early()
        return delivery

    def _apply(self, report: _Report) -> Delivery | None:
        key = number_key(report.number)
        rows = {row["id"]: row for row in self._table.rows_where(
            "refs != '[]'", order_by="id desc", limit=REPORT_SEARCH)}
        rows.update((i, r) for i, r in self._unsaved.items() if r["refs"] != "[]")
        for row in sorted(rows.values(), key=lambda r: r["id"], reverse=True):
            sms = _sms(row)
            if number_key(sms.number) != key:
                continue
            for index, reference in enumerate(sms.references):
                entry = sms.parts_delivery[index] if index < len(sms.parts_delivery) else None
                if (reference == report.reference and entry is not None
                        and entry["status"] == DELIVERY_PENDING):
                    return self._record(sms, index, report)
        return None

    def _record(self, sms: OutgoingSms, index: int, report: _Report) -> Delivery:
        delivery = list(sms.parts_delivery)
        delivery[index] = {"status": report.outcome, "code": report.status,
                           "at": _iso(report.at)}
        self._update(sms.id, {"delivery": json.dumps(delivery)})
        told = Delivery(self.get(sms.id), index + 1, report.number, report.reference,
                        report.status, report.outcome)
        self._tell(told)
        return told

    def _retry_early(self) -> None:
        early, self._early = self._early, []
        for report in early:
            if self._apply(report) is None:
                self._early.append(report)
        self._expire_early()

    def _expire_early(self) -> None:
        now = self._clock.monotonic()
        waiting = [r for r in self._early if now - r.received < EARLY_REPORTS_S]
        expired = [r for r in self._early if r not in waiting] + waiting[:-EARLY_REPORTS]
        self._early = waiting[-EARLY_REPORTS:]
        for report in expired:
            self._tell(Delivery(None, None, report.number, report.reference, report.status,
                                report.outcome))

    def _tell(self, delivery: Delivery) -> None:
        if self._on_delivery is None:
            return
        try:
            self._on_delivery(delivery)
        except Exception:
            log.exception("outbox delivery listener failed")

    def _due(self) -> list[OutgoingSms]:
        """Pending messages due now, on disk or in memory, reports first, then oldest."""
        now = self._clock.now()
        return sorted((m for m in self._pending() if m.next_try <= now),
                      key=lambda m: (m.priority, m.id))

    def _next_due(self) -> OutgoingSms | None:
        return next(iter(self._due()), None)

    def _outranked(self, sms: OutgoingSms) -> bool:
        """Is a message of a higher class due (a report waiting behind a routine SMS)?"""
        return any(m.priority < sms.priority for m in self._due())

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            self._flush()
            now = self._clock.now()
            sms = self._next_due()
            if sms is not None:
                await self._attempt(sms)
                continue
            pending = self._pending()
            wait_s = IDLE_WAKE_S
            if pending:
                wait_s = max(0.0, (min(m.next_try for m in pending) - now).total_seconds())
            if self._unsaved:
                wait_s = min(wait_s, FLUSH_RETRY_S)
            await event_or_timeout(self._clock, self._wake, wait_s)

    def _pending(self) -> list[OutgoingSms]:
        """Every pending message, on disk or kept in memory, oldest first."""
        try:
            rows = {row["id"]: row for row in self._table.rows_where("state = ?", [PENDING])}
        except sqlite3.Error as exc:  # a disk that cannot even be read: memory is all there is
            log.error("outbox unreadable: %s", exc)
            rows = {}
        rows.update(self._unsaved)
        return [_sms(rows[i]) for i in sorted(rows) if rows[i]["state"] == PENDING]

    def _on_disk(self, message_id: int) -> str | None:
        """The state the disk has for a message (None: not on disk)."""
        row = self._connection.execute(
            "SELECT state FROM outbox WHERE id = ?", (message_id,)).fetchone()
        return row[0] if row else None

    def _next_id(self) -> int:
        try:
            on_disk = self._connection.execute("SELECT MAX(id) FROM outbox").fetchone()[0] or 0
        except sqlite3.Error:
            on_disk = 0
        return max(on_disk, *self._unsaved, 0) + 1

    def _flush(self) -> bool:
        """Write what the disk refused before; True when nothing is left in memory."""
        for message_id in sorted(self._unsaved):
            try:
                self._table.insert(self._unsaved[message_id], replace=True)
            except sqlite3.Error:
                return False
            del self._unsaved[message_id]
            log.warning("SMS %d written to disk after all", message_id)
        return True

    def _update(self, message_id: int, changes: dict[str, Any]) -> None:
        """Change a message's row; kept in memory (and written later) if the disk refuses."""
        if message_id not in self._unsaved:
            try:
                self._table.update(message_id, changes)
                return
            except sqlite3.Error as exc:
                log.error("SMS %d: change kept in memory, not on disk (%s)", message_id, exc)
                self._unsaved[message_id] = dict(self._table.get(message_id))
        self._unsaved[message_id].update(changes)

    async def _attempt(self, sms: OutgoingSms) -> None:
        """Send the rest of ``sms`` part by part; step aside for a report between parts."""
        attempt = sms.attempts + 1
        refs = list(sms.references)
        for part in range(sms.parts_sent + 1, sms.parts + 1):
            try:
                sent = await self._send(sms.number, sms.text, reference=sms.reference,
                                        first_part=part, last_part=part)
            except SmsSendError as exc:
                self._store_parts(sms, refs + exc.sent_references)
                await self._failed(sms, attempt, exc.reason, exc.code)
                return
            except Exception as exc:  # a bug must not stop the outbox; this message is given up
                log.exception("SMS %d: sending raised", sms.id)
                await self._failed(sms, attempt, f"{type(exc).__name__}: {exc}", None, final=True)
                return
            refs += sent
            self._store_parts(sms, refs)
            if part < sms.parts and self._outranked(sms):
                self.steps_aside += 1
                log.info("SMS %d steps aside after part %d/%d: a report is waiting",
                         sms.id, part, sms.parts)
                return
        self._update(sms.id, {"attempts": attempt, "state": SENT, "last_error": None})
        await self._report(Attempt(self.get(sms.id), attempt, True, None, None, True))

    def _store_parts(self, sms: OutgoingSms, refs: list[int]) -> None:
        """The parts sent so far, with their references, on disk as soon as they are sent."""
        current = self.get(sms.id)
        delivery = list(current.parts_delivery)
        entry = ({"status": DELIVERY_PENDING, "code": None, "at": None}
                 if self._reports_requested() else None)
        delivery += [entry] * (len(refs) - len(delivery))
        self._update(sms.id, {"parts_sent": len(refs), "refs": json.dumps(refs),
                              "delivery": json.dumps(delivery)})
        if self._early:
            self._retry_early()

    async def _failed(
        self, sms: OutgoingSms, attempt: int, reason: str, code: int | None,
        final: bool = False,
    ) -> None:
        final = final or attempt >= self.settings.max_attempts
        s = self.settings
        delay = min(s.retry_initial_s * 2 ** (attempt - 1), s.retry_max_s)
        self._update(sms.id, {
            "attempts": attempt, "state": FAILED if final else PENDING,
            "last_error": reason,
            "next_try": _iso(self._clock.now() + timedelta(seconds=delay)),
        })
        log.info("SMS %d to %s, attempt %d failed: %s", sms.id, sms.number, attempt, reason)
        await self._report(Attempt(self.get(sms.id), attempt, False, reason, code, final))

    async def _report(self, attempt: Attempt) -> None:
        if self._on_attempt is None:
            return
        try:
            result = self._on_attempt(attempt)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("outbox attempt listener failed")


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _sms(row: dict[str, Any]) -> OutgoingSms:
    return OutgoingSms(
        id=row["id"], number=row["number"], text=row["text"], tag=row["tag"],
        reference=row["reference"], parts=row["parts"], parts_sent=row["parts_sent"],
        references=tuple(json.loads(row["refs"])), state=row["state"], attempts=row["attempts"],
        created=_parse(row["created"]), next_try=_parse(row["next_try"]),
        last_error=row["last_error"], priority=SmsPriority(row.get("priority", 1)),
        parts_delivery=tuple(json.loads(row.get("delivery") or "[]")),
    )
