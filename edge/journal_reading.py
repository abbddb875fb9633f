"""Reading the journal backwards and by time, for the panel and the 值班记录.

The journal's own reader goes forwards from a seq (what the county and the stream
need). A duty officer asks other questions: the last few thousand events, and one duty
day. Both read the journal file read-only, never through its writer. Times are found
by bisecting on seq (the journal's clock only moves forwards in practice; an event
written across a clock step back is still found, by its seq, in the span it was
written in).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from drivers.clock import iso_utc

COLUMNS = "seq, ts, kind, source, actor, data"


def _open(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def _rows(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [{"seq": s, "ts": ts, "kind": k, "source": src, "actor": a, "data": json.loads(d)}
            for s, ts, k, src, a, d in rows]


def read_back(path: Path, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` events, oldest first."""
    conn = _open(path)
    try:
        rows = conn.execute(f"SELECT {COLUMNS} FROM events ORDER BY seq DESC LIMIT ?",
                            (limit,)).fetchall()
    finally:
        conn.close()
    return _rows(rows[::-1])


def _first_seq_at(conn: sqlite3.Connection, ts: str) -> int | None:
    """The smallest seq whose ts is at or after ``ts`` (bisecting on seq), or None."""
    lo, hi = conn.execute("SELECT MIN(seq), MAX(seq) FROM events").fetchone()
    if hi is None or conn.execute("SELECT ts FROM events WHERE seq = ?", (hi,)).fetchone()[0] < ts:
        return None

    def first_at(seq: int) -> tuple[int, str]:
        row: tuple[int, str] = conn.execute(
            "SELECT seq, ts FROM events WHERE seq >= ? ORDER BY seq LIMIT 1", (seq,)).fetchone()
        return row

    while lo < hi:
        mid = (lo + hi) // 2
        if first_at(mid)[1] >= ts:
            hi = mid
        else:
            lo = mid + 1
    return first_at(lo)[0]


def read_span(path: Path, start: datetime, end: datetime, limit: int,
              kinds: tuple[str, ...] = ()) -> tuple[list[dict[str, Any]], bool]:
    """Events with ``start <= ts < end`` (oldest first, at most ``limit``; only of
    ``kinds`` if given), and whether there were more."""
    conn = _open(path)
    try:
        first = _first_seq_at(conn, iso_utc(start))
        if first is None:
            return [], False
        after_end = _first_seq_at(conn, iso_utc(end))
        only = f" AND kind IN ({','.join('?' * len(kinds))})" if kinds else ""
        rows = conn.execute(
            f"SELECT {COLUMNS} FROM events WHERE seq >= ? AND seq < ?{only} ORDER BY seq "
            "LIMIT ?", (first, after_end if after_end is not None else 2**62, *kinds,
                        limit + 1)).fetchall()
    finally:
        conn.close()
    return _rows(rows[:limit]), len(rows) > limit


def ts_before(path: Path, seq: int) -> str | None:
    """What the run before ``seq`` (a ``station.started``) wrote last: the time of the last
    event before it, leaving out the first status of each device (``previous`` unknown),
    which the starting run journals before ``station.started``. None: no run before."""
    conn = _open(path)
    try:
        row = conn.execute(
            "SELECT ts FROM events WHERE seq < ? AND NOT (kind = 'health.changed' AND "
            "json_extract(data, '$.previous') = 'unknown') ORDER BY seq DESC LIMIT 1",
            (seq,)).fetchone()
    finally:
        conn.close()
    return row[0] if row else None
