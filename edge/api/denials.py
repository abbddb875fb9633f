"""Which refused requests go into the journal: every client's first at once, the rest counted.

A denial is never silent, but a script retrying a wrong token every second (or a guesser
sending thousands) must not write an event per attempt: the journal is what the county
reads, and it lives on an SD card. Per client and reason (a wrong token, a session that
ended, a role too weak …: a handful of fixed words), the first denial of a window is
journaled in full at once; the ones that follow within ``window_s`` are counted, and when
the window is over they become one summary with the count and a few paths, written by the
next request the API checks (the county's polls make that soon).

Plain logic on the station clock (``now`` is its monotonic seconds), tested without an
event loop. Windows all last ``window_s``, so the oldest open window is always the first
to close: closing them is a look at the front of an ordered dict.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_PATHS = 5


@dataclass
class Repeats:
    """The denials of one client for one reason after the first in one window."""

    client: str
    reason: str
    opened: float
    count: int = 0
    paths: list[str] = field(default_factory=list)

    def as_data(self, window_s: float) -> dict[str, object]:
        return {"client": self.client, "reason": self.reason, "count": self.count,
                "window_s": window_s, "paths": self.paths}


class DenialLog:
    def __init__(self, window_s: float = 60.0, max_windows: int = 4096) -> None:
        if window_s <= 0 or max_windows < 1:
            raise ValueError("a window > 0 and room for one window are needed")
        self.window_s = window_s
        self.max_windows = max_windows
        self._open: dict[tuple[str, str], Repeats] = {}

    def note(self, client: str, now: float, reason: str, path: str) -> tuple[bool, list[Repeats]]:
        """Note a denial. Returns whether to journal it in full now (it opens a window),
        and the summaries now due (windows over, or pushed out for room)."""
        due = self.closed(now)
        window = self._open.get((client, reason))
        if window is not None:
            window.count += 1
            if path not in window.paths and len(window.paths) < MAX_PATHS:
                window.paths.append(path)
            return False, due
        while len(self._open) >= self.max_windows:
            oldest = self._open.pop(next(iter(self._open)))
            if oldest.count:
                due.append(oldest)
        self._open[client, reason] = Repeats(client, reason, now)
        return True, due

    def closed(self, now: float) -> list[Repeats]:
        """The windows over by ``now`` that counted denials: one summary each, due now."""
        due = []
        while self._open:
            key, window = next(iter(self._open.items()))
            if now < window.opened + self.window_s:
                break
            del self._open[key]
            if window.count:
                due.append(window)
        return due
