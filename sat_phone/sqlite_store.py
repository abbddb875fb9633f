"""The satellite phone's SQLite files (outbox, reassembly): opened one safe way, each
served by one background task.

WAL so a reader never blocks the writer, and ``synchronous=FULL`` because a row
written here is a promise (a report accepted for sending, a part the terminal may now
delete) that must survive a power cut.

Plain ``sqlite3`` (a row in, a row out, by id or a WHERE clause): the tables were first
laid out through sqlite-utils, whose import costs the daemon numpy and 25 MB; the
schema is the one it wrote, so files from before read the same.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from drivers import sqlite_wal
from drivers.tasks import cancel_and_wait


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}


class Table:
    """One table whose rows are dicts and whose primary key is the integer ``id``."""

    def __init__(self, conn: sqlite3.Connection, name: str) -> None:
        self._conn = conn
        self.name = name

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cursor = self._conn.cursor()
        cursor.row_factory = _dict_row
        return cursor.execute(sql, args).fetchall()

    def insert(self, row: dict[str, Any], *, replace: bool = False) -> int:
        """Insert (or with ``replace``, overwrite the row of the same id); its id."""
        columns = ", ".join(f'"{c}"' for c in row)
        marks = ", ".join("?" * len(row))
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        cursor = self._conn.execute(
            f'{verb} INTO "{self.name}" ({columns}) VALUES ({marks})', list(row.values()))
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def get(self, row_id: int) -> dict[str, Any]:
        rows = self._rows(f'SELECT * FROM "{self.name}" WHERE id = ?', (row_id,))
        if not rows:
            raise KeyError(f"no row {row_id} in {self.name}")
        return rows[0]

    def rows_where(self, where: str | None = None, args: Sequence[Any] | None = None, *,
                   order_by: str | None = None, limit: int | None = None
                   ) -> list[dict[str, Any]]:
        sql = f'SELECT * FROM "{self.name}"'
        if where is not None:
            sql += f" WHERE {where}"
        if order_by is not None:
            sql += f" ORDER BY {order_by}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self._rows(sql, args or ())

    def update(self, row_id: int, changes: dict[str, Any]) -> None:
        sets = ", ".join(f'"{c}" = ?' for c in changes)
        cursor = self._conn.execute(f'UPDATE "{self.name}" SET {sets} WHERE id = ?',
                                    [*changes.values(), row_id])
        if cursor.rowcount != 1:
            raise KeyError(f"no row {row_id} in {self.name}")

    def delete_where(self, where: str, args: Sequence[Any]) -> None:
        self._conn.execute(f'DELETE FROM "{self.name}" WHERE {where}', args)

    def columns(self) -> set[str]:
        return {row[1] for row in self._conn.execute(f'PRAGMA table_info("{self.name}")')}


class SqliteStore:
    """A SQLite file and the task that works on it: ``open``, ``start``, ``close``."""

    table_name = ""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._task: asyncio.Task[None] | None = None

    def open(self) -> None:
        conn = sqlite_wal.connect(self.path, synchronous="FULL")
        exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                              (self.table_name,)).fetchone()
        if exists is None:
            self._create(conn)
        else:
            self._upgrade(conn)
        self._conn = conn

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
            self._conn = None

    @property
    def _table(self) -> Table:
        return Table(self._connection, self.table_name)

    @property
    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError(f"{self.table_name} store is not open")
        return self._conn

    def _create(self, conn: sqlite3.Connection) -> None:
        raise NotImplementedError

    def _upgrade(self, conn: sqlite3.Connection) -> None:
        """Bring a file written by an older version up to date (columns added since)."""

    async def _run(self) -> None:
        raise NotImplementedError
