"""Opening the satellite phone's SQLite files (outbox, reassembly) the one safe way.

WAL so a reader never blocks the writer, and ``synchronous=FULL`` because a row
written here is a promise (a report accepted for sending, a part the terminal may now
delete) that must survive a power cut.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils


def open_database(path: Path) -> tuple[sqlite3.Connection, sqlite_utils.Database]:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn, sqlite_utils.Database(conn)
