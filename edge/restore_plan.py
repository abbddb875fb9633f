"""What a restarted station takes back from its state store, and how the pieces agree.

Plain functions, without I/O or an event loop. The station saves each alarm and each
gauge's warning board as they change, but a crash can fall between two saves, so at
start the board of a gauge is made to agree with that gauge's open alarm before the
first reading is evaluated against it:

* no open alarm → the board starts at no level, so rain still above a threshold raises
  a new alarm (the old one was cleared, or never saved);
* an open alarm → no latch above the alarm's level (a fresh reading escalates it again,
  under the same alarm id), at least one latch at it (a reading still above the
  threshold changes nothing), acknowledged exactly when the alarm is, so a latch clears
  when the rain eases after an acknowledgement and an unacknowledged one never does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sensors.levels import LatchState, WarningLevel

if TYPE_CHECKING:
    from edge.alarms import Alarm

LEVEL_OF = {"prepare": WarningLevel.PREPARE, "evacuate": WarningLevel.EVACUATE}


def open_alarms(saved: Iterable[Alarm]) -> list[Alarm]:
    """The alarms to carry on with: every one not cleared, oldest first."""
    return sorted((a for a in saved if a.open), key=lambda a: a.raised)


def next_number(ids: Iterable[str]) -> int:
    """The number for the next id (``a<time>-<n>``, ``c<time>-<n>``) after every restored one."""
    numbers = [int(n) for i in ids if (n := i.rpartition("-")[2]).isdigit()]
    return max(numbers, default=0) + 1


def board_to_json(states: Mapping[str, LatchState]) -> dict[str, Any]:
    return {w: {"level": s.level.name.lower(), "acknowledged": s.acknowledged}
            for w, s in states.items()}


def board_from_json(data: Mapping[str, Any]) -> dict[str, LatchState]:
    return {w: LatchState(WarningLevel[s["level"].upper()], bool(s["acknowledged"]))
            for w, s in data.items()}


def reconcile_board(alarm: Alarm | None, saved: Mapping[str, LatchState],
                    windows: Iterable[str]) -> dict[str, LatchState]:
    """The latches to restore for one gauge (``windows``: its configured windows)."""
    windows = list(windows)
    none = LatchState(WarningLevel.NONE, False)
    if alarm is None or alarm.level is None or not windows:
        return dict.fromkeys(windows, none)
    ceiling = LEVEL_OF[alarm.level]
    acknowledged = alarm.state == "acknowledged"
    out: dict[str, LatchState] = {}
    for window in windows:
        level = min(saved.get(window, none).level, ceiling)
        out[window] = LatchState(level, acknowledged and level is not WarningLevel.NONE)
    if max(s.level for s in out.values()) < ceiling:
        window = alarm.window if alarm.window in out else windows[0]
        out[window] = LatchState(ceiling, acknowledged)
    return out


def summary(restored: Mapping[str, Iterable[str]]) -> dict[str, Any]:
    """The ``state.restored`` journal event: counts and ids, by kind."""
    ids = {kind: sorted(found) for kind, found in restored.items()}
    return {"counts": {kind: len(found) for kind, found in ids.items()}, "ids": ids}
