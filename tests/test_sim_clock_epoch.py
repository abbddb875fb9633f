"""A simulated station's clock goes on across restarts instead of jumping back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from edge.sim.clock_epoch import Epoch, continued, read_epoch, sim_clock

T0 = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)


def test_the_simulated_time_goes_on_at_the_old_scale_and_never_back() -> None:
    epoch = Epoch(real=1000.0, sim=T0, scale=60.0)
    assert continued(None, 1000.0) is None
    assert continued(epoch, 1010.0) == T0 + timedelta(minutes=10)  # down 10 s at 60×
    assert continued(epoch, 990.0) == T0, "a host clock set back moves nothing back"


def test_a_restarted_simulated_station_continues_from_its_last_run(tmp_path: Path) -> None:
    first = sim_clock(tmp_path, 3600.0)
    seen = first.now()
    second = sim_clock(tmp_path, 1.0)  # restarted, even at another scale
    assert second.now() >= seen
    saved = read_epoch(tmp_path)
    assert saved is not None and saved.scale == 1.0 and saved.sim >= seen
