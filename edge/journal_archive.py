"""Retention: old journal events move to compressed archive files, never vanish.

The live journal keeps at least ``retain_days`` (183 days at the least: six months is
the minimum the Cybersecurity Law asks of network logs). Older events, and the oldest
events when the live database outgrows its disk budget, are written to
``archive/events-<first>-<last>.jsonl.gz`` (fsynced, then renamed into place) and only
then removed from the database. The database's trigger refuses to delete a row that no
archive file holds.
"""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from drivers.clock import iso_utc

#: When over budget, archive down to this share of the budget, so archiving is not
#: triggered again by the next few events.
BUDGET_LOW_WATER = 0.8


def rows_over_budget(total_rows: int, db_bytes: int, budget_bytes: int) -> int:
    """How many of the oldest rows to archive so the database falls under its budget."""
    if db_bytes <= budget_bytes or total_rows == 0:
        return 0
    keep_share = budget_bytes * BUDGET_LOW_WATER / db_bytes
    return max(1, total_rows - int(total_rows * keep_share))


def archive_cutoff(
    conn: sqlite3.Connection,
    now: datetime,
    retain_days: int,
    db_bytes: int,
    budget_bytes: int,
) -> int:
    """The highest ``seq`` to archive now (0 = nothing)."""
    cutoff_ts = iso_utc(now - timedelta(days=retain_days))
    by_age = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events WHERE ts < ?", (cutoff_ts,))
    through: int = by_age.fetchone()[0]
    total: int = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    surplus = rows_over_budget(total, db_bytes, budget_bytes)
    if surplus:
        row = conn.execute(
            "SELECT seq FROM events ORDER BY seq LIMIT 1 OFFSET ?", (surplus - 1,)
        ).fetchone()
        through = max(through, row[0] if row else 0)
    return through


def archive_through(
    conn: sqlite3.Connection, through_seq: int, archive_dir: Path, now: datetime
) -> Path | None:
    """Write events up to ``through_seq`` to a gzip file, then remove them from the table."""
    rows = conn.execute(
        "SELECT seq, ts, kind, source, actor, data FROM events WHERE seq <= ? ORDER BY seq",
        (through_seq,),
    ).fetchall()
    if not rows:
        return None
    archive_dir.mkdir(parents=True, exist_ok=True)
    first, last = rows[0][0], rows[-1][0]
    final = archive_dir / f"events-{first:012d}-{last:012d}.jsonl.gz"
    partial = final.with_suffix(".partial")
    with open(partial, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb") as out:
        for seq, ts, kind, source, actor, data in rows:
            line = {"seq": seq, "ts": ts, "kind": kind, "source": source, "actor": actor,
                    "data": json.loads(data)}
            out.write(json.dumps(line, ensure_ascii=False).encode() + b"\n")
        out.flush()
        raw.flush()
        os.fsync(raw.fileno())
    os.replace(partial, final)
    dir_fd = os.open(archive_dir, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    conn.execute("BEGIN")
    try:
        conn.execute(
            "INSERT INTO archives (through_seq, file, events, created) VALUES (?,?,?,?)",
            (last, final.name, len(rows), iso_utc(now)),
        )
        conn.execute("DELETE FROM events WHERE seq <= ?", (last,))
        conn.execute("COMMIT")
    except sqlite3.Error:
        conn.execute("ROLLBACK")
        raise
    return final


def read_archive(path: Path) -> list[dict[str, object]]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]
