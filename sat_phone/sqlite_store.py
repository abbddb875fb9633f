"""The satellite phone's SQLite files (outbox, reassembly): opened one safe way, each
served by one background task.

WAL so a reader never blocks the writer, and ``synchronous=FULL`` because a row
written here is a promise (a report accepted for sending, a part the terminal may now
delete) that must survive a power cut.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import sqlite_utils

from drivers import sqlite_wal
from drivers.tasks import cancel_and_wait


def open_database(path: Path) -> tuple[sqlite3.Connection, sqlite_utils.Database]:
    conn = sqlite_wal.connect(path, synchronous="FULL")
    return conn, sqlite_utils.Database(conn)


class SqliteStore:
    """A SQLite file and the task that works on it: ``open``, ``start``, ``close``."""

    table_name = ""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._db: sqlite_utils.Database | None = None
        self._task: asyncio.Task[None] | None = None

    def open(self) -> None:
        conn, db = open_database(self.path)
        if self.table_name not in db.table_names():
            self._create(db)
        else:
            self._upgrade(db)
        self._conn, self._db = conn, db

    async def start(self) -> None:
        if self._conn is None:
            self.open()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"{self.table_name} store")

    async def close(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait([task])
        if self._conn is not None:
            self._conn.close()
            self._conn = self._db = None

    @property
    def _table(self) -> sqlite_utils.db.Table:
        if self._db is None:
            raise RuntimeError(f"{self.table_name} store is not open")
        return self._db.table(self.table_name)

    @property
    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError(f"{self.table_name} store is not open")
        return self._conn

    def _create(self, db: sqlite_utils.Database) -> None:
        raise NotImplementedError

    def _upgrade(self, db: sqlite_utils.Database) -> None:
        """Bring a file written by an older version up to date (columns added since)."""

    async def _run(self) -> None:
        raise NotImplementedError
