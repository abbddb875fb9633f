"""The rainfall archive: increments and last counters, in their own SQLite file.

Readings are bulk data, kept apart from the event journal: WAL with
``synchronous=NORMAL`` (a power cut may lose the last second of readings, never
corrupt the file). The last raw counter of every gauge is kept so that after a restart
no rain is counted twice; the last 24 h of increments rebuild the rainfall windows.
Only increments with rain are stored (a dry day costs nothing).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from drivers import sqlite_wal


def _t(at: datetime) -> float:
    return at.timestamp()


class RainStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite_wal.connect(path, synchronous="NORMAL", check_same_thread=False)
        db = sqlite_utils.Database(self.conn)
        if "increments" not in db.table_names():
            db.table("increments").create({"gauge": str, "t": float, "mm": float, "since_t": float})
            db.table("increments").create_index(["gauge", "t"])
        if "counters" not in db.table_names():
            db.table("counters").create({"gauge": str, "raw": int, "t": float}, pk="gauge")

    def close(self) -> None:
        self.conn.close()

    def add(self, gauge: str, at: datetime, mm: float, since: datetime | None) -> None:
        self.conn.execute(
            "INSERT INTO increments (gauge, t, mm, since_t) VALUES (?,?,?,?)",
            (gauge, _t(at), mm, _t(since) if since else None),
        )

    def set_counter(self, gauge: str, raw: int, at: datetime) -> None:
        self.conn.execute(
            "INSERT INTO counters (gauge, raw, t) VALUES (?,?,?) "
            "ON CONFLICT(gauge) DO UPDATE SET raw = excluded.raw, t = excluded.t",
            (gauge, raw, _t(at)),
        )

    def counter(self, gauge: str) -> tuple[int, datetime] | None:
        row = self.conn.execute("SELECT raw, t FROM counters WHERE gauge = ?", (gauge,)).fetchone()
        return (row[0], datetime.fromtimestamp(row[1], UTC)) if row else None

    def increments(
        self, gauge: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, float]]:
        rows = self.conn.execute(
            "SELECT t, mm FROM increments WHERE gauge = ? AND t > ? AND t <= ? ORDER BY t",
            (gauge, _t(start), _t(end)),
        ).fetchall()
        return [(datetime.fromtimestamp(t, UTC), mm) for t, mm in rows]


def series(
    increments: list[tuple[datetime, float]], start: datetime, end: datetime, step_s: int
) -> list[tuple[datetime, float]]:
    """Rain per ``step_s`` bucket over ``(start, end]``, every bucket present (dry = 0)."""
    count = max(1, int((end - start).total_seconds() // step_s))
    buckets = [0.0] * count
    base = start.timestamp()
    for at, mm in increments:
        index = min(count - 1, int((at.timestamp() - base - 1e-9) // step_s))
        if index >= 0:
            buckets[index] += mm
    return [(datetime.fromtimestamp(base + (i + 1) * step_s, UTC), round(mm, 4))
            for i, mm in enumerate(buckets)]
