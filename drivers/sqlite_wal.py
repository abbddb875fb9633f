"""Opening a SQLite file the one way every store of the station uses.

WAL, so a reader (the API, a backup) never blocks the writer; autocommit
(``isolation_level=None``), so each store says itself where a transaction begins;
``synchronous`` chosen by the caller: ``FULL`` where a row is a promise to someone
(the journal, the outbox, durable state), ``NORMAL`` for bulk data that can be
recovered from the device (rain readings).

Each connection's page cache is bounded to :data:`CACHE_KIB` (SQLite's default is
2 MiB per connection): the station's connections live as long as the daemon and
mostly append, so a large cache would only fill, over days, with pages of a growing
file that the OS keeps cached anyway; five of them would be 10 MiB of a Pi's memory.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Literal

Synchronous = Literal["FULL", "NORMAL"]

CACHE_KIB = 256


def connect(path: Path | str, *, synchronous: Synchronous = "FULL",
            check_same_thread: bool = True) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=check_same_thread)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    except BaseException:
        conn.close()
        raise
    return conn


def problem(path: Path) -> str | None:
    """Why the file at ``path`` is not a sound SQLite database, or None (sound, or absent)."""
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(path)
        try:
            result = conn.execute("PRAGMA quick_check").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    if result is None or result[0] != "ok":
        return f"quick_check: {result[0] if result else 'no answer'}"
    return None


def move_aside(path: Path, stamp: str) -> Path:
    """Move a database (and its -wal, -shm) to ``<name>.corrupt-<stamp>``; the new name."""
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        part = Path(str(path) + suffix)
        if part.exists():
            os.replace(part, Path(str(aside) + suffix))
    return aside
