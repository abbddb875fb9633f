"""Joining the parts of incoming multipart SMS, on disk, so none is lost on a restart.

Parts arrive out of order, twice, or never; some senders use reference 0 for every
message. Each part is stored (SQLite, ``synchronous=FULL``) before :meth:`add`
returns, which is what lets the modem delete it from the terminal. When every part is
there the message is handed to ``on_message`` and its parts are removed. A message
still incomplete after ``flush_after_s`` is handed over marked incomplete, with ``…``
where parts are missing: never dropped in silence.

A part whose key (sender, reference, total, number) is already stored with the same
content is a duplicate and ignored; with different content it is a new message reusing
the reference, so the old one is flushed as incomplete first.
"""

from __future__ import annotations

import inspect
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from drivers.clock import Clock
from sat_phone.pdu import Concat, Deliver, SmsPart, join_parts
from sat_phone.sqlite_store import SqliteStore

log = logging.getLogger(__name__)

GAP = "…"


@dataclass(frozen=True, slots=True)
class IncomingSms:
    sender: str
    text: str
    timestamp: datetime  # the service centre's time stamp of the first part held
    received: datetime  # when the first part reached the station
    parts: int
    parts_received: tuple[int, ...]
    reference: int | None = None

    @property
    def complete(self) -> bool:
        return len(self.parts_received) == self.parts


class Reassembly(SqliteStore):
    """Stored parts of multipart messages; single-part messages pass straight through."""

    table_name = "sms_parts"

    def __init__(
        self,
        path: Path,
        *,
        clock: Clock,
        on_message: Callable[[IncomingSms], Awaitable[None] | None],
        flush_after_s: float = 600.0,
        check_every_s: float = 60.0,
    ) -> None:
        super().__init__(path)
        self.flush_after_s = flush_after_s
        self.check_every_s = check_every_s
        self._clock = clock
        self._on_message = on_message

    def _create(self, conn: sqlite3.Connection) -> None:
        conn.executescript("""
            CREATE TABLE "sms_parts" (
               "id" INTEGER PRIMARY KEY, "sender" TEXT, "reference" INTEGER,
               "ref_bits" INTEGER, "total" INTEGER, "seq" INTEGER, "encoding" TEXT,
               "payload" BLOB, "text" TEXT, "timestamp" TEXT, "received" TEXT);
            CREATE UNIQUE INDEX "idx_sms_parts_sender_reference_ref_bits_total_seq"
                ON "sms_parts" ("sender", "reference", "ref_bits", "total", "seq");
        """)

    async def add(self, part: Deliver) -> None:
        """Take one received part; raises if ``on_message`` fails (keep it on the terminal)."""
        now = self._clock.now()
        concat = part.concat
        if concat is None or concat.total <= 1:
            await self._hand_over(IncomingSms(
                part.sender, part.text, part.timestamp, now, 1, (1,),
                concat.reference if concat else None,
            ))
            return
        key = (part.sender, concat.reference, concat.ref_bits, concat.total)
        clash = list(self._group(key, seq=concat.seq))
        if clash:
            if bytes(clash[0]["payload"]) == part.payload:
                log.info("duplicate SMS part %d/%d from %s", concat.seq, concat.total, part.sender)
                return
            await self._flush(key)  # a new message reusing the reference
        self._table.insert({
            "sender": part.sender, "reference": concat.reference, "ref_bits": concat.ref_bits,
            "total": concat.total, "seq": concat.seq, "encoding": part.encoding,
            "payload": part.payload, "text": part.text,
            "timestamp": part.timestamp.isoformat(), "received": now.isoformat(),
        })
        if len(list(self._group(key))) == concat.total:
            await self._flush(key)

    async def flush_due(self) -> int:
        """Hand over complete groups and those waiting longer than ``flush_after_s``."""
        cutoff = (self._clock.now() - timedelta(seconds=self.flush_after_s)).isoformat()
        groups = self._connection.execute(
            "SELECT sender, reference, ref_bits, total FROM sms_parts "
            "GROUP BY sender, reference, ref_bits, total "
            "HAVING MIN(received) <= ? OR COUNT(*) >= total",
            (cutoff,),
        ).fetchall()
        for key in groups:
            await self._flush(tuple(key))
        return len(groups)

    async def _run(self) -> None:
        while True:
            try:
                await self.flush_due()
            except Exception:
                log.exception("flushing incomplete SMS failed; will retry")
            await self._clock.sleep(self.check_every_s)

    def _group(self, key: tuple[Any, ...], seq: int | None = None) -> list[dict[str, Any]]:
        where = "sender = ? AND reference = ? AND ref_bits = ? AND total = ?"
        args = list(key)
        if seq is not None:
            where += " AND seq = ?"
            args.append(seq)
        return list(self._table.rows_where(where, args, order_by="seq"))

    async def _flush(self, key: tuple[Any, ...]) -> None:
        rows = self._group(key)
        if not rows:
            return
        sender, reference, _, total = key
        message = IncomingSms(
            sender=sender,
            text=_join(rows, total),
            timestamp=datetime.fromisoformat(rows[0]["timestamp"]),
            received=min(datetime.fromisoformat(r["received"]) for r in rows),
            parts=total,
            parts_received=tuple(r["seq"] for r in rows),
            reference=reference,
        )
        if not message.complete:
            log.warning(
                "SMS from %s incomplete: parts %s of %d", sender, message.parts_received, total
            )
        await self._hand_over(message)
        marks = ",".join("?" * len(rows))
        self._table.delete_where(f"id IN ({marks})", [r["id"] for r in rows])

    async def _hand_over(self, message: IncomingSms) -> None:
        result = self._on_message(message)
        if inspect.isawaitable(result):
            await result


def _join(rows: list[dict[str, Any]], total: int) -> str:
    """The parts' text in order, joined before decoding; ``…`` where parts are missing."""
    by_seq = {r["seq"]: r for r in rows}
    out: list[str] = []
    run: list[SmsPart] = []
    for seq in range(1, total + 1):
        row = by_seq.get(seq)
        if row is None:
            if run:
                out.append(join_parts(run))
                run = []
            if not out or out[-1] != GAP:
                out.append(GAP)
            continue
        run.append(SmsPart(
            row["sender"], row["text"], row["encoding"], bytes(row["payload"]),
            Concat(row["reference"], total, seq, row["ref_bits"]),
        ))
    if run:
        out.append(join_parts(run))
    return "".join(out)
