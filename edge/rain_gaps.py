"""When a gauge gave no data: the spans a rain chart must leave empty.

A gauge's series has a number for every step, dry or not; a step in which the gauge
was offline, in fault, not yet read, or the station itself was stopped has no
measurement, and drawing it as 0 mm would be a lie. The spans come from the journal:
a gauge's ``health.changed`` events (any status but ``ok`` opens a gap, ``ok`` closes
it) and the station's own starts: the station was not looking from the last thing its
previous run wrote (``previous_ts`` of a ``station.started`` event; a ``kill -9``
writes no goodbye) until the gauge answered again. Plain function over events.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from drivers.clock import iso_utc

GAP_KINDS = ("health.changed", "station.started")


def gaps(events: Iterable[dict[str, Any]], gauge: str, start: datetime, end: datetime,
         *, stale_since: datetime | None) -> list[dict[str, str | None]]:
    """``[{"from": ts, "to": ts | None}]`` within ``[start, end)``; ``to`` None: still open.

    ``events`` are the journal's events of :data:`GAP_KINDS` in the span, oldest first;
    ``stale_since`` is when the gauge's data stopped if it is not delivering now.
    """
    out: list[dict[str, str | None]] = []
    opened: str | None = None
    seen_gauge = False
    for event in events:
        kind, data = event["kind"], event.get("data") or {}
        if kind == "health.changed":
            if event["source"] != gauge:
                continue
            if not seen_gauge and data.get("previous") not in (None, "ok") and opened is None:
                opened = iso_utc(start)  # it was already out when the span began
            seen_gauge = True
        ok = kind == "health.changed" and data.get("status") == "ok"
        if ok and opened is not None:
            out.append({"from": opened, "to": event["ts"]})
            opened = None
        elif not ok and opened is None:
            opened = event["ts"]
            if kind == "station.started":
                before = event.get("previous_ts")
                opened = max(before, iso_utc(start)) if before else iso_utc(start)
    if opened is None and stale_since is not None:
        opened = iso_utc(max(stale_since, start))
    if opened is not None:
        out.append({"from": opened, "to": None if stale_since is not None else iso_utc(end)})
    return out
