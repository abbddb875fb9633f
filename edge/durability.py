"""Waiting until a change is on disk before saying it happened, never longer than 2 s.

Whoever acknowledges something to a person or the county (an API answer) first waits
for its journal event and its state record to be on disk. A full or read-only disk, or
an SD card that stalls, must not make that wait endless: after
:data:`~edge.state_store.DURABLE_TIMEOUT_S` the caller gets :class:`NotDurable` with the
reason (the API answers 503 with it; the change itself has been made, in memory).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from edge.state_store import DURABLE_TIMEOUT_S, NotDurable

if TYPE_CHECKING:
    from edge.station import Station


async def on_disk(station: Station, *, journal_seq: int | None = None,
                  state_ticket: int | None = None,
                  timeout_s: float = DURABLE_TIMEOUT_S) -> None:
    """Return once the journal through ``journal_seq`` and the state store through
    ``state_ticket`` are on disk; raises :class:`NotDurable` saying which is not."""
    waits: list[Awaitable[None]] = []
    if journal_seq is not None:
        waits.append(station.journal.durable(journal_seq))
    if state_ticket is not None:
        waits.append(station.state.durable(state_ticket, timeout_s=None))
    try:
        await asyncio.wait_for(asyncio.gather(*waits), timeout_s)
    except (TimeoutError, RuntimeError, NotDurable) as exc:
        raise NotDurable(_why(station, timeout_s, exc)) from None


def _why(station: Station, timeout_s: float, exc: BaseException) -> str:
    problems = [f"{name}: {error}" for name, error in (
        ("journal", station.journal.last_error), ("state", station.state.last_error)) if error]
    if not isinstance(exc, TimeoutError):
        problems.append(str(exc))
    detail = "; ".join(problems) or "the disk did not confirm the write"
    return f"done, but not saved to disk within {timeout_s:g} s ({detail}); retry later"
