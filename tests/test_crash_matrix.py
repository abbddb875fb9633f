"""The crash matrix in the suite: a few ``kill -9`` at random moments (more, with figures:
``bench/crash_matrix.py --runs 50``). See tests/crash_matrix.py for what is checked."""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.crash_matrix import TIME_SCALE, run_matrix
from tests.helpers import SimStationProcess
from tests.restarts import outside_world

pytestmark = pytest.mark.slow
KILLS = 3


def test_kill_9_at_random_moments_loses_nothing_a_person_relies_on(
    sim_station: Callable[..., SimStationProcess], tmp_path: Path,
) -> None:
    seed = int(os.environ.get("CRASH_MATRIX_SEED") or random.randrange(1 << 30))
    with ExitStack() as devices:
        config = outside_world(devices, tmp_path / "data", TIME_SCALE)
        result = run_matrix(lambda: sim_station("data", config=config), KILLS, seed)
    assert len(result.runs) == KILLS
    assert not result.failures, (
        f"seed {seed} (CRASH_MATRIX_SEED={seed} to repeat): "
        + "; ".join(f"run {r.run} after {r.kill_after_s:.2f} s: {r.problems}"
                    for r in result.failures))
    assert sum(r.actions for r in result.runs) > 0, "the station was driven between kills"
    assert all(r.coils_checked for r in result.runs), "the I/O module outlived every kill"
