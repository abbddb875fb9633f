"""Reports as a county operator reads them: an aligned table, or CSV for a spreadsheet.

Chinese characters take two columns in a terminal, so widths are counted the way a
terminal draws them, or the columns of a mixed Chinese/English table would not line up.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Generic, TextIO, TypeVar

from county.fanout import Outcome

T = TypeVar("T")
Columns = dict[str, Any]

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def pad(text: str, width: int) -> str:
    return text + " " * (width - display_width(text))


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns separated by two spaces; the header underlined."""
    widths = [display_width(h) for h in headers]
    for row in rows:
        widths = [max(w, display_width(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = ["  ".join(pad(h, w) for h, w in zip(headers, widths, strict=True)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(pad(c, w) for c, w in zip(row, widths, strict=True)).rstrip()
              for row in rows]
    return "\n".join(lines) + "\n"


def csv_text(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue()


def parse_utc(text: str) -> datetime:
    """A station's timestamp (``…Z``) as an aware datetime."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def beijing(text: str | None) -> str:
    """``2026-07-15 08:05:00`` in Beijing time, the time a duty room reads."""
    if not text:
        return "-"
    return parse_utc(text).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class Report(Generic[T]):
    """How one command reports its stations: the same named columns as a table and as CSV,
    an optional summary line, and which stations did what was asked."""

    headers: tuple[str, ...]
    csv_headers: tuple[str, ...]
    columns: Callable[[Outcome[T]], Columns]
    table_row: Callable[[Columns], list[str]]
    csv_row: Callable[[Columns], list[object]]
    ok: Callable[[Columns], bool]
    summary: Callable[[list[Columns]], str] | None = None

    def write(self, outcomes: list[Outcome[T]], out: TextIO, csv_path: Path | None) -> int:
        """The table on ``out``, the CSV to ``csv_path``; exit status 0 if every station is ok."""
        cols = [self.columns(o) for o in outcomes]
        out.write(table(self.headers, [self.table_row(c) for c in cols]))
        if self.summary is not None:
            out.write(self.summary(cols) + "\n")
        if csv_path is not None:
            csv_path.write_text(csv_text(self.csv_headers, [self.csv_row(c) for c in cols]),
                                encoding="utf-8")
        return 0 if all(self.ok(c) for c in cols) else 1
