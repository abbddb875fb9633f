"""What a restart must not forget, in its own SQLite file (``data_dir/state.db``).

A watchdog restart, a power cut or a ``kill -9`` must change nothing a person relies on:
open alarms and their acknowledgements, the warning board behind them, 叫应 in
progress, idempotency keys with their answers, panel sessions, a spot check waiting for
its answer. Each part keeps its state in memory as before and hands every change here
as a *record* (``kind``, ``key``, JSON ``data``); at start it reads back what was left.

Writing never blocks the event loop (a siren must not wait for an SD card): records go
to disk through one writer thread (:mod:`drivers.sqlite_writer`, WAL,
``synchronous=FULL``), and whoever acknowledges a change to a person awaits
:meth:`StateStore.durable` first, for at most :data:`DURABLE_TIMEOUT_S`; a disk that
cannot confirm in that time raises :class:`NotDurable` with the reason (the API answers
503). A full or read-only disk keeps the changes in memory and writes them when it can.

Records of dataclasses (an :class:`~edge.alarms.Alarm`) are stored field by field as
JSON with a schema version, and read back tolerantly: a field added since is given its
default, a field no longer known is ignored, so a part can grow without a migration.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import TypeAdapter

from drivers import sqlite_wal
from drivers.clock import Clock
from drivers.sqlite_writer import SqliteWriter, WriterFront, WriterStopped

log = logging.getLogger(__name__)

STATE_FILE = "state.db"
SCHEMA_VERSION = 1
DURABLE_TIMEOUT_S = 2.0
RETRY_AFTER_FAILURE_S = 1.0

D = TypeVar("D")


class NotDurable(Exception):
    """A change could not be confirmed on disk in time; ``str()`` says why."""


@dataclass(frozen=True, slots=True)
class Change:
    """One record to write (``data`` None: delete it)."""

    kind: str
    key: str
    data: str | None
    expires: str | None


_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(cls: type[Any]) -> TypeAdapter[Any]:
    if cls not in _ADAPTERS:
        _ADAPTERS[cls] = TypeAdapter(cls)
    return _ADAPTERS[cls]


def to_record(obj: Any) -> dict[str, Any]:
    """A dataclass as plain JSON data (datetimes as ISO strings, nested dataclasses too)."""
    data: dict[str, Any] = _adapter(type(obj)).dump_python(obj, mode="json")
    return data


def from_record(cls: type[D], data: dict[str, Any]) -> D:
    """The inverse of :func:`to_record`: unknown fields ignored, missing ones defaulted."""
    value: D = _adapter(cls).validate_python(data)
    return value


def _apply(conn: sqlite3.Connection, batch: list[tuple[int, Change]]) -> None:
    for _, change in batch:
        if change.data is None:
            conn.execute("DELETE FROM records WHERE kind = ? AND key = ?",
                         (change.kind, change.key))
        else:
            conn.execute(
                "INSERT INTO records (kind, key, schema, data, expires) VALUES (?,?,?,?,?) "
                "ON CONFLICT(kind, key) DO UPDATE SET schema = excluded.schema, "
                "data = excluded.data, expires = excluded.expires",
                (change.kind, change.key, SCHEMA_VERSION, change.data, change.expires))


class StateStore(WriterFront[Change]):
    """Durable records by kind and key (``station.state``)."""

    def __init__(self, path: Path, clock: Clock) -> None:
        super().__init__()
        self.path = path
        self.clock = clock
        self._loaded: dict[str, dict[str, dict[str, Any]]] = {}

    def open(self) -> str | None:
        """Open (or create) the file and read every unexpired record; returns the problem
        found (a corrupt file is moved aside and a fresh one started), or None."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        problem = None
        corrupt = sqlite_wal.problem(self.path)
        if corrupt is not None:
            moved = sqlite_wal.move_aside(self.path, self.clock.now().strftime("%Y%m%dT%H%M%SZ"))
            problem = f"state was corrupt ({corrupt}); moved aside to {moved.name}"
            log.error(problem)
        conn = sqlite_wal.connect(self.path, synchronous="FULL", check_same_thread=False)
        conn.execute("CREATE TABLE IF NOT EXISTS records (kind TEXT NOT NULL, key TEXT NOT NULL,"
                     " schema INTEGER NOT NULL, data TEXT NOT NULL, expires TEXT,"
                     " PRIMARY KEY (kind, key))")
        now = self.clock.now().isoformat()
        for kind, key, schema, data, expires in conn.execute(
                "SELECT kind, key, schema, data, expires FROM records ORDER BY rowid"):
            if expires is not None and expires <= now:
                continue
            if schema > SCHEMA_VERSION:
                log.warning("state record %s/%s has schema %d (newer than %d): read as far "
                            "as understood", kind, key, schema, SCHEMA_VERSION)
            self._loaded.setdefault(kind, {})[key] = json.loads(data)
        self._start_writer(SqliteWriter(conn, _apply, name="state-writer",
                                        now=self.clock.now, retry_s=RETRY_AFTER_FAILURE_S))
        self._drop_expired(now)
        return problem

    def _drop_expired(self, now: str) -> None:
        """Drop what expired while the station was down (on the writer's thread)."""
        def job(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM records WHERE expires IS NOT NULL AND expires <= ?", (now,))

        self._open_writer().schedule(job)

    def close(self) -> None:
        self._close_writer()

    # -- reading what the last run left ---------------------------------------------------

    def loaded(self, kind: str) -> dict[str, dict[str, Any]]:
        """The records of ``kind`` found at start, by key (oldest first)."""
        return dict(self._loaded.get(kind, {}))

    def loaded_as(self, kind: str, cls: type[D]) -> dict[str, D]:
        """Records of ``kind`` read back as ``cls``; one that no longer reads is skipped."""
        out: dict[str, D] = {}
        for key, data in self.loaded(kind).items():
            try:
                out[key] = from_record(cls, data)
            except ValueError as exc:
                log.error("state record %s/%s no longer reads as %s: %s", kind, key,
                          cls.__name__, exc)
        return out

    def carried(self, kind: str, wanted: Iterable[str],
                read: Callable[[dict[str, Any]], D]) -> dict[str, D]:
        """Records of ``kind`` whose key is still wanted (e.g. an open alarm's id), read
        back; the others (their alarm was cleared meanwhile) are deleted."""
        keep = set(wanted)
        out: dict[str, D] = {}
        for key, data in self.loaded(kind).items():
            if key in keep:
                out[key] = read(data)
            else:
                self.delete(kind, key)
        return out

    # -- writing ----------------------------------------------------------------------------

    def put(self, kind: str, key: str, data: dict[str, Any], *,
            expires: datetime | None = None) -> int:
        """Keep ``data`` under (``kind``, ``key``); returns the ticket to await."""
        text = json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)
        return self._open_writer().submit(
            Change(kind, key, text, expires.isoformat() if expires else None))

    def put_record(self, kind: str, key: str, obj: Any, *,
                   expires: datetime | None = None) -> int:
        """Keep a dataclass (see :func:`to_record`)."""
        return self.put(kind, key, to_record(obj), expires=expires)

    def delete(self, kind: str, key: str) -> int:
        return self._open_writer().submit(Change(kind, key, None, None))

    async def durable(self, ticket: int | None = None, *,
                      timeout_s: float | None = DURABLE_TIMEOUT_S) -> None:
        """Return once ``ticket`` (default: everything so far) is on disk; raises
        :class:`NotDurable` with the reason if that does not happen in ``timeout_s``
        (None: the caller bounds the wait)."""
        writer = self._open_writer()
        if ticket is None:
            ticket = writer.last_ticket
        try:
            await asyncio.wait_for(writer.durable(ticket), timeout_s)
        except TimeoutError:
            why = writer.last_error or "the disk did not confirm the write"
            raise NotDurable(f"state not saved within {timeout_s:g} s: {why}") from None
        except WriterStopped as exc:
            raise NotDurable(f"state not saved: {exc}") from None
