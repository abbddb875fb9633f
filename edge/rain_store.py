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
power meanwhile, the rain between the last write and its reset (a journaled gap).

Readings are bulk data, kept apart from the event journal: WAL with
``synchronous=NORMAL`` (a power cut may lose the last write, never corrupt the file;
what it loses is recovered from the counter like a crash's). Not opened in exclusive
locking mode, though that would save the ``-shm`` file's write-backs (measured: 2.2
instead of 6.6 MB a day dry, 17 instead of 38 in a 200 mm/h storm): a reader left open
on the file (an installer's ``sqlite3``, a backup) would then keep the daemon from
starting, and a station that cannot start sounds no siren.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from drivers import sqlite_wal
from sensors.gauge_events import CounterReading
from sensors.rain_minutes import MINUTE_S, spread_over_minutes
from sensors.windows import seconds

FLUSH_S = 60.0      # rain waits in memory at most this long
CONFIRM_S = 300.0   # a counter that has not moved is confirmed at most this often


class RainStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite_wal.connect(path, synchronous="NORMAL", check_same_thread=False)
        db = sqlite_utils.Database(self.conn)
        tables = db.table_names()
        if "minutes" not in tables:
            self.conn.execute("CREATE TABLE minutes (gauge TEXT NOT NULL, minute INTEGER NOT NULL,"
                              " mm REAL NOT NULL, PRIMARY KEY (gauge, minute)) WITHOUT ROWID")
        if "counters" not in tables:
            db.table("counters").create({"gauge": str, "raw": int, "t": float}, pk="gauge")
        if "increments" in tables:
            self._migrate_increments()

    def _migrate_increments(self) -> None:
        """An archive of the row-per-reading days: its rain, as minutes (once)."""
        rows = self.conn.execute("SELECT gauge, t, mm, since_t FROM increments").fetchall()
        shares: dict[tuple[str, int], float] = {}
        for gauge, t, mm, since_t in rows:
            for minute, share in spread_over_minutes(since_t if since_t else t, t, mm):
                shares[gauge, minute] = shares.get((gauge, minute), 0.0) + share
        with self.conn:
            self.conn.execute("BEGIN")
            self._add_minutes(shares)
            self.conn.execute("DROP TABLE increments")

    def close(self) -> None:
        self.conn.close()

    def write(self, minutes: dict[tuple[str, int], float],
              counters: dict[str, CounterReading]) -> None:
        """Add rain to minutes and set counters, in one transaction."""
        with self.conn:
            self.conn.execute("BEGIN")
            self._add_minutes(minutes)
            self.conn.executemany(
                "INSERT INTO counters (gauge, raw, t) VALUES (?,?,?) "
                "ON CONFLICT(gauge) DO UPDATE SET raw = excluded.raw, t = excluded.t",
                [(g, r.raw, seconds(r.at)) for g, r in counters.items()],
            )

    def _add_minutes(self, minutes: dict[tuple[str, int], float]) -> None:
        self.conn.executemany(
            "INSERT INTO minutes (gauge, minute, mm) VALUES (?,?,?) "
            "ON CONFLICT(gauge, minute) DO UPDATE SET mm = mm + excluded.mm",
            [(g, m, mm) for (g, m), mm in minutes.items() if mm > 0],
        )

    def counter(self, gauge: str) -> CounterReading | None:
        row = self.conn.execute("SELECT raw, t FROM counters WHERE gauge = ?", (gauge,)).fetchone()
        return CounterReading(row[0], datetime.fromtimestamp(row[1], UTC)) if row else None

    def minutes(self, gauge: str, start: datetime, end: datetime) -> list[tuple[int, float]]:
        """The stored minutes that overlap ``(start, end]``, oldest first."""
        rows = self.conn.execute(
            "SELECT minute, mm FROM minutes WHERE gauge = ? AND minute > ? AND minute < ?"
            " ORDER BY minute", (gauge, seconds(start) - MINUTE_S, seconds(end)),
        ).fetchall()
        return [(int(m), float(mm)) for m, mm in rows]


@dataclass
class PendingRain:
    """What is booked in memory and not yet in the archive, and when it is due.

    Plain bookkeeping (no I/O, no clock): the owner asks :meth:`due` with the time,
    and hands :meth:`take`'s result to :meth:`RainStore.write`.
    """

    minutes: dict[tuple[str, int], float] = field(default_factory=dict)
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

    def take(self, now_s: float) -> tuple[dict[tuple[str, int], float], dict[str, CounterReading]]:
        out = (self.minutes, self.counters)
        self.minutes, self.counters, self.urgent = {}, {}, False
        self.last_write_s = now_s
        return out

    def pending_minutes(self, gauge: str) -> list[tuple[int, float]]:
        return sorted((m, mm) for (g, m), mm in self.minutes.items() if g == gauge)
