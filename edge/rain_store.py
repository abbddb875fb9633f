"""The rainfall archive: rain per minute and each gauge's last counter, in their own SQLite file.

Writes follow what happened, not how often the gauges were looked at (an SD card wears
out by writes). Recent readings live in memory (the windows); the archive gets:

* ``minutes(gauge, minute, mm)``: rain per minute, only minutes with rain (a dry day
  adds no row), each reading's rain spread over the interval it fell in;
* ``counters(gauge, raw, t)``: the last good reading of each Modbus gauge.

Both are written together, in one transaction, by :class:`PendingRain`'s rules: rain at
most once every ``FLUSH_S``, a counter that only confirms itself once every
``CONFIRM_S``, a data gap at once, everything at a clean stop. The stored counter is
always exactly the one up to which the stored minutes count, so after a crash the
gauge's own cumulative counter gives back, in total, all the rain that was not yet
written: the first reading after the restart counts from the stored counter. What a
crash loses is the timing of that rain inside (last write, first reading after the
restart] -- it becomes one increment spread over that interval, and windows shorter
than it are held until it has slid out of them -- and, if the gauge itself also lost
power meanwhile, the rain between the last write and its reset (a journaled gap). A
pulse gauge has no counter to ask: a crash loses its tips not yet written (at most
``FLUSH_S`` of them).

The event loop never waits for the disk (a siren must not wait for an SD card): like
the journal and the state store, the archive is written by its own thread
(:mod:`drivers.sqlite_writer`), which keeps what a full or read-only disk refuses and
writes it when it can. Until then the rain is in memory (the windows, and the batches
handed over), so it still warns; :meth:`RainStore.minutes` reads the stored minutes
and those on their way together.

Readings are bulk data, kept apart from the event journal: WAL with
``synchronous=NORMAL`` (a power cut may lose the last write, never corrupt the file;
what it loses is recovered from the counter like a crash's). Not opened in exclusive
locking mode, though that would save the ``-shm`` file's write-backs (measured: 2.2
instead of 6.6 MB a day dry, 17 instead of 38 in a 200 mm/h storm): a reader left open
on the file (an installer's ``sqlite3``, a backup) would then keep the daemon from
starting, and a station that cannot start sounds no siren.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drivers import sqlite_wal
from drivers.sqlite_writer import SqliteWriter, WriterFront
from sensors.gauge_events import CounterReading
from sensors.rain_minutes import MINUTE_S, spread_over_minutes
from sensors.windows import seconds

FLUSH_S = 60.0      # rain waits in memory at most this long
CONFIRM_S = 300.0   # a counter that has not moved is confirmed at most this often
RETRY_AFTER_FAILURE_S = 5.0
READ_ATTEMPTS = 5

Minutes = dict[tuple[str, int], float]


@dataclass(frozen=True, slots=True)
class Batch:
    """Rain per ``(gauge, minute)`` and the counters it counts up to: one transaction."""

    minutes: Minutes
    counters: dict[str, CounterReading]


def _add_minutes(conn: sqlite3.Connection, minutes: Minutes) -> None:
    conn.executemany(
        "INSERT INTO minutes (gauge, minute, mm) VALUES (?,?,?) "
        "ON CONFLICT(gauge, minute) DO UPDATE SET mm = mm + excluded.mm",
        [(g, m, mm) for (g, m), mm in minutes.items() if mm > 0],
    )


def _commit(conn: sqlite3.Connection, batches: list[tuple[int, Batch]]) -> None:
    for _, batch in batches:
        _add_minutes(conn, batch.minutes)
        conn.executemany(
            "INSERT INTO counters (gauge, raw, t) VALUES (?,?,?) "
            "ON CONFLICT(gauge) DO UPDATE SET raw = excluded.raw, t = excluded.t",
            [(g, r.raw, seconds(r.at)) for g, r in batch.counters.items()],
        )


def _utc_now() -> datetime:
    return datetime.now(UTC)


class RainStore(WriterFront[Batch]):
    def __init__(self, path: Path, now: Callable[[], datetime] = _utc_now, *,
                 retry_s: float = RETRY_AFTER_FAILURE_S) -> None:
        super().__init__()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        conn = sqlite_wal.connect(path, synchronous="NORMAL", check_same_thread=False)
        tables = {name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "minutes" not in tables:
            conn.execute("CREATE TABLE minutes (gauge TEXT NOT NULL, minute INTEGER NOT NULL,"
                         " mm REAL NOT NULL, PRIMARY KEY (gauge, minute)) WITHOUT ROWID")
        if "counters" not in tables:
            conn.execute('CREATE TABLE "counters" ("gauge" TEXT PRIMARY KEY, "raw" INTEGER,'
                         ' "t" REAL)')
        if "increments" in tables:
            _migrate_increments(conn)
        self._in_flight: list[tuple[int, Batch]] = []  # handed over, maybe not yet on disk
        self._start_writer(SqliteWriter(conn, _commit, name="rain-archive-writer", now=now,
                                        retry_s=retry_s))

    def close(self) -> None:
        """Write what was handed over (if the disk takes it), then stop the writer."""
        self._close_writer()

    def write(self, minutes: Minutes, counters: dict[str, CounterReading]) -> int:
        """Hand rain per minute and the counters it counts up to to the writer thread, to
        be written in one transaction; returns its ticket at once."""
        batch = Batch(minutes, counters)
        ticket = self._open_writer().submit(batch)
        self._in_flight.append((ticket, batch))
        self._forget_written(self.committed)
        return ticket

    def _forget_written(self, committed: int) -> None:
        self._in_flight = [(t, b) for t, b in self._in_flight if t > committed]

    def unwritten_mm(self) -> float:
        """Rain handed to the writer and not yet on disk."""
        self._forget_written(self.committed)
        return sum(sum(b.minutes.values()) for _, b in self._in_flight)

    def _read(self, sql: str, args: tuple[object, ...]) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def counter(self, gauge: str) -> CounterReading | None:
        """The stored counter (read at start: the one the stored minutes count up to)."""
        rows = self._read("SELECT raw, t FROM counters WHERE gauge = ?", (gauge,))
        if not rows:
            return None
        raw, t = rows[0]
        return CounterReading(raw, datetime.fromtimestamp(t, UTC))

    def minutes(self, gauge: str, start: datetime, end: datetime) -> list[tuple[int, float]]:
        """The minutes stored or on their way that overlap ``(start, end]``, oldest first.

        A batch committed while the file is read would be counted twice or not at all:
        the read is taken again until no commit fell inside it.
        """
        sql = ("SELECT minute, mm FROM minutes WHERE gauge = ? AND minute > ? AND minute < ?"
               " ORDER BY minute")
        first, last = seconds(start) - MINUTE_S, seconds(end)
        for _ in range(READ_ATTEMPTS):
            committed = self.committed
            rows = self._read(sql, (gauge, first, last))
            if self.committed == committed:
                break
        merged = {int(m): float(mm) for m, mm in rows}
        self._forget_written(committed)
        for _, batch in self._in_flight:
            for (g, minute), mm in batch.minutes.items():
                if g == gauge and first < minute < last:
                    merged[minute] = merged.get(minute, 0.0) + mm
        return sorted(merged.items())


def _migrate_increments(conn: sqlite3.Connection) -> None:
    """An archive of the row-per-reading days: its rain, as minutes (once)."""
    rows = conn.execute("SELECT gauge, t, mm, since_t FROM increments").fetchall()
    shares: Minutes = {}
    for gauge, t, mm, since_t in rows:
        for minute, share in spread_over_minutes(since_t if since_t else t, t, mm):
            shares[gauge, minute] = shares.get((gauge, minute), 0.0) + share
    with conn:
        conn.execute("BEGIN")
        _add_minutes(conn, shares)
        conn.execute("DROP TABLE increments")


@dataclass
class PendingRain:
    """What is booked in memory and not yet in the archive, and when it is due.

    Plain bookkeeping (no I/O, no clock): the owner asks :meth:`due` with the time,
    and hands :meth:`take`'s result to :meth:`RainStore.write`.
    """

    minutes: Minutes = field(default_factory=dict)
    counters: dict[str, CounterReading] = field(default_factory=dict)
    urgent: bool = False
    last_write_s: float | None = None

    def book(self, gauge: str, start: datetime, end: datetime, mm: float) -> None:
        for minute, share in spread_over_minutes(seconds(start), seconds(end), mm):
            self.minutes[gauge, minute] = self.minutes.get((gauge, minute), 0.0) + share

    def counter(self, gauge: str, reading: CounterReading, *, urgent: bool = False) -> None:
        self.counters[gauge] = reading
        self.urgent = self.urgent or urgent

    def due(self, now_s: float) -> bool:
        if self.urgent:
            return True
        since = float("inf") if self.last_write_s is None else now_s - self.last_write_s
        if self.minutes:
            return since >= FLUSH_S
        return bool(self.counters) and since >= CONFIRM_S

    def take(self, now_s: float) -> tuple[Minutes, dict[str, CounterReading]]:
        out = (self.minutes, self.counters)
        self.minutes, self.counters, self.urgent = {}, {}, False
        self.last_write_s = now_s
        return out

    def pending_minutes(self, gauge: str) -> list[tuple[int, float]]:
        return sorted((m, mm) for (g, m), mm in self.minutes.items() if g == gauge)
