"""The state store: records survive a reopen, dataclasses read back tolerantly, a full disk
answers NotDurable with the reason and catches up when space returns; idempotency keys."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from drivers.clock import ManualClock
from edge.alarms import Alarm
from edge.idempotency import Answer, IdempotencyBook
from edge.state_store import NotDurable, StateStore


@dataclass
class AlarmWithCrossings(Alarm):
    """An Alarm as a later version might have it (a field added)."""

    crossings: dict[str, str] = field(default_factory=dict)


def opened(path: Path, clock: ManualClock) -> StateStore:
    store = StateStore(path, clock)
    assert store.open() is None
    return store


async def test_records_survive_a_reopen_and_expired_ones_do_not(tmp_path: Path) -> None:
    clock = ManualClock()
    store = opened(tmp_path / "state.db", clock)
    store.put("k", "a", {"n": 1})
    store.put("k", "b", {"n": 2})
    store.put("k", "a", {"n": 3})  # replaced, keeps its place
    store.put("k", "gone", {"n": 4})
    store.delete("k", "gone")
    store.put("k", "brief", {"n": 5}, expires=clock.now() + timedelta(seconds=10))
    await store.durable()
    store.close()
    await clock.advance(11)
    again = opened(tmp_path / "state.db", clock)
    try:
        assert again.loaded("k") == {"a": {"n": 3}, "b": {"n": 2}}
        assert list(again.loaded("k")) == ["a", "b"]
    finally:
        again.close()


async def test_a_dataclass_reads_back_whatever_fields_were_added_or_dropped(
    tmp_path: Path,
) -> None:
    clock = ManualClock()
    store = opened(tmp_path / "state.db", clock)
    newer = AlarmWithCrossings("a1", "rain", "rg-1", "后山", clock.now(), level="evacuate",
                               crossings={"1h": "2026-07-01T00:00:00Z"})
    older = Alarm("a2", "hand_alarm", "ha-1", "村口", clock.now(), acknowledged_by="duty",
                  acknowledged_at=clock.now())
    store.put_record("alarm", newer.id, newer)
    store.put_record("alarm", older.id, older)
    await store.durable()
    store.close()
    again = opened(tmp_path / "state.db", clock)
    try:
        as_now = again.loaded_as("alarm", Alarm)
        assert as_now["a1"].level == "evacuate" and not hasattr(as_now["a1"], "crossings")
        assert as_now["a2"].acknowledged_at == clock.now()
        as_later = again.loaded_as("alarm", AlarmWithCrossings)
        assert as_later["a1"].crossings == {"1h": "2026-07-01T00:00:00Z"}
        assert as_later["a2"].crossings == {}, "a field the record lacks gets its default"
    finally:
        again.close()


async def test_a_full_disk_is_not_durable_with_the_reason_and_catches_up(
    tmp_path: Path,
) -> None:
    store = opened(tmp_path / "state.db", ManualClock())
    changes: list[bool] = []
    store.on_writable_change = lambda ok, _err: changes.append(ok)
    try:
        await store.durable(store.put("k", "before", {"n": 0}))
        conn = store._writer.connection  # type: ignore[union-attr]  # the disk is now "full"
        conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")
        ticket = 0
        for n in range(50):
            ticket = store.put("k", f"during-{n}", {"blob": "x" * 2000})
        with pytest.raises(NotDurable, match="full"):
            await store.durable(ticket, timeout_s=0.5)
        assert not store.writable and changes == [False]
        conn.execute("PRAGMA max_page_count = 1000000")  # space freed
        await store.durable(ticket, timeout_s=30)
        assert store.writable and changes == [False, True]
    finally:
        store.close()
    again = opened(tmp_path / "state.db", ManualClock())
    try:
        assert len(again.loaded("k")) == 51
    finally:
        again.close()


async def test_a_key_gets_its_first_answer_across_a_reopen_for_a_day(tmp_path: Path) -> None:
    clock = ManualClock()
    store = opened(tmp_path / "state.db", clock)
    book = IdempotencyBook(clock, store)
    assert await book.claim("county", "k1") is None
    waiting = asyncio.ensure_future(book.claim("county", "k1"))  # a retry while in progress
    await asyncio.sleep(0)
    assert not waiting.done()
    await store.durable(book.remember("county", "k1", Answer(202, {"id": "b1"})))
    assert await waiting == Answer(202, {"id": "b1"})
    assert await book.claim("other", "k1") is None, "another caller's key is its own"
    book.release("other", "k1")
    store.close()

    reopened = opened(tmp_path / "state.db", clock)
    try:
        again = IdempotencyBook(clock, reopened)
        assert again.restored == ["county\x1fk1"]
        assert await again.claim("county", "k1") == Answer(202, {"id": "b1"})
        await clock.advance(24 * 3600)
        assert await again.claim("county", "k1") is None, "kept 24 h"
    finally:
        reopened.close()


async def test_a_request_that_failed_leaves_its_key_free(tmp_path: Path) -> None:
    clock = ManualClock()
    store = opened(tmp_path / "state.db", clock)
    try:
        book = IdempotencyBook(clock, store)
        assert await book.claim("county", "k2") is None
        retry = asyncio.ensure_future(book.claim("county", "k2"))
        await asyncio.sleep(0)
        book.release("county", "k2")  # e.g. a 422: nothing done, nothing to replay
        assert await retry is None
        book.release("county", "k2")
    finally:
        store.close()
