"""The rain archive: writes follow what happened; minutes and counters always agree."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drivers.clock import ManualClock
from edge.health import Health
from edge.rain import ARCHIVE_DEVICE, ArchiveHealth
from edge.rain_store import CONFIRM_S, FLUSH_S, PendingRain, RainStore
from sensors.gauge_events import CounterReading
from tests.helpers import StationRun, sim_config, until, wait_for
from tests.test_alarms_station import PULSE_GAUGE, rain

T0 = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def test_nothing_is_due_on_a_dry_day_but_a_rare_confirmation() -> None:
    pending = PendingRain()
    t0 = T0.timestamp()
    assert not pending.due(t0)
    pending.counter("rg-1", CounterReading(7, at(0)))
    assert pending.due(t0), "the first reading is written (the baseline)"
    pending.take(t0)
    writes = 0
    for second in range(1, 3601):  # an hour of 1 s polls, the counter never moving
        pending.counter("rg-1", CounterReading(7, at(second)))
        if pending.due(t0 + second):
            pending.take(t0 + second)
            writes += 1
    assert writes == 3600 // CONFIRM_S


def test_rain_waits_at_most_a_minute_and_a_gap_not_at_all() -> None:
    pending = PendingRain()
    t0 = T0.timestamp()
    pending.take(t0)
    pending.book("rg-1", at(0), at(1), 0.2)
    assert not pending.due(t0 + 1)
    assert pending.due(t0 + FLUSH_S)
    pending.take(t0 + FLUSH_S)
    pending.counter("rg-1", CounterReading(0, at(61)), urgent=True)
    assert pending.due(t0 + 61)


def test_minutes_and_counters_are_written_together_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "readings.db"
    store = RainStore(path)
    pending = PendingRain()
    pending.book("rg-1", at(-30), at(30), 2.0)
    pending.book("rg-1", at(30), at(90), 0.6)
    pending.counter("rg-1", CounterReading(26, at(90)))
    store.write(*pending.take(T0.timestamp()))
    pending.book("rg-1", at(90), at(120), 0.3)   # the same minute again: added
    store.write(*pending.take(T0.timestamp() + 120))
    expected = [(int(at(-60).timestamp()), pytest.approx(1.0)),
                (int(at(0).timestamp()), pytest.approx(1.3)),
                (int(at(60).timestamp()), pytest.approx(0.6))]
    assert store.minutes("rg-1", at(-3600), at(3600)) == expected, "on disk or on its way"
    store.close()
    again = RainStore(path)
    assert again.minutes("rg-1", at(-3600), at(3600)) == expected
    assert again.counter("rg-1") == CounterReading(26, at(90))
    assert again.counter("rg-2") is None
    again.close()


def test_a_disk_that_refuses_keeps_the_rain_and_writes_it_when_it_can(tmp_path: Path) -> None:
    path = tmp_path / "readings.db"
    store = RainStore(path, retry_s=0.05)
    health = Health(ManualClock(T0))
    archive = ArchiveHealth(health)
    assert health.get(ARCHIVE_DEVICE).status == "ok"
    heard: list[bool] = []

    def writable_change(writable: bool, error: str | None) -> None:
        heard.append(writable)
        archive.changed(writable, error)

    store.on_writable_change = writable_change
    writer_conn = store._open_writer().connection
    writer_conn.execute("PRAGMA query_only = ON")  # as a disk the kernel remounted read-only
    pending = PendingRain()
    pending.book("rg-1", at(0), at(60), 1.5)
    pending.counter("rg-1", CounterReading(15, at(60)))
    store.write(*pending.take(T0.timestamp()))
    wait_for("the refusal", lambda: heard == [False])
    refused = health.get(ARCHIVE_DEVICE)
    assert refused.status == "fault" and "readonly" in refused.detail, "never silent"
    assert health.status() == "fault"
    assert store.unwritten_mm() == pytest.approx(1.5)
    minute = int(at(0).timestamp())
    assert store.minutes("rg-1", at(0), at(60)) == [(minute, pytest.approx(1.5))]
    writer_conn.execute("PRAGMA query_only = OFF")  # writable again
    wait_for("the write", lambda: heard == [False, True])
    assert store.unwritten_mm() == 0
    assert (health.get(ARCHIVE_DEVICE).status, health.status()) == ("ok", "ok")
    store.close()
    again = RainStore(path)
    assert again.minutes("rg-1", at(0), at(60)) == [(minute, pytest.approx(1.5))]
    assert again.counter("rg-1") == CounterReading(15, at(60))
    again.close()


async def test_a_station_whose_rain_archive_is_refused_is_at_fault_until_it_writes(
    tmp_path: Path,
) -> None:
    """The same through a station: journaled, in health, the fault LED lit, and ok again."""
    async with StationRun(sim_config(tmp_path, PULSE_GAUGE)) as run:
        station = run.station
        assert station.parts.rain is not None
        store = station.parts.rain.store
        writer_conn = store._open_writer().connection
        writer_conn.execute("PRAGMA query_only = ON")
        await rain(run, 1.0, over_s=10)
        station.parts.rain.write_archive(force=True)
        await until("the refusal in health",
                    lambda: station.health.get(ARCHIVE_DEVICE).status == "fault")
        assert "readonly" in station.health.get(ARCHIVE_DEVICE).detail
        await run.clock.advance(0.1)
        assert station.outputs["panel.fault_led"].switch.is_on
        writer_conn.execute("PRAGMA query_only = OFF")
        await rain(run, 0.5, over_s=1)  # the next write wakes the writer's retry at once
        station.parts.rain.write_archive(force=True)
        await until("the write", lambda: station.health.get(ARCHIVE_DEVICE).status == "ok")
        await run.clock.advance(0.1)
        assert not station.outputs["panel.fault_led"].switch.is_on
        kinds = [e["kind"] for e in await run.settled_events()
                 if e["kind"] in ("fault.rain_archive", "rain.archive_resumed")]
        assert kinds == ["fault.rain_archive", "rain.archive_resumed"]


def test_an_archive_of_readings_rows_becomes_minutes(tmp_path: Path) -> None:
    path = tmp_path / "readings.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE increments (gauge TEXT, t FLOAT, mm FLOAT, since_t FLOAT)")
    conn.executemany("INSERT INTO increments VALUES (?,?,?,?)", [
        ("rg-1", at(30).timestamp(), 1.0, at(-30).timestamp()),
        ("rg-1", at(90).timestamp(), 0.5, None)])
    conn.commit()
    conn.close()
    store = RainStore(path)
    assert store.minutes("rg-1", at(-3600), at(3600)) == [
        (int(at(-60).timestamp()), pytest.approx(0.5)),
        (int(at(0).timestamp()), pytest.approx(0.5)),
        (int(at(60).timestamp()), pytest.approx(0.5))]
    store.close()
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert "increments" not in tables
