"""The 值班记录: one duty day of the journal, in order, readable, printable, as CSV.

A duty day runs 08:00–08:00 Beijing time, as the hydrological day and the duty roster
do; a chosen shift (any ``from``/``to`` up to two days) works the same way. Events are
described (:mod:`edge.journal_words`) and *folded*: the chatter of an action (relays
switching, an alarm's siren broadcasts repeating, SMS attempts) goes under the action
that caused it, so a day with hours of siren cadence still reads as a page of what
happened. The officer's own handover notes (交接班记录) are journal events
(``duty.handover_note``) and appear in their place.

Plain functions over event dicts: no station, no loop.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from drivers.clock import BEIJING

DAY_STARTS = time(8, 0)
MAX_SPAN = timedelta(days=2)


def duty_day_of(moment: datetime) -> date:
    """The duty day a moment belongs to (a day starts at 08:00 Beijing time)."""
    local = moment.astimezone(BEIJING)
    return (local - timedelta(hours=DAY_STARTS.hour, minutes=DAY_STARTS.minute)).date()


def duty_day_span(day: date) -> tuple[datetime, datetime]:
    """``[08:00 of day, 08:00 of the next day)`` Beijing time, in UTC."""
    start = datetime.combine(day, DAY_STARTS, BEIJING).astimezone(UTC)
    return start, start + timedelta(days=1)


@dataclass
class Entry:
    """A main event and the chatter folded under it."""

    event: dict[str, Any]
    said: dict[str, Any]
    folded: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)

    def summary(self, lang: str = "zh") -> str:
        """``输出已切换 ×24；广播播完一遍 ×3``: what was folded, by kind."""
        counts = Counter(said["title"][lang] for _, said in self.folded)
        sep = "；" if lang == "zh" else "; "
        return sep.join(f"{title} ×{n}" for title, n in counts.items())

    def as_json(self) -> dict[str, Any]:
        e = self.event
        return {"seq": e["seq"], "ts": e["ts"], "kind": e["kind"], "source": e["source"],
                "actor": e["actor"], **self.said, "folded_count": len(self.folded),
                "folded_summary": {"zh": self.summary("zh"), "en": self.summary("en")},
                "folded": [{"seq": f["seq"], "ts": f["ts"], "kind": f["kind"], **s}
                           for f, s in self.folded]}


#: Only these actions gather chatter: an alarm, a broadcast, a spot check.
CAUSES = ("alarm", "broadcast", "checkin")


def fold(events: Iterable[dict[str, Any]],
         describe: Callable[[dict[str, Any]], dict[str, Any]]) -> list[Entry]:
    """Main events in order, each with the chatter that belongs to it.

    Chatter goes under the latest main event of its group (``alarm:a1``), or of its kind
    of cause for ``alarm:*``; with no such event, under the latest cause of any kind, or
    else the latest main event; the very first events of a span, with nothing before
    them, stand on their own.
    """
    entries: list[Entry] = []
    by_group: dict[str, Entry] = {}
    latest: dict[str, Entry] = {}
    latest_cause: Entry | None = None
    for event in events:
        said = describe(event)
        group = said.get("group")
        if said["chatter"]:
            target = None
            if group is not None:
                head, _, name = group.partition(":")
                target = latest.get(head) if name == "*" else by_group.get(group)
            target = target or latest_cause or (entries[-1] if entries else None)
            if target is not None:
                target.folded.append((event, said))
                continue
        entry = Entry(event, said)
        entries.append(entry)
        if group is not None and group.split(":")[0] in CAUSES:
            by_group[group] = entry
            latest[group.split(":")[0]] = entry
            latest_cause = entry
    return entries


CSV_HEADER = ["时间（北京时间）", "类别", "事件", "详情", "操作人", "附带动作", "序号", "代码"]
CATEGORY_ZH = {"alarms": "报警预警", "broadcasts": "广播", "satphone": "卫星电话",
               "faults": "故障", "checkins": "抽查", "duty": "值班", "station": "站点"}


def beijing(ts: str) -> str:
    moment = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def csv_text(entries: Iterable[Entry]) -> str:
    """The day as CSV (UTF-8 with a byte-order mark, so a spreadsheet reads Chinese)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for entry in entries:
        e, said = entry.event, entry.said
        writer.writerow([beijing(e["ts"]), CATEGORY_ZH.get(said["category"], said["category"]),
                         said["title"]["zh"], said["text"]["zh"], said["actor_words"]["zh"],
                         entry.summary("zh"), e["seq"], e["kind"]])
    return out.getvalue()
