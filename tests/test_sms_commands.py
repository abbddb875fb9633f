"""SMS command grammar, callout answers, the wrong-PIN guard and number matching."""

from __future__ import annotations

import pytest

from sat_phone.commands import CommandKind, PinGuard, is_callout_answer, parse_command
from sat_phone.numbers import NumberList, number_key


@pytest.mark.parametrize(("text", "kind", "argument"), [
    ("1234 状态", CommandKind.STATUS, None),
    ("1234查询", CommandKind.STATUS, None),
    ("1234 status", CommandKind.STATUS, None),
    ("1234 转移", CommandKind.EVACUATE, None),
    ("1234转移", CommandKind.EVACUATE, None),
    ("1234，撤离。", CommandKind.EVACUATE, None),
    ("\u30001234\u3000EVAC", CommandKind.EVACUATE, None),
    ("1234 停止", CommandKind.STOP, None),
    ("1234#STOP", CommandKind.STOP, None),
    ("1234 确认", CommandKind.ACKNOWLEDGE, None),
    ("1234确认a20260701-1", CommandKind.ACKNOWLEDGE, "a20260701-1"),
    ("1234 ack a1", CommandKind.ACKNOWLEDGE, "a1"),
    ("1234 开门", CommandKind.UNKNOWN, None),
    ("1234", CommandKind.UNKNOWN, None),
])
def test_grammar(text: str, kind: CommandKind, argument: str | None) -> None:
    command = parse_command(text)
    assert command is not None
    assert (command.kind, command.pin, command.argument) == (kind, "1234", argument)


@pytest.mark.parametrize("text", ["转移", "12 转移", "1", "收到", "", "明天开会"])
def test_not_a_command(text: str) -> None:
    assert parse_command(text) is None


@pytest.mark.parametrize("text", ["1", " 1 ", "收到", "收到。", "已收到！", "ok"])
def test_callout_answers(text: str) -> None:
    assert is_callout_answer(text)


@pytest.mark.parametrize("text", ["2", "收到了吗", "1234 转移", "no"])
def test_not_callout_answers(text: str) -> None:
    assert not is_callout_answer(text)


def test_wrong_pins_lock_a_sender_out_for_a_while() -> None:
    guard = PinGuard(max_failures=3, window_s=900, lockout_s=1800)
    assert not guard.failed("+8613800000001", 0)
    assert not guard.failed("13800000001", 10), "the same person, written another way"
    assert not guard.locked("+8613800000001", 10)
    assert guard.failed("8613800000001", 20)
    assert guard.locked("+8613800000001", 20)
    assert not guard.locked("+8613800000002", 20), "others are not locked"
    assert guard.locked("+8613800000001", 1819)
    assert not guard.locked("+8613800000001", 1820)


def test_failures_spread_out_do_not_lock() -> None:
    guard = PinGuard(max_failures=3, window_s=900, lockout_s=1800)
    assert not any(guard.failed("+8613800000001", t) for t in (0, 600, 1200, 1800))
    guard.succeeded("+8613800000001")
    assert not guard.failed("+8613800000001", 1801)


def test_numbers_match_whatever_way_they_are_written() -> None:
    assert number_key("+86 138-0000-0001") == "13800000001"
    assert number_key("008613800000001") == "13800000001"
    assert number_key("+881631234567") == "881631234567", "Iridium keeps its code"
    whitelist = NumberList(["+8613800000001", "13800000002"])
    assert "13800000001" in whitelist and "+8613800000002" in whitelist
    assert "+8613800000003" not in whitelist and "" not in whitelist
