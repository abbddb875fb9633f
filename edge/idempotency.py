"""Idempotency keys with the answers they got, for 24 h, across restarts.

The county's systems retry a request whose answer they did not get (a VPN drop, a
timeout, the station restarting). With the same ``Idempotency-Key`` header the retry
gets the first answer, status and body, and nothing is done twice: one broadcast, not
two. A key belongs to the caller who used it (the token's name), so two callers cannot
see each other's answers. A request still in progress makes a retry with its key wait
for its answer. Answers are kept in the state store (:mod:`edge.state_store`) and written
before the first answer is given.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from drivers.clock import Clock
from edge.state_store import StateStore

KIND = "idempotency"
TTL_S = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Kept:
    answer: Answer
    expires_at: datetime


def book_key(caller: str, key: str) -> str:
    return f"{caller}\x1f{key}"


class IdempotencyBook:
    """The answers given under an idempotency key (``station.idempotency``)."""

    def __init__(self, clock: Clock, store: StateStore, ttl_s: float = TTL_S) -> None:
        self.clock = clock
        self.store = store
        self.ttl_s = ttl_s
        self._kept: dict[str, _Kept] = {}
        self._in_flight: dict[str, asyncio.Future[Answer | None]] = {}
        for key, data in store.loaded(KIND).items():
            self._kept[key] = _Kept(Answer(data["status"], data["body"]),
                                    datetime.fromisoformat(data["expires_at"]))
        self.restored = sorted(self._kept)

    async def claim(self, caller: str, key: str) -> Answer | None:
        """The answer already given under ``key``, or None: then the caller goes ahead and
        must end with :meth:`remember` or :meth:`release`."""
        name = book_key(caller, key)
        while True:
            kept = self._kept.get(name)
            if kept is not None and kept.expires_at > self.clock.now():
                return kept.answer
            self._kept.pop(name, None)
            running = self._in_flight.get(name)
            if running is None:
                self._in_flight[name] = asyncio.get_running_loop().create_future()
                return None
            answer = await asyncio.shield(running)
            if answer is not None:
                return answer

    def remember(self, caller: str, key: str, answer: Answer) -> int:
        """Keep the answer (its state-store ticket: await it before answering)."""
        name = book_key(caller, key)
        expires_at = self.clock.now() + timedelta(seconds=self.ttl_s)
        self._kept[name] = _Kept(answer, expires_at)
        self._expire()
        ticket = self.store.put(KIND, name, {"status": answer.status, "body": answer.body,
                                             "expires_at": expires_at.isoformat()},
                                expires=expires_at)
        self._settle(name, answer)
        return ticket

    def release(self, caller: str, key: str) -> None:
        """The request failed before it had an answer worth keeping (e.g. a 422)."""
        self._settle(book_key(caller, key), None)

    def _settle(self, name: str, answer: Answer | None) -> None:
        running = self._in_flight.pop(name, None)
        if running is not None and not running.done():
            running.set_result(answer)

    def _expire(self) -> None:
        now = self.clock.now()
        for name in [n for n, kept in self._kept.items() if kept.expires_at <= now]:
            del self._kept[name]
