"""A satellite terminal that misbehaves, told truthfully (issue 11): each failure staged on
the simulated terminal (hw-sim/at_modem_sim.py, a child process on a pty) against the
real channel, modem and outbox, on a ManualClock.

The clock moves only when a test says so, so a send that finishes without it moving
cannot have waited out a timeout; before moving it a test waits for the inbox to be
idle (no command of ours in flight that a jump would time out).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from test_modem import CHANNEL, CHINESE_120, NUMBER, POLL, REPORT, build, teardown
from test_sms_outbox import Attempts

from sat_phone.at_channel import AtTimeout
from sat_phone.modem import GENERIC, IRIDIUM, ModemSettings, SmsSendError
from sat_phone.outbox import PENDING, SENT, Outbox, OutboxSettings, SmsPriority
from sat_phone.pdu import encode_deliver

pytestmark = pytest.mark.waits  # on a simulated line's silences: see tests/conftest.py

SENDER = "+8613912345678"
COMMAND = "2468 转移"
ROUTINE_3_PARTS = (REPORT * 5)[:180]  # 67 + 67 + 46 UCS2 characters
PART_TIMEOUT_S = ModemSettings().sms_timeout_s


async def test_a_cmt_torn_by_a_urc_is_read_from_storage_and_a_whole_one_is_taken_once(
    tmp_path: Path,
) -> None:
    station = await build(tmp_path, GENERIC, True, 60.0, poll_interval_s=3600)
    try:
        await station.sim.call("fault", name="torn_cmt", by="urc")
        await station.sim.call("deliver_sms", **{"from": SENDER}, text=COMMAND)
        [torn] = await station.received(1)
        assert (torn.sender, torn.text) == (SENDER, COMMAND)
        assert station.modem.inbox.torn >= 1

        await station.sim.call("fault", name="torn_cmt", by="none")  # pushed and stored too
        await station.sim.call("deliver_sms", **{"from": SENDER}, text="收到")
        await station.sim.call("fault", name="lost_cmti")  # stored, its +CMTI lost
        await station.sim.call("deliver_sms", **{"from": SENDER}, text="无人通知的短信")
        await station.received(2)
        assert len((await station.sim.call("status"))["stored"]) == 2
        await station.settled()
        await station.clock.advance(60)  # the periodic sweep
        received = await station.received(3)
        await station.settled()
        assert [m.text for m in received] == [COMMAND, "收到", "无人通知的短信"]
        assert (await station.sim.call("status"))["stored"] == []  # the copy deleted unread
        assert station.undecodable == []
    finally:
        await teardown(station)


@pytest.mark.parametrize("by", ["cmgs", "prompt"])
async def test_a_cmt_torn_by_a_send_loses_neither_the_send_nor_the_message(
    tmp_path: Path, by: str
) -> None:
    station = await build(tmp_path, IRIDIUM, poll_interval_s=3600)
    try:
        await station.settled()
        await station.sim.call("fault", name="torn_cmt", by=by)
        await station.sim.call("deliver_sms", **{"from": SENDER}, text=COMMAND)
        # The clock never moves: only an answer or a prompt honoured lets the send finish.
        references = await station.modem.send_sms(NUMBER, "测试")
        [sent] = (await station.sim.call("outbox"))["messages"]
        assert (sent["text"], sent["references"]) == ("测试", references)
        [message] = await station.received(1)
        assert message.text == COMMAND
        await station.settled()
        assert (await station.sim.call("status"))["stored"] == []
        assert station.channel.state.value == "ready"
    finally:
        await teardown(station)


async def test_a_stuck_routine_send_holds_a_first_report_at_most_one_part_timeout(
    tmp_path: Path,
) -> None:
    station = await build(tmp_path, GENERIC, poll_interval_s=3600)
    attempts = Attempts()
    outbox = Outbox(tmp_path / "outbox.db", send=station.modem.send_sms, clock=station.clock,
                    settings=OutboxSettings(retry_initial_s=30), on_attempt=attempts.record)
    try:
        await station.settled()
        await outbox.start()
        await station.sim.call("fault", name="unanswered_cmgs", skip=1)
        routine = outbox.enqueue(NUMBER, ROUTINE_3_PARTS)
        await station.sim.call("wait_command", match="AT+CMGS=", count=2)  # part 2 hangs
        await station.sim.call("fault", name="lost_cmti")
        await station.sim.call("deliver_sms", **{"from": SENDER}, text=COMMAND)
        queued = station.clock.monotonic()
        report = outbox.enqueue(NUMBER, "首报：后山雨量站已达立即转移", priority=SmsPriority.REPORT)

        await station.clock.advance(PART_TIMEOUT_S)
        failed, sent = await attempts.count(2)
        assert (failed.sms.id, failed.ok, failed.sms.parts_sent) == (routine, False, 1)
        assert (sent.sms.id, sent.ok) == (report, True)
        assert station.clock.monotonic() - queued <= PART_TIMEOUT_S
        assert outbox.get(routine).state == PENDING
        [message] = await station.received(1)  # the sweep after the failed send found it
        assert message.text == COMMAND

        await station.settled()
        await station.clock.advance(30)
        *_, done = await attempts.count(3)
        assert (done.sms.id, done.ok, done.sms.parts_sent) == (routine, True, 3)
        texts = {m["text"]: m for m in (await station.sim.call("outbox"))["messages"]}
        assert texts[ROUTINE_3_PARTS]["complete"] and texts[ROUTINE_3_PARTS]["parts"] == 3
        assert list(outbox.get(routine).references) == texts[ROUTINE_3_PARTS]["references"]
    finally:
        await outbox.close()
        await teardown(station)


async def test_a_routine_multipart_steps_aside_between_parts_for_a_report(
    tmp_path: Path,
) -> None:
    station = await build(tmp_path, IRIDIUM, poll_interval_s=3600)
    attempts = Attempts()
    outbox = Outbox(tmp_path / "outbox.db", send=station.modem.send_sms, clock=station.clock,
                    on_attempt=attempts.record)
    try:
        await station.settled()
        await outbox.start()
        await station.sim.call("fault", name="late_final")
        routine = outbox.enqueue(NUMBER, ROUTINE_3_PARTS)
        await station.sim.call("wait_held")  # part 1 is out, its OK held back
        report = outbox.enqueue(NUMBER, "叫应：请回复1", priority=SmsPriority.REPORT)
        await station.sim.call("release")
        first, second = await attempts.count(2)
        assert [first.sms.id, second.sms.id] == [report, routine]
        assert outbox.steps_aside == 1 and outbox.get(routine).state == SENT
        sent = (await station.sim.call("outbox"))["messages"]
        by_text = {m["text"]: m["references"] for m in sent}
        [between] = by_text["叫应：请回复1"]
        part1, part2, _ = by_text[ROUTINE_3_PARTS]
        assert ((between - part1) % 256, (part2 - between) % 256) == (1, 1)
    finally:
        await outbox.close()
        await teardown(station)


async def test_unregistered_with_csq_failing_is_not_ok(tmp_path: Path) -> None:
    station = await build(tmp_path, GENERIC)
    try:
        await station.settled()
        await station.sim.call("fault", name="csq_error")
        await station.sim.call("registration", stat=2)
        await station.clock.advance(POLL)
        await station.status("degraded")
        assert station.modem.readings.registration == 2
        assert station.modem.status.detail.startswith("not registered (+CREG stat 2)")
    finally:
        await teardown(station)


async def test_every_sms_failing_with_cms_500_is_not_ok(tmp_path: Path) -> None:
    station = await build(tmp_path, IRIDIUM, poll_interval_s=3600)
    try:
        await station.settled()
        await station.sim.call("fault", name="cms_error", code=500, every=True)
        for _ in range(2):
            with pytest.raises(SmsSendError):
                await station.modem.send_sms(NUMBER, CHINESE_120)
        await station.status("degraded")
        assert station.modem.readings.registered
        assert "2 SMS sends failed in a row (last: +CMS ERROR: 500" in station.modem.status.detail
        await station.sim.call("fault", name="cms_error", on=False)
        await station.modem.send_sms(NUMBER, "恢复")
        await station.status("ok")
    finally:
        await teardown(station)


async def test_hardware_failure_and_other_notices_are_told(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    station = await build(tmp_path, IRIDIUM)
    try:
        await station.settled()
        caplog.set_level(logging.WARNING, logger="sat_phone.modem")
        await station.sim.call("urc", text="+XTEMP: 71")  # a line nobody taught us
        await station.until(lambda: station.notices == ["+XTEMP: 71"])
        assert station.modem.status.status == "ok"
        assert "terminal said '+XTEMP: 71'" in station.modem.status.detail

        await station.sim.call("hardware_failure", subsys=3, error=1)
        await station.status("fault")
        assert station.modem.status.detail.startswith("terminal reported HARDWARE FAILURE: 3,1")
        assert [r.getMessage() for r in caplog.records] == [
            "satellite terminal notice: '+XTEMP: 71'",
            "satellite terminal hardware failure: 'HARDWARE FAILURE: 3,1'"]

        await station.sim.call("fault", name="echo")  # the terminal restarted
        await station.clock.advance(POLL)
        await station.status("ok")
    finally:
        await teardown(station)


async def test_an_undecodable_message_is_reported_and_shown(tmp_path: Path) -> None:
    station = await build(tmp_path, IRIDIUM, poll_interval_s=3600)
    try:
        await station.settled()
        [pdu] = encode_deliver(SENDER, "坏短信", station.clock.now())
        tpdu_octets = len(pdu) // 2 - 1 - int(pdu[:2], 16)
        # no SMSC, first octet, the sender (2 + 7 octets), PID, DCS: then the time stamp
        month = 2 * (1 + 1 + 9 + 1 + 1) + 2
        bad = pdu[:month] + "31" + pdu[month + 2:]  # month 13: the right length, unreadable
        await station.sim.call("urc", text=f"+CMT: ,{tpdu_octets}\r\n{bad}")
        await station.until(lambda: station.undecodable == [bad])
        await station.status("degraded")
        assert "undecodable SMS received at 2026-07-01T00:00:00.000Z" in (
            station.modem.status.detail)
    finally:
        await teardown(station)


async def test_sim_full_stuck_and_no_sms_centre_are_told(tmp_path: Path) -> None:
    station = await build(tmp_path, GENERIC, False, 3600.0, "--sim-capacity", "1",
                          poll_interval_s=3600)
    try:
        await station.sim.call("smsc", number="")
        await station.sim.call("deliver_sms", **{"from": SENDER}, text="卡住的短信")
        station.refuse = lambda message: True
        await station.modem.start()
        await station.shows("no SMS centre set (+CSCA empty)")  # checked at start
        await station.shows("SIM message storage full (1/1)")  # after the first sweep
        await station.settled()
        station.modem.inbox.request_sweep("test: a second sweep")
        await station.shows("1 message(s) stuck on the SIM since 2026-07-01T00:00:00.000Z")
        assert station.modem.status.status == "degraded"

        station.refuse = None
        station.modem.inbox.request_sweep("test: the station takes it now")
        await station.settled()
        [message] = station.inbox
        assert message.text == "卡住的短信"
        detail = station.modem.status.detail
        assert "stuck" not in detail and "full" not in detail and "SMS centre" in detail
    finally:
        await teardown(station)


async def test_a_message_whose_announcement_was_lost_is_swept_after_a_resync(
    tmp_path: Path,
) -> None:
    station = await build(tmp_path, IRIDIUM, poll_interval_s=3600)
    try:
        await station.settled()
        await station.sim.call("fault", name="lost_cmti")
        await station.sim.call("deliver_sms", **{"from": SENDER}, text=COMMAND)
        await station.sim.call("fault", name="late_final")
        probe = asyncio.create_task(station.channel.command("AT+CSQF", prefix="+CSQF:"))
        await station.sim.call("wait_held")
        await station.clock.advance(CHANNEL.command_timeout_s)  # timed out: resynchronise
        with pytest.raises(AtTimeout):
            await probe
        await station.sim.call("release")  # the late answer, then the resync's
        [message] = await station.received(1)
        assert message.text == COMMAND
        await station.settled()
        assert (await station.sim.call("status"))["stored"] == []
    finally:
        await teardown(station)
