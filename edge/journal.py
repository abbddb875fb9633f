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

import asyncio
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from drivers import sqlite_wal
from drivers.clock import Clock, iso_utc

log = logging.getLogger(__name__)

SCHEMA_TRIGGERS = """
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_delete_only_archived BEFORE DELETE ON events
WHEN OLD.seq > (SELECT COALESCE(MAX(through_seq), 0) FROM archives)
BEGIN SELECT RAISE(ABORT, 'only archived events may leave the journal'); END;
"""

RETRY_AFTER_FAILURE_S = 1.0


@dataclass(frozen=True)
class OpenReport:
    """What opening the journal found, for the daemon to report."""

    path: Path
    next_seq: int
    moved_aside: Path | None = None
    problem: str | None = None


class JournalCorrupt(Exception):
    pass


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite_wal.connect(path, synchronous="FULL", check_same_thread=False)


def _check(path: Path) -> None:
    """Raise :class:`JournalCorrupt` unless the file is a sound journal (or absent)."""
    if not path.exists():
        return
    try:
        conn = sqlite3.connect(path)
        try:
            result = conn.execute("PRAGMA quick_check").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise JournalCorrupt(str(exc)) from exc
    if result is None or result[0] != "ok":
        raise JournalCorrupt(f"quick_check: {result[0] if result else 'no answer'}")


def _move_aside(path: Path, stamp: str) -> Path:
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        part = Path(str(path) + suffix)
        if part.exists():
            os.replace(part, Path(str(aside) + suffix))
    return aside


def _create_schema(conn: sqlite3.Connection) -> None:
    db = sqlite_utils.Database(conn)
    if "events" not in db.table_names():
        db.table("events").create(
            {"seq": int, "ts": str, "kind": str, "source": str, "actor": str, "data": str},
            pk="seq",
            not_null={"ts", "kind", "source", "actor", "data"},
        )
        db.table("events").create_index(["kind"])
    if "archives" not in db.table_names():
        db.table("archives").create(
            {"through_seq": int, "file": str, "events": int, "created": str}, pk="through_seq"
        )
    conn.executescript(SCHEMA_TRIGGERS)


