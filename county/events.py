"""``station-county events``: every station's journal, in one local SQLite file.

Each station's journal is pulled page by page after the last ``seq`` already held
(``GET /api/v1/events?after=SEQ``), and each page is committed with the new position, so
an interrupted pull resumes where it stopped and nothing is fetched twice. The file then
answers questions across stations (``--since``, ``--kind``) without asking them again.

A station whose journal was replaced (a corrupt file moved aside: its ``seq`` starts
again) is noticed by its ``last_seq`` going backwards; its events from then on are kept
as a new *generation* beside the old ones, never over them.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from county.client import StationClient
from county.report import BEIJING, beijing

PAGE = 1000
HEADERS = ("时间 time (北京)", "站点 station", "序号 seq", "事件 kind", "来源 source",
           "操作者 actor", "内容 data")
CSV_HEADERS = ("station", "generation", "seq", "ts", "kind", "source", "actor", "data")
SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    station TEXT NOT NULL, generation INTEGER NOT NULL, seq INTEGER NOT NULL,
    ts TEXT NOT NULL, kind TEXT NOT NULL, source TEXT, actor TEXT, data TEXT,
    PRIMARY KEY (station, generation, seq));
CREATE INDEX IF NOT EXISTS events_ts ON events (ts);
CREATE TABLE IF NOT EXISTS cursors (
    station TEXT PRIMARY KEY, generation INTEGER NOT NULL, last_seq INTEGER NOT NULL,
    pulled_at TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Pulled:
    events: int
    last_seq: int
    restarted: bool


class EventStore:
    """The county's copy of every station's journal."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(path)
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def cursor(self, station: str) -> tuple[int, int]:
        """(generation, last seq held) for a station; (0, 0) before the first pull."""
        row = self.db.execute("SELECT generation, last_seq FROM cursors WHERE station = ?",
                              (station,)).fetchone()
        return (row[0], row[1]) if row else (0, 0)

    def store_page(self, station: str, generation: int, events: list[dict[str, Any]],
                   last_seq: int) -> None:
        with self.db:
            self.db.executemany(
                "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(station, generation, e["seq"], e["ts"], e["kind"], e.get("source"),
                  e.get("actor"), json.dumps(e.get("data"), ensure_ascii=False))
                 for e in events])
            self.db.execute(
                "INSERT INTO cursors VALUES (?, ?, ?, ?) ON CONFLICT (station) DO UPDATE SET "
                "generation = excluded.generation, last_seq = excluded.last_seq, "
                "pulled_at = excluded.pulled_at",
                (station, generation, last_seq, datetime.now(UTC).isoformat()))

    def query(self, *, since: str, kind: str | None = None,
              stations: list[str] | None = None) -> Iterator[dict[str, Any]]:
        sql = ("SELECT station, generation, seq, ts, kind, source, actor, data FROM events "
               "WHERE ts >= ?")
        args: list[Any] = [since]
        if kind:
            sql += " AND (kind = ? OR kind LIKE ?)"
            args += [kind, kind.rstrip(".") + ".%"]
        if stations:
            sql += f" AND station IN ({', '.join('?' * len(stations))})"
            args += stations
        sql += " ORDER BY ts, station, generation, seq"
        for row in self.db.execute(sql, args):
            yield dict(zip(CSV_HEADERS, row, strict=True))


async def pull(client: StationClient, store: EventStore) -> Pulled:
    """Fetch the station's events after the ones held, committing page by page."""
    station = client.station.id
    generation, after = store.cursor(station)
    count, restarted = 0, False
    while True:
        page = await client.get_json("/api/v1/events", after=after, limit=PAGE)
        events, last_seq = page["events"], int(page["last_seq"])
        if last_seq < after and not events:
            generation, after, restarted = generation + 1, 0, True
            continue
        if events:
            after = events[-1]["seq"]
            store.store_page(station, generation, events, after)
            count += len(events)
        if len(events) < PAGE:
            if not events:
                store.store_page(station, generation, [], after)
            return Pulled(count, after, restarted)


RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*(m|min|h|d)$")
UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400}


def since_utc(text: str, now: datetime | None = None) -> str:
    """``--since``: ``30m``, ``2h``, ``7d`` ago, or a date/time (Beijing time unless it says).

    Returned in the journal's own format, so it compares as text with ``ts``.
    """
    now = now or datetime.now(UTC)
    match = RELATIVE.match(text.strip())
    if match:
        moment = now - timedelta(seconds=float(match[1]) * UNITS[match[2]])
    else:
        try:
            moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"--since: not 30m / 2h / 7d nor a date or time: {text!r}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=BEIJING)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def table_row(e: dict[str, Any]) -> list[str]:
    data = e["data"] or ""
    if len(data) > 80:
        data = data[:77] + "…"
    return [beijing(e["ts"]), e["station"], str(e["seq"]), e["kind"], e["source"] or "",
            e["actor"] or "", data]
