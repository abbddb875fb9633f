"""One thread that commits, in order, what others hand it, to one SQLite connection.

A caller hands an item over with :meth:`SqliteWriter.submit` and gets its *ticket* (a
number that only grows) at once: nothing on the event loop waits for the disk, so a
stalling SD card or a full disk never delays a relay. A caller that is about to
acknowledge something to a person first awaits :meth:`SqliteWriter.durable` for its
ticket. Items are committed in batches, in ticket order, by the one thread that owns
the connection (maintenance jobs run on it too, between batches).

A failed commit (disk full, read-only, locked) keeps the batch and is retried every
``retry_s`` seconds; ``on_writable_change`` hears the change both ways. The thread never
dies quietly: if it stops for any other reason, every waiter fails at once, later ones
fail at once, and ``on_writable_change`` says why. A waiter whose event loop has gone
away is simply forgotten (resolving it would raise on that closed loop).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
Commit = Callable[[sqlite3.Connection, list[tuple[int, T]]], None]
Job = Callable[[sqlite3.Connection], None]
WritableListener = Callable[[bool, str | None], None]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class WriterStopped(RuntimeError):
    """The writer closed, or its thread died, before the ticket was on disk."""


class SqliteWriter(Generic[T]):
    def __init__(self, conn: sqlite3.Connection, commit: Commit[T], *, name: str,
                 last_ticket: int = 0, now: Callable[[], datetime] = _utc_now,
                 retry_s: float = 1.0) -> None:
        self.name = name
        self._conn = conn
        self._commit = commit
        self._now = now
        self._retry_s = retry_s
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: list[tuple[int, T]] = []
        self._jobs: list[Job] = []
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._last_ticket = last_ticket
        self._committed = last_ticket
        self._closing = False
        self._stopped: str | None = None  # why the thread is gone, once it is
        self._thread: threading.Thread | None = None
        self.writable = True
        self.last_error: str | None = None
        self.last_write_at: datetime | None = None
        self.on_writable_change: WritableListener | None = None
        self.on_job_failed: Callable[[BaseException], None] | None = None

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Commit what was submitted (unless the disk refuses), then stop the thread."""
        with self._lock:
            self._closing = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._fail_waiters("closed")

    # -- handing over ------------------------------------------------------------------

    def submit(self, item: T) -> int:
        """Queue ``item`` for the disk; its ticket, at once."""
        with self._lock:
            if self._stopped == "closed":
                raise WriterStopped(f"{self.name} is closed")
            self._last_ticket += 1
            self._pending.append((self._last_ticket, item))
            self._wake.notify()
            return self._last_ticket

    def schedule(self, job: Job) -> None:
        """Run ``job`` on the writer's thread, between batches."""
        with self._lock:
            self._jobs.append(job)
            self._wake.notify()

    async def durable(self, ticket: int) -> None:
        """Return once ``ticket`` is committed; raises :class:`WriterStopped` if it never
        will be (closed, or the thread died)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if ticket <= self._committed:
                return
            if self._stopped is not None:
                raise WriterStopped(f"{self.name} {self._stopped}")
            future: asyncio.Future[None] = loop.create_future()
            self._waiters.append((ticket, future))
        future.add_done_callback(self._forget)
        await future

    @property
    def connection(self) -> sqlite3.Connection:
        """The connection the thread writes on (closed by its owner after :meth:`close`)."""
        return self._conn

    @property
    def committed(self) -> int:
        return self._committed

    @property
    def last_ticket(self) -> int:
        with self._lock:
            return self._last_ticket

    @property
    def pending_count(self) -> int:
        with self._lock:
            return len(self._pending)

    def oldest_pending(self) -> T | None:
        """The oldest item not yet on disk (None: nothing waits)."""
        with self._lock:
            return self._pending[0][1] if self._pending else None

    @property
    def stopped(self) -> str | None:
        """Why the thread is gone (``closed``, or how it died), or None while it runs."""
        return self._stopped

    # -- the thread --------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._work()
        except BaseException as exc:  # a bug: a fault for everyone, never a silent hang
            reason = f"thread died: {type(exc).__name__}: {exc}"
            log.exception("%s %s", self.name, reason)
            with self._lock:
                self._stopped = reason
            self._set_writable(False, reason)
            self._fail_waiters(reason)
            return
        with self._lock:
            self._stopped = "closed"

    def _work(self) -> None:
        while True:
            with self._lock:
                while not (self._pending or self._jobs or self._closing):
                    self._wake.wait()
                batch = list(self._pending)
                jobs, self._jobs = self._jobs, []
                closing = self._closing
            if batch and not self._write(batch):
                if closing:
                    log.error("%s closing with %d items not written", self.name, len(batch))
                    return
                with self._lock:
                    self._wake.wait(self._retry_s)
            for job in jobs:
                self._run_job(job)
            with self._lock:
                if closing and not self._pending:
                    return

    def _write(self, batch: list[tuple[int, T]]) -> bool:
        try:
            with self._conn:
                self._conn.execute("BEGIN")
                self._commit(self._conn, batch)
        except sqlite3.Error as exc:
            self._set_writable(False, f"{type(exc).__name__}: {exc}")
            return False
        last = batch[-1][0]
        with self._lock:
            del self._pending[: len(batch)]
            self._committed = last
            ready = [f for t, f in self._waiters if t <= last]
            self._waiters = [(t, f) for t, f in self._waiters if t > last]
        self.last_write_at = self._now()
        self._set_writable(True, None)
        for future in ready:
            _settle(future, None)
        return True

    def _run_job(self, job: Job) -> None:
        try:
            job(self._conn)
        except Exception as exc:
            log.exception("%s: maintenance job failed", self.name)
            if self.on_job_failed is not None:
                self.on_job_failed(exc)

    def _set_writable(self, writable: bool, error: str | None) -> None:
        changed = writable != self.writable
        self.writable, self.last_error = writable, error
        if not changed:
            return
        if writable:
            log.warning("%s writable again", self.name)
        else:
            log.error("%s not writable: %s", self.name, error)
        if self.on_writable_change is not None:
            try:
                self.on_writable_change(writable, error)
            except Exception:
                log.exception("%s: writable listener failed", self.name)

    def _fail_waiters(self, reason: str) -> None:
        with self._lock:
            waiters, self._waiters = self._waiters, []
            if self._stopped is None:
                self._stopped = reason
        for _, future in waiters:
            _settle(future, WriterStopped(f"{self.name} {reason}"))

    def _forget(self, future: asyncio.Future[None]) -> None:
        """A waiter that gave up (cancelled) is dropped, so nothing resolves it later."""
        if future.cancelled():
            with self._lock:
                self._waiters = [(t, f) for t, f in self._waiters if f is not future]


class WriterFront(Generic[T]):
    """A store written through a :class:`SqliteWriter` (the journal, the state store): how
    its writing goes, for health and metrics, and the one listener of its writability."""

    def __init__(self) -> None:
        self._writer: SqliteWriter[T] | None = None
        self.on_writable_change: WritableListener | None = None

    def _start_writer(self, writer: SqliteWriter[T]) -> None:
        writer.on_writable_change = self._writable_changed
        self._writer = writer
        writer.start()

    def _open_writer(self) -> SqliteWriter[T]:
        if self._writer is None:
            raise RuntimeError(f"{type(self).__name__} is not open")
        return self._writer

    def _close_writer(self) -> None:
        """Write what was handed over (if the disk takes it), stop, close the connection."""
        if self._writer is not None:
            self._writer.close()
            self._writer.connection.close()

    def _writable_changed(self, writable: bool, error: str | None) -> None:
        if self.on_writable_change is not None:
            self.on_writable_change(writable, error)

    def _reading(self, name: str, closed: Any) -> Any:
        return getattr(self._writer, name) if self._writer is not None else closed

    @property
    def writable(self) -> bool:
        return bool(self._reading("writable", False))

    @property
    def last_error(self) -> str | None:
        error: str | None = self._reading("last_error", None)
        return error

    @property
    def last_write_at(self) -> datetime | None:
        at: datetime | None = self._reading("last_write_at", None)
        return at

    @property
    def pending_count(self) -> int:
        """Changes handed over, not yet on disk."""
        return int(self._reading("pending_count", 0))

    @property
    def last_ticket(self) -> int:
        """The ticket of the latest change handed over."""
        return int(self._reading("last_ticket", 0))

    @property
    def committed(self) -> int:
        """The ticket of the latest change on disk."""
        return int(self._reading("committed", 0))


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    """Resolve ``future`` on its own loop, from any thread; a closed loop has nobody left
    to tell (and would raise ``RuntimeError`` at ``call_soon_threadsafe``)."""
    loop = future.get_loop()
    try:
        loop.call_soon_threadsafe(_set, future, error)
    except RuntimeError:
        pass  # that loop is closed


def _set(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
