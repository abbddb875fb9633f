"""The one-thread SQLite writer under the journal and the state store: a dead thread or a
closed event loop is a fault the waiters hear at once, never a hang."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers import sqlite_wal
from drivers.sqlite_writer import SqliteWriter, WriterStopped


def insert(conn: sqlite3.Connection, batch: list[tuple[int, str]]) -> None:
    conn.executemany("INSERT INTO t (n, v) VALUES (?, ?)", batch)


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = sqlite_wal.connect(tmp_path / "w.db", check_same_thread=False)
    connection.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, v TEXT)")
    yield connection
    connection.close()


def rows(conn: sqlite3.Connection) -> list[tuple[int, str]]:
    return conn.execute("SELECT n, v FROM t ORDER BY n").fetchall()


def gated_writer(conn: sqlite3.Connection) -> tuple[SqliteWriter[str], threading.Event]:
    """A started writer whose commits wait until the returned gate is set."""
    gate = threading.Event()

    def slow_insert(c: sqlite3.Connection, batch: list[tuple[int, str]]) -> None:
        gate.wait()
        insert(c, batch)

    writer: SqliteWriter[str] = SqliteWriter(conn, slow_insert, name="test-writer")
    writer.start()
    return writer, gate


def test_a_waiter_whose_event_loop_closed_does_not_stop_the_writer(
    conn: sqlite3.Connection,
) -> None:
    writer, gate = gated_writer(conn)
    try:
        first = writer.submit("a")
        abandoned = asyncio.new_event_loop()
        waiter = abandoned.create_task(writer.durable(first))
        abandoned.run_until_complete(asyncio.sleep(0))  # the waiter is registered …
        abandoned.close()  # … and its loop is gone before the write lands
        waiter._log_destroy_pending = False  # type: ignore[attr-defined]  # abandoned on purpose
        gate.set()
        assert not waiter.done()
        second = writer.submit("b")
        asyncio.run(writer.durable(second))
        assert rows(conn) == [(1, "a"), (2, "b")]
        assert writer.stopped is None and writer.writable
    finally:
        writer.close()


def test_a_writer_thread_that_dies_is_a_fault_and_no_waiter_hangs(
    conn: sqlite3.Connection,
) -> None:
    def broken(_c: sqlite3.Connection, _batch: list[tuple[int, str]]) -> None:
        raise ValueError("a bug in the commit")

    changes: list[tuple[bool, str | None]] = []
    writer: SqliteWriter[str] = SqliteWriter(conn, broken, name="test-writer")
    writer.on_writable_change = lambda ok, why: changes.append((ok, why))
    writer.start()

    async def wait_for_it() -> None:
        await writer.durable(writer.submit("a"))

    try:
        with pytest.raises(WriterStopped, match="died: ValueError: a bug in the commit"):
            asyncio.run(wait_for_it())
        assert changes == [(False, "thread died: ValueError: a bug in the commit")]
        with pytest.raises(WriterStopped, match="died"):
            asyncio.run(wait_for_it())  # a later waiter fails at once too
    finally:
        writer.close()


def test_a_cancelled_waiter_is_forgotten(conn: sqlite3.Connection) -> None:
    writer, gate = gated_writer(conn)

    async def give_up() -> int:
        waiting = asyncio.ensure_future(writer.durable(writer.submit("a")))
        await asyncio.sleep(0)
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        return len(writer._waiters)

    try:
        assert asyncio.run(give_up()) == 0
    finally:
        gate.set()
        writer.close()
    assert rows(conn) == [(1, "a")]
