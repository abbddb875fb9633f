"""Joining incoming multipart SMS: out of order, duplicates, reference 0, restarts, flushes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from drivers.clock import ManualClock
from sat_phone.pdu import Deliver, decode_deliver, encode_deliver
from sat_phone.reassembly import GAP, IncomingSms, Reassembly

SENDER = "+8613912345678"
WHEN = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
TEXT = "收到，村民已转移至安置点，共计四十二人，无人员伤亡。" * 6  # 156 characters: 3 parts


def parts(text: str, reference: int = 7, ref_bits: int = 8) -> list[Deliver]:
    return [decode_deliver(p) for p in encode_deliver(SENDER, text, WHEN, reference=reference,
                                                      ref_bits=ref_bits)]


class Store:
    def __init__(self, path: Path, clock: ManualClock) -> None:
        self.got: list[IncomingSms] = []
        self.reassembly = Reassembly(path, clock=clock, on_message=self.got.append,
                                     flush_after_s=600, check_every_s=60)
        self.reassembly.open()
        OPEN.append(self.reassembly)


OPEN: list[Reassembly] = []


@pytest.fixture(autouse=True)
async def _close_stores() -> object:
    yield
    while OPEN:
        await OPEN.pop().close()


@pytest.fixture
async def clock() -> ManualClock:
    return ManualClock()


async def test_out_of_order_with_a_duplicate_is_one_message(
    tmp_path: Path, clock: ManualClock
) -> None:
    store = Store(tmp_path / "sms.db", clock)
    p1, p2, p3 = parts(TEXT)
    for part in (p3, p1, p3, p2):
        await store.reassembly.add(part)
    [message] = store.got
    assert (message.text, message.complete, message.parts_received) == (TEXT, True, (1, 2, 3))
    assert message.sender == SENDER
    assert await store.reassembly.flush_due() == 0  # nothing left behind
    await store.reassembly.close()


async def test_single_part_passes_straight_through(tmp_path: Path, clock: ManualClock) -> None:
    store = Store(tmp_path / "sms.db", clock)
    [only] = parts("1 收到")
    await store.reassembly.add(only)
    assert [(m.text, m.complete) for m in store.got] == [("1 收到", True)]
    await store.reassembly.close()


async def test_parts_survive_a_restart(tmp_path: Path, clock: ManualClock) -> None:
    first = Store(tmp_path / "sms.db", clock)
    p1, p2, p3 = parts(TEXT, reference=0x1234, ref_bits=16)
    await first.reassembly.add(p2)
    await first.reassembly.add(p1)
    await first.reassembly.close()
    second = Store(tmp_path / "sms.db", clock)
    await second.reassembly.add(p3)
    assert [m.text for m in second.got] == [TEXT]
    await second.reassembly.close()


async def test_incomplete_message_is_flushed_marked_never_dropped(
    tmp_path: Path, clock: ManualClock
) -> None:
    store = Store(tmp_path / "sms.db", clock)
    p1, _, p3 = parts(TEXT)
    await store.reassembly.start()
    await store.reassembly.add(p1)
    await store.reassembly.add(p3)
    await clock.advance(540)
    assert store.got == []
    await clock.advance(120)
    [message] = store.got
    assert not message.complete
    assert message.parts_received == (1, 3)
    assert message.text == p1.text + GAP + p3.text
    await store.reassembly.close()


async def test_reference_zero_reused_for_a_new_message_flushes_the_old_one(
    tmp_path: Path, clock: ManualClock
) -> None:
    store = Store(tmp_path / "sms.db", clock)
    old = parts(TEXT, reference=0)
    new = parts(TEXT.replace("四十二", "三十七"), reference=0)
    await store.reassembly.add(old[0])
    for part in new:
        await store.reassembly.add(part)
    assert [(m.complete, m.parts_received) for m in store.got] == [(False, (1,)), (True, (1, 2, 3))]
    assert "三十七" in store.got[1].text
    await store.reassembly.close()


async def test_failed_hand_over_keeps_the_parts(tmp_path: Path, clock: ManualClock) -> None:
    got: list[IncomingSms] = []

    def refuse_once(message: IncomingSms) -> None:
        if not got:
            got.append(message)
            raise RuntimeError("journal unavailable")
        got.append(message)

    reassembly = Reassembly(tmp_path / "sms.db", clock=clock, on_message=refuse_once)
    reassembly.open()
    OPEN.append(reassembly)
    p1, p2, p3 = parts(TEXT)
    await reassembly.add(p1)
    await reassembly.add(p2)
    with pytest.raises(RuntimeError):
        await reassembly.add(p3)
    assert await reassembly.flush_due() == 1
    assert [m.text for m in got] == [TEXT, TEXT]
    await reassembly.close()
