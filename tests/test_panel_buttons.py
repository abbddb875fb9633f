"""Hold to act, measured from the raw edges: a let-go that began before ``hold_s`` was up
is a short press even though its debounce window ends after it; a bounce is not a let-go."""

from __future__ import annotations

import asyncio
from pathlib import Path

from drivers.clock import ManualClock
from drivers.debounce import DebouncedInput
from drivers.gpio import open_chip
from edge.panel_buttons import HoldButton

PIN, DEBOUNCE_S, HOLD_S = 17, 0.05, 1.5


async def press(tmp_path: Path, levels: list[tuple[float, int]]) -> list[str]:
    """Drive the pin at the given times (0: pressed), then return what the button did."""
    clock = ManualClock()
    chip = open_chip("mock", clock=clock, latch_path=tmp_path / "latch.json")
    did: list[str] = []
    try:
        raw = chip.input(PIN, active_low=True)
        button: DebouncedInput | None = None
        hold = HoldButton(clock, HOLD_S, on_hold=lambda: did.append("hold"),
                          on_short=lambda: did.append("short"),
                          unsettled=lambda: button.unsettled() if button else None)
        button = DebouncedInput(raw, clock, DEBOUNCE_S, hold.changed,
                                asyncio.get_running_loop())
        now = 0.0
        for at, level in levels:
            await clock.advance(at - now)
            chip.drive_mock_input(PIN, level)
            now = at
        await clock.advance(HOLD_S + 1)
        hold.close()
        button.close()
    finally:
        chip.close()
    return did


async def test_a_let_go_just_before_hold_s_is_short_though_it_settles_after(
        tmp_path: Path) -> None:
    # released 1.47 s after the press: its debounce window ends at 1.52, after hold_s
    assert await press(tmp_path, [(0.0, 0), (1.47, 1)]) == ["short"]


async def test_a_bounce_at_hold_s_is_no_let_go(tmp_path: Path) -> None:
    assert await press(tmp_path, [(0.0, 0), (1.48, 1), (1.49, 0)]) == ["hold"]


async def test_held_past_hold_s_acts_once(tmp_path: Path) -> None:
    assert await press(tmp_path, [(0.0, 0), (1.6, 1)]) == ["hold"]
