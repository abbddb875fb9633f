"""The event journal: what the station did and why, in order, surviving a crash.

One SQLite database in ``data_dir`` (WAL, ``synchronous=FULL``) with one table,
``events(seq, ts, kind, source, actor, data)``. ``seq`` is assigned in memory when an
event is recorded and committed in that order by a single writer thread, so the
sequence on disk is strictly increasing with no gaps, even after ``kill -9``: a crash
can only lose a tail that was never acknowledged.

Actuation never waits on the disk. :meth:`Journal.record` returns at once (the intent
has its place in the sequence before the relay moves); a caller that acknowledges
something to a person or the county first awaits :meth:`Journal.durable`. An SD card
that stalls or a full disk must not delay a siren; it becomes a fault in health.

The table is append-only, enforced by triggers: rows are never updated, and deleted
only once an archive file that holds them has been written (see ``journal_archive``).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from drivers import sqlite_wal
from drivers.clock import Clock, iso_utc
from drivers.sqlite_writer import SqliteWriter, WriterFront, WriterStopped

log = logging.getLogger(__name__)

SCHEMA_TABLES = """
CREATE TABLE IF NOT EXISTS "events" (
   "seq" INTEGER PRIMARY KEY,
   "ts" TEXT NOT NULL,
   "kind" TEXT NOT NULL,
   "source" TEXT NOT NULL,
   "actor" TEXT NOT NULL,
   "data" TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS "idx_events_kind" ON "events" ("kind");
CREATE TABLE IF NOT EXISTS "archives" (
   "through_seq" INTEGER PRIMARY KEY,
   "file" TEXT,
   "events" INTEGER,
   "created" TEXT
);
"""
SCHEMA_TRIGGERS = """
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_delete_only_archived BEFORE DELETE ON events
WHEN OLD.seq > (SELECT COALESCE(MAX(through_seq), 0) FROM archives)
BEGIN SELECT RAISE(ABORT, 'only archived events may leave the journal'); END;
"""

RETRY_AFTER_FAILURE_S = 1.0

Row = tuple[str, str, str, str, str]
"""An event on its way to disk: ``ts, kind, source, actor, data`` (its ``seq`` is its ticket)."""


@dataclass(frozen=True)
class OpenReport:
    """What opening the journal found, for the daemon to report."""

    path: Path
    next_seq: int
    moved_aside: Path | None = None
    problem: str | None = None


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite_wal.connect(path, synchronous="FULL", check_same_thread=False)


def _insert(conn: sqlite3.Connection, batch: list[tuple[int, Row]]) -> None:
    conn.executemany(
        "INSERT INTO events (seq, ts, kind, source, actor, data) VALUES (?,?,?,?,?,?)",
        [(seq, *row) for seq, row in batch],
    )


def _create_schema(conn: sqlite3.Connection) -> None:
    """The tables as the journal has always had them (first laid out through sqlite-utils;
    plain SQL keeps that library, and the numpy it imports, out of the daemon)."""
    conn.executescript(SCHEMA_TABLES + SCHEMA_TRIGGERS)


class Journal(WriterFront[Row]):
    """The station's append-only event journal (one writer thread: :mod:`drivers.sqlite_writer`)."""

    def __init__(self, path: Path, clock: Clock) -> None:
        super().__init__()
        self.path = path
        self.clock = clock
        #: Called on the writer thread after each maintenance job: None when it succeeded,
        #: else what went wrong (a failed retention run is a fault to report, not a log line).
        self.on_maintenance: Callable[[str | None], None] | None = None

    # -- lifecycle -----------------------------------------------------------------

    def open(self) -> OpenReport:
        """Check, (re)create and open the journal; a corrupt file is moved aside."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        moved: Path | None = None
        problem: str | None = None
        corrupt = sqlite_wal.problem(self.path)
        if corrupt is not None:
            stamp = self.clock.now().strftime("%Y%m%dT%H%M%SZ")
            moved = sqlite_wal.move_aside(self.path, stamp)
            problem = f"journal was corrupt ({corrupt}); moved aside to {moved.name}"
            log.error(problem)
        conn = _connect(self.path)
        _create_schema(conn)
        row = conn.execute("SELECT MAX(seq) FROM events").fetchone()
        archived = conn.execute("SELECT MAX(through_seq) FROM archives").fetchone()
        last = max(row[0] or 0, archived[0] or 0)
        self._start_writer(SqliteWriter(conn, _insert, name="journal-writer", last_ticket=last,
                                        now=self.clock.now, retry_s=RETRY_AFTER_FAILURE_S))
        return OpenReport(self.path, last + 1, moved, problem)

    def close(self) -> None:
        """Write everything recorded so far, then stop the writer."""
        self._close_writer()

    @property
    def _conn(self) -> sqlite3.Connection | None:
        """The writer's connection (tests make the disk "full" through it)."""
        return self._writer.connection if self._writer is not None else None

    # -- writing -------------------------------------------------------------------

    def record(self, kind: str, source: str, actor: str = "system", /, **data: Any) -> int:
        """Append an event; returns its ``seq`` at once (the disk write follows)."""
        ts = iso_utc(self.clock.now())
        payload = json.dumps(data, ensure_ascii=False, default=str, sort_keys=True)
        try:
            return self._open_writer().submit((ts, kind, source, actor, payload))
        except WriterStopped:
            raise RuntimeError("journal is closed") from None

    async def durable(self, seq: int) -> None:
        """Return once event ``seq`` is on disk (raises if the journal closes first, or
        its writer died: never waits for a write that cannot come)."""
        try:
            await self._open_writer().durable(seq)
        except WriterStopped as exc:
            raise RuntimeError(f"journal: {exc}") from None

    def schedule_maintenance(self, job: Callable[[sqlite3.Connection], None]) -> None:
        """Run ``job`` on the writer thread (the only one that may delete archived rows)."""
        def run(conn: sqlite3.Connection) -> None:
            try:
                job(conn)
            except Exception as exc:
                self._maintenance_done(f"{type(exc).__name__}: {exc}")
                raise  # the writer logs it
            self._maintenance_done(None)

        self._open_writer().schedule(run)

    def _maintenance_done(self, error: str | None) -> None:
        if self.on_maintenance is not None:
            self.on_maintenance(error)

    # -- reading -------------------------------------------------------------------

    @property
    def committed_seq(self) -> int:
        return self.committed

    @property
    def last_recorded_seq(self) -> int:
        """The newest event recorded (on disk or still on its way)."""
        return self.last_ticket

    @property
    def oldest_pending_at(self) -> datetime | None:
        """When the oldest event not yet on disk was recorded (None: nothing waits).

        A quiet station writes nothing for hours; a stuck journal is one where an event
        waits: this, not the time of the last write, tells the two apart.
        """
        first = self._writer.oldest_pending() if self._writer is not None else None
        return datetime.fromisoformat(first[0]) if first is not None else None

    def read(
        self, after: int = 0, limit: int = 100, kind: str | None = None
    ) -> list[dict[str, Any]]:
        """Events with ``seq > after``, oldest first (committed ones only)."""
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            sql = "SELECT seq, ts, kind, source, actor, data FROM events WHERE seq > ?"
            args: list[Any] = [after]
            if kind is not None:
                sql += " AND kind = ?"
                args.append(kind)
            sql += " ORDER BY seq LIMIT ?"
            args.append(limit)
            rows = conn.execute(sql, args).fetchall()
        finally:
            conn.close()
        return [
            {"seq": s, "ts": ts, "kind": k, "source": src, "actor": a, "data": json.loads(d)}
            for s, ts, k, src, a, d in rows
        ]

    def size_bytes(self) -> int:
        total = 0
        for suffix in ("", "-wal"):
            try:
                total += os.stat(str(self.path) + suffix).st_size
            except FileNotFoundError:
                pass
        return total
