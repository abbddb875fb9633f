"""The journal: ordered, append-only, durable, self-checking, and retained without loss."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from drivers.clock import ManualClock
from edge import journal_archive
from edge.journal import Journal


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    j = Journal(tmp_path / "journal.db", ManualClock())
    j.open()
    yield j
    j.close()


async def test_seq_is_strictly_increasing_and_durable_waits_for_disk(journal: Journal) -> None:
    seqs = [journal.record("test.event", "tests", "pytest", n=n) for n in range(50)]
    assert seqs == list(range(1, 51))
    await journal.durable(seqs[-1])
    rows = journal.read(after=0, limit=1000)
    assert [r["seq"] for r in rows] == seqs
    assert rows[7]["data"] == {"n": 7}
    assert rows[0]["ts"] == "2026-07-01T00:00:00.000Z"
    assert journal.read(after=45, limit=2)[0]["seq"] == 46


async def test_rows_cannot_be_updated_or_deleted(journal: Journal) -> None:
    await journal.durable(journal.record("test.event", "tests"))
    conn = sqlite3.connect(journal.path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE events SET kind = 'forged'")
        with pytest.raises(sqlite3.IntegrityError, match="archived"):
            conn.execute("DELETE FROM events")
    finally:
        conn.close()


def test_seq_continues_after_reopen(tmp_path: Path) -> None:
    clock = ManualClock()
    first = Journal(tmp_path / "j.db", clock)
    first.open()
    first.record("a", "t")
    first.record("b", "t")
    first.close()
    second = Journal(tmp_path / "j.db", clock)
    report = second.open()
    assert report.next_seq == 3 and report.problem is None
    assert second.record("c", "t") == 3
    second.close()


def test_a_corrupt_journal_is_moved_aside_and_a_fresh_one_started(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    path.write_bytes(b"SQLite format 3\x00" + b"\xde\xad" * 4000)
    journal = Journal(path, ManualClock())
    report = journal.open()
    try:
        assert report.problem is not None and "corrupt" in report.problem
        assert report.moved_aside is not None and report.moved_aside.exists()
        assert report.moved_aside.read_bytes().startswith(b"SQLite format 3\x00\xde\xad")
        assert journal.record("after.corruption", "t") == 1
    finally:
        journal.close()
    assert [r["kind"] for r in Journal(path, ManualClock()).read()] == ["after.corruption"]


async def test_a_full_disk_makes_the_journal_unwritable_and_nothing_is_lost(
    journal: Journal,
) -> None:
    await journal.durable(journal.record("before", "t"))
    changes: list[bool] = []
    journal.on_writable_change = lambda ok, _err: changes.append(ok)
    assert journal._conn is not None
    pages = journal._conn.execute("PRAGMA page_count").fetchone()[0]
    journal._conn.execute(f"PRAGMA max_page_count = {pages}")  # the disk is now "full"
    seqs = [journal.record("during", "t", blob="x" * 2000) for _ in range(20)]
    for _ in range(200):
        if changes:
            break
        await asyncio.sleep(0.01)
    assert changes == [False] and not journal.writable
    assert "full" in (journal.last_error or "")
    assert journal.oldest_pending_at == journal.clock.now(), "what the county's JournalStuck reads"
    journal._conn.execute("PRAGMA max_page_count = 1000000")  # space freed
    await journal.durable(seqs[-1])
    assert journal.writable and changes == [False, True]
    assert journal.oldest_pending_at is None
    assert [r["seq"] for r in journal.read(after=1, limit=100)] == seqs


async def test_old_events_are_archived_to_compressed_files_never_dropped(tmp_path: Path) -> None:
    clock = ManualClock()
    journal = Journal(tmp_path / "journal.db", clock)
    journal.open()
    try:
        old = [journal.record("old", "t", n=n) for n in range(5)]
        await clock.advance(200 * 86400)
        new = [journal.record("new", "t", n=n) for n in range(3)]
        await journal.durable(new[-1])
        archive_dir = tmp_path / "archive"
        conn = sqlite3.connect(journal.path, isolation_level=None)
        try:
            through = journal_archive.archive_cutoff(conn, clock.now(), 183, 0, 10**9)
            assert through == old[-1]
            path = journal_archive.archive_through(conn, through, archive_dir, clock.now())
        finally:
            conn.close()
        assert path is not None
        archived = journal_archive.read_archive(path)
        assert [e["seq"] for e in archived] == old
        assert [e["seq"] for e in journal.read(limit=100)] == new
        assert journal.record("next", "t") == new[-1] + 1
    finally:
        journal.close()


def test_over_budget_archives_the_oldest_share() -> None:
    assert journal_archive.rows_over_budget(1000, 100, 200) == 0
    assert journal_archive.rows_over_budget(1000, 400, 200) == 600
    assert journal_archive.rows_over_budget(1, 400, 200) == 1


def test_retention_keeps_six_months_by_age(tmp_path: Path) -> None:
    clock = ManualClock()
    journal = Journal(tmp_path / "j.db", clock)
    journal.open()
    journal.record("recent", "t")
    journal.close()
    conn = sqlite3.connect(tmp_path / "j.db")
    try:
        later = clock.now() + timedelta(days=182)
        assert journal_archive.archive_cutoff(conn, later, 183, 0, 10**9) == 0
    finally:
        conn.close()


async def test_a_failing_retention_run_is_a_fault_in_health_until_a_later_run_succeeds(
    tmp_path: Path,
) -> None:
    from datetime import UTC, datetime

    from tests.helpers import StationRun, sim_config, until

    old = Journal(tmp_path / "journal.db", ManualClock(datetime(2025, 12, 1, tzinfo=UTC)))
    old.open()
    old.record("old.event", "tests")
    old.close()
    (tmp_path / "archive").write_text("a file where the archive directory must go")
    async with StationRun(sim_config(tmp_path)) as run:  # 2026-07-01: 212 days later
        health = run.station.health
        journal = await until("the first retention run to fail",
                              lambda: health.get("journal").status == "fault"
                              and health.get("journal"))
        assert "retention/archive failed" in journal.detail
        assert "FileExistsError" in journal.detail
        assert health.status() == "fault"
        assert [e["kind"] for e in run.events("old.event")] == ["old.event"], "nothing lost"
        (tmp_path / "archive").unlink()
        run.station.schedule_retention()
        await until("a later run to succeed", lambda: health.get("journal").status == "ok")
        assert len(list((tmp_path / "archive").glob("events-*.jsonl.gz"))) == 1
        assert run.events("old.event") == []
        changes = [e["data"]["status"] for e in await run.settled_events("health.changed")
                   if e["source"] == "journal"]
        assert changes[-2:] == ["fault", "ok"]