class Journal:
    """The station's append-only event journal (one writer thread)."""

    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path
        self.clock = clock
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: list[tuple[int, str, str, str, str, str]] = []
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._next_seq = 1
        self._committed_seq = 0
        self._closing = False
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self.writable = True
        self.last_error: str | None = None
        self.last_write_at: datetime | None = None
        self._maintenance: list[Callable[[sqlite3.Connection], None]] = []
        self.on_writable_change: Callable[[bool, str | None], None] | None = None

    # -- lifecycle -----------------------------------------------------------------

    def open(self) -> OpenReport:
        """Check, (re)create and open the journal; a corrupt file is moved aside."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        moved: Path | None = None
        problem: str | None = None
        try:
            _check(self.path)
        except JournalCorrupt as exc:
            stamp = self.clock.now().strftime("%Y%m%dT%H%M%SZ")
            moved = _move_aside(self.path, stamp)
            problem = f"journal was corrupt ({exc}); moved aside to {moved.name}"
            log.error(problem)
        self._conn = _connect(self.path)
        _create_schema(self._conn)
        row = self._conn.execute("SELECT MAX(seq) FROM events").fetchone()
        archived = self._conn.execute("SELECT MAX(through_seq) FROM archives").fetchone()
        last = max(row[0] or 0, archived[0] or 0)
        self._next_seq = last + 1
        self._committed_seq = last
        self._thread = threading.Thread(target=self._write_loop, name="journal-writer", daemon=True)
        self._thread.start()
        return OpenReport(self.path, self._next_seq, moved, problem)

    def close(self) -> None:
        """Write everything recorded so far, then stop the writer."""
        with self._lock:
            self._closing = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._fail_waiters("journal closed")

    # -- writing -------------------------------------------------------------------

    def record(self, kind: str, source: str, actor: str = "system", /, **data: Any) -> int:
        """Append an event; returns its ``seq`` at once (the disk write follows)."""
        ts = iso_utc(self.clock.now())
        payload = json.dumps(data, ensure_ascii=False, default=str, sort_keys=True)
        with self._lock:
            if self._closing and self._thread is None:
                raise RuntimeError("journal is closed")
            seq = self._next_seq
            self._next_seq += 1
            self._pending.append((seq, ts, kind, source, actor, payload))
            self._wake.notify()
        return seq

    async def durable(self, seq: int) -> None:
        """Return once event ``seq`` is on disk (raises if the journal closes first)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if seq <= self._committed_seq:
                return
            future: asyncio.Future[None] = loop.create_future()
            self._waiters.append((seq, future))
        await future

    def schedule_maintenance(self, job: Callable[[sqlite3.Connection], None]) -> None:
        """Run ``job`` on the writer thread (the only one that may delete archived rows)."""
        with self._lock:
            self._maintenance.append(job)
            self._wake.notify()

    def _write_loop(self) -> None:
        while True:
            with self._lock:
                while not (self._pending or self._maintenance or self._closing):
                    self._wake.wait()
                batch = list(self._pending)
                jobs, self._maintenance = self._maintenance, []
                closing = self._closing
            if batch:
                self._write_batch(batch)
            for job in jobs:
                self._run_job(job)
            with self._lock:
                if closing and not self._pending:
                    return
                if closing and not self.writable:
                    log.error("journal closing with %d unwritten events", len(self._pending))
                    return

    def _write_batch(self, batch: list[tuple[int, str, str, str, str, str]]) -> None:
        assert self._conn is not None
        try:
            with self._conn:
                self._conn.execute("BEGIN")
                self._conn.executemany(
                    "INSERT INTO events (seq, ts, kind, source, actor, data) VALUES (?,?,?,?,?,?)",
                    batch,
                )
        except sqlite3.Error as exc:
            self._set_writable(False, f"{type(exc).__name__}: {exc}")
            with self._lock:
                self._wake.wait(RETRY_AFTER_FAILURE_S)
            return
        last = batch[-1][0]
        with self._lock:
            del self._pending[: len(batch)]
            self._committed_seq = last
            ready = [w for w in self._waiters if w[0] <= last]
            self._waiters = [w for w in self._waiters if w[0] > last]
        self.last_write_at = self.clock.now()
        self._set_writable(True, None)
        for _, future in ready:
            future.get_loop().call_soon_threadsafe(_resolve, future)

    def _run_job(self, job: Callable[[sqlite3.Connection], None]) -> None:
        assert self._conn is not None
        try:
            job(self._conn)
        except Exception:
            log.exception("journal maintenance failed")

    def _set_writable(self, writable: bool, error: str | None) -> None:
        changed = writable != self.writable
        self.writable, self.last_error = writable, error
        if changed:
            if writable:
                log.warning("journal writable again")
            else:
                log.error("journal not writable: %s", error)
            if self.on_writable_change is not None:
                self.on_writable_change(writable, error)

    def _fail_waiters(self, reason: str) -> None:
        with self._lock:
            waiters, self._waiters = self._waiters, []
        for _, future in waiters:
            future.get_loop().call_soon_threadsafe(_fail, future, reason)

    # -- reading -------------------------------------------------------------------

    @property
    def committed_seq(self) -> int:
        return self._committed_seq

    @property
    def last_recorded_seq(self) -> int:
        """The newest event recorded (on disk or still on its way)."""
        with self._lock:
            return self._next_seq - 1

    @property
    def pending_count(self) -> int:
        with self._lock:
            return len(self._pending)

    @property
    def oldest_pending_at(self) -> datetime | None:
        """When the oldest event not yet on disk was recorded (None: nothing waits).

        A quiet station writes nothing for hours; a stuck journal is one where an event
        waits: this, not the time of the last write, tells the two apart.
        """
        with self._lock:
            first = self._pending[0][1] if self._pending else None
        return datetime.fromisoformat(first) if first is not None else None

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


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _fail(future: asyncio.Future[None], reason: str) -> None:
    if not future.done():
        future.set_exception(RuntimeError(reason))
