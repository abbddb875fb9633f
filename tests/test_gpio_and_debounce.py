"""GPIO outputs start OFF and latch like a real chip; inputs are debounced by our code."""

from __future__ import annotations

import asyncio
from pathlib import Path

from drivers.clock import ManualClock
from drivers.debounce import Debounce, DebouncedInput
from drivers.gpio import PinLatch, open_chip


def test_debounce_accepts_a_level_only_after_it_holds() -> None:
    d = Debounce(0.05)
    d.edge(True, 0.000)
    d.edge(False, 0.004)
    d.edge(True, 0.009)
    assert d.settle(0.040) is None
    assert d.seconds_to_settle(0.040) == 0.009 + 0.05 - 0.040
    assert d.settle(0.059) is True
    assert d.settle(0.100) is None
    d.edge(False, 0.2)
    d.edge(True, 0.21)
    assert d.settle(0.5) is None, "a blip shorter than the window is no release"


def test_outputs_are_claimed_off_even_if_latched_on(tmp_path: Path) -> None:
    latch = tmp_path / "latch.json"
    PinLatch(latch).write(16, True)
    clock = ManualClock()
    chip = open_chip("mock", clock=clock, latch_path=latch)
    try:
        out = chip.output(16)
        assert not out.is_on
        assert PinLatch(latch).read() == {16: False}
        out.drive(True)
        assert PinLatch(latch).read() == {16: True}
        assert [(c.pin, c.level) for c in chip.factory.history] == [(16, False), (16, True)]
    finally:
        chip.close()
    assert PinLatch(latch).read() == {16: False}, "closing a chip drives its outputs OFF"


async def test_a_bouncing_button_gives_one_press_and_one_release(tmp_path: Path) -> None:
    clock = ManualClock()
    chip = open_chip("mock", clock=clock, latch_path=tmp_path / "latch.json")
    seen: list[tuple[bool, float]] = []
    try:
        raw = chip.input(17, active_low=True)
        button = DebouncedInput(raw, clock, 0.05, lambda a, t: seen.append((a, t)),
                                asyncio.get_running_loop())
        for level in (0, 1, 0, 1, 0):  # contact chatter on press
            chip.drive_mock_input(17, level)
            await clock.advance(0.005)
        await clock.advance(0.1)
        assert seen == [(True, 0.02)]
        for level in (1, 0, 1):  # chatter on release
            chip.drive_mock_input(17, level)
            await clock.advance(0.004)
        await clock.advance(0.1)
        assert [a for a, _ in seen] == [True, False]
        assert button.active is False
        button.close()
    finally:
        chip.close()
