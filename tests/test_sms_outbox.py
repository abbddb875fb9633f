"""The persistent outbox against the simulated terminal: retries, restarts, resumed parts."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from test_modem import CHINESE_120, IRIDIUM, NUMBER, Station, build, teardown

from drivers.clock import ManualClock
from sat_phone.outbox import (
    FAILED,
    PENDING,
    SENT,
    Attempt,
    Delivery,
    Outbox,
    OutboxSettings,
    SmsPriority,
)

SETTINGS = OutboxSettings(max_attempts=3, retry_initial_s=30, retry_max_s=120)
#: No modem poll while the tests jump the clock to the outbox's retries: a poll's command
#: still on the wire when the clock jumps past its timeout would count as a dead terminal.
NO_POLL_S = 3600.0


class Attempts:
    def __init__(self) -> None:
        self.seen: list[Attempt] = []
        self._event = asyncio.Event()

    def record(self, attempt: Attempt) -> None:
        self.seen.append(attempt)
        self._event.set()

    async def count(self, n: int) -> list[Attempt]:
        while len(self.seen) < n:
            self._event.clear()
            await self._event.wait()
        return self.seen


@pytest.fixture
async def station(tmp_path: Path) -> AsyncIterator[Station]:
    """No poll while the clock jumps (signal changes still arrive: +CIEV)."""
    station = await build(tmp_path, IRIDIUM, poll_interval_s=NO_POLL_S)
    yield station
    await teardown(station)


def outbox_for(station: Station, path: Path, attempts: Attempts) -> Outbox:
    return Outbox(path, send=station.modem.send_sms, clock=station.clock, settings=SETTINGS,
                  on_attempt=attempts.record)


async def test_report_waits_for_the_network_then_goes_out_intact(
    station: Station, tmp_path: Path
) -> None:
    attempts = Attempts()
    outbox = outbox_for(station, tmp_path / "outbox.db", attempts)
    await station.sim.call("signal", bars=0)
    await outbox.start()
    try:
        message_id = outbox.enqueue(NUMBER, CHINESE_120, tag="first-report")
        [failed] = await attempts.count(1)
        assert (failed.ok, failed.code, failed.final) == (False, 500, False)
        assert failed.sms.state == PENDING
        assert outbox.counts() == {PENDING: 1, SENT: 0, FAILED: 0}
        assert outbox.oldest_pending() == failed.sms.created, "the county sees it waiting"
        await station.sim.call("signal", bars=4)
        await station.settled()
        await station.clock.advance(SETTINGS.retry_initial_s)
        _, sent = await attempts.count(2)
        assert (sent.ok, sent.final, sent.attempt) == (True, True, 2)
        assert outbox.get(message_id).state == SENT
        assert outbox.counts() == {PENDING: 0, SENT: 1, FAILED: 0}
        assert outbox.oldest_pending() is None
        [message] = (await station.sim.call("outbox"))["messages"]
        assert (message["text"], message["complete"]) == (CHINESE_120, True)
        assert list(outbox.get(message_id).references) == message["references"]
    finally:
        await outbox.close()


async def test_a_queued_message_survives_a_restart(station: Station, tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    before = outbox_for(station, path, Attempts())
    before.open()
    with pytest.raises(ValueError):
        before.enqueue("值班室", "a number is digits")  # refused now, not at sending time
    message_id = before.enqueue(NUMBER, "重启前排队的报告")
    await before.close()  # the process dies before the sender ran

    attempts = Attempts()
    after = outbox_for(station, path, attempts)
    await after.start()
    try:
        [sent] = await attempts.count(1)
        assert (sent.ok, sent.sms.id) == (True, message_id)
        [message] = (await station.sim.call("outbox"))["messages"]
        assert message["text"] == "重启前排队的报告"
    finally:
        await after.close()


async def test_a_failed_part_is_resent_alone_with_the_same_reference(
    station: Station, tmp_path: Path
) -> None:
    await station.sim.call("fault", name="cms_error", code=332, count=1, skip=1)
    attempts = Attempts()
    outbox = outbox_for(station, tmp_path / "outbox.db", attempts)
    await outbox.start()
    try:
        message_id = outbox.enqueue(NUMBER, CHINESE_120)
        [failed] = await attempts.count(1)
        assert (failed.code, failed.sms.parts_sent, failed.sms.parts) == (332, 1, 2)
        await station.settled()
        await station.clock.advance(SETTINGS.retry_initial_s)
        await attempts.count(2)
        [message] = (await station.sim.call("outbox"))["messages"]
        assert (message["text"], message["received_parts"], message["complete"]) == (
            CHINESE_120, 2, True
        )
        assert len(outbox.get(message_id).references) == 2
    finally:
        await outbox.close()


async def test_gives_up_after_its_attempts_and_says_so(station: Station, tmp_path: Path) -> None:
    await station.sim.call("signal", bars=0)
    attempts = Attempts()
    outbox = outbox_for(station, tmp_path / "outbox.db", attempts)
    await outbox.start()
    try:
        message_id = outbox.enqueue(NUMBER, "无网络")
        await attempts.count(1)
        await station.settled()  # the sweep after a failed send
        await station.clock.advance(30)
        await attempts.count(2)
        await station.settled()
        await station.clock.advance(60)
        seen = await attempts.count(3)
        assert [a.final for a in seen] == [False, False, True]
        assert outbox.get(message_id).state == FAILED
        assert outbox.messages(FAILED)[0].last_error is not None
        assert outbox.counts() == {PENDING: 0, SENT: 0, FAILED: 1}
        assert outbox.oldest_pending() is None, "given up: no longer waiting"
    finally:
        await outbox.close()


def test_an_outbox_written_before_priorities_opens_with_its_messages_routine(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outbox.db"
    with sqlite3.connect(path) as old:  # the table as the first version wrote it
        old.execute("CREATE TABLE outbox (id INTEGER PRIMARY KEY, number TEXT NOT NULL, "
                    "text TEXT NOT NULL, tag TEXT, reference INTEGER, parts INTEGER, "
                    "parts_sent INTEGER, refs TEXT, state TEXT NOT NULL, attempts INTEGER, "
                    "created TEXT NOT NULL, next_try TEXT NOT NULL, last_error TEXT)")
        old.execute("INSERT INTO outbox VALUES (1, ?, '旧短信', 'api', 7, 1, 0, '[]', "
                    "'pending', 0, '2026-07-01T00:00:00.000+00:00', "
                    "'2026-07-01T00:00:00.000+00:00', NULL)", (NUMBER,))
    old.close()

    async def never(*_args: object, **_kw: object) -> list[int]:
        raise AssertionError("not sending")

    outbox = Outbox(path, send=never, clock=ManualClock())
    outbox.open()
    try:
        before = outbox.get(1)
        assert (before.text, before.priority, before.delivery) == ("旧短信", SmsPriority.ROUTINE,
                                                                   None)
        report = outbox.enqueue(NUMBER, "首报", priority=SmsPriority.REPORT)
        assert outbox.get(report).priority == SmsPriority.REPORT
    finally:
        outbox._connection.close()


async def test_a_status_report_that_overtakes_its_part_is_matched_once_the_part_is_stored(
    tmp_path: Path,
) -> None:
    clock = ManualClock()
    told: list[Delivery] = []

    async def send(number: str, _text: str, *, first_part: int, **_kw: object) -> list[int]:
        # the terminal's status report is read before the outbox stores the reference
        outbox.delivery_report(number, 40 + first_part, 0x00, "delivered", clock.now())
        return [40 + first_part]

    attempts = Attempts()
    outbox = Outbox(tmp_path / "outbox.db", send=send, clock=clock, on_attempt=attempts.record,
                    reports_requested=lambda: True, on_delivery=told.append)
    await outbox.start()
    try:
        message_id = outbox.enqueue(NUMBER, CHINESE_120)
        await attempts.count(1)
        assert [(d.sms.id if d.sms else None, d.part) for d in told] == [(message_id, 1),
                                                                         (message_id, 2)]
        assert outbox.get(message_id).delivery == "delivered"
        outbox.delivery_report(NUMBER, 41, 0x41, "failed", clock.now())  # final: not overwritten
        await clock.advance(600)
        outbox.delivery_report(NUMBER, 7, 0x00, "delivered", clock.now())
        assert [(d.sms, d.reference, d.outcome) for d in told[2:]] == [(None, 41, "failed")]
        assert outbox.get(message_id).delivery == "delivered"
    finally:
        await outbox.close()


async def test_a_report_the_disk_refuses_is_sent_from_memory_and_written_later(
    station: Station, tmp_path: Path
) -> None:
    attempts = Attempts()
    outbox = outbox_for(station, tmp_path / "outbox.db", attempts)
    await outbox.start()
    try:
        kept = outbox.enqueue(NUMBER, "磁盘满之前的报告")
        await attempts.count(1)
        outbox._connection.execute("PRAGMA query_only = ON")  # the disk went read-only
        message_id = outbox.enqueue(NUMBER, "磁盘满时的首报")
        assert message_id == kept + 1 and outbox.unsaved_count == 1
        _, sent = await attempts.count(2)
        assert (sent.ok, sent.sms.id, sent.sms.state) == (True, message_id, SENT)
        texts = [m["text"] for m in (await station.sim.call("outbox"))["messages"]]
        assert texts == ["磁盘满之前的报告", "磁盘满时的首报"]
        assert [m.id for m in outbox.messages(SENT)] == [message_id, kept]
        assert outbox.counts() == {PENDING: 0, SENT: 2, FAILED: 0}
        outbox._connection.execute("PRAGMA query_only = OFF")  # space again
        await station.clock.advance(2.0)
        assert outbox.unsaved_count == 0
    finally:
        await outbox.close()
    again = outbox_for(station, tmp_path / "outbox.db", Attempts())
    again.open()
    try:
        assert again.get(message_id).state == SENT, "on disk, with what happened to it"
    finally:
        await again.close()
