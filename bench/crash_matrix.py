"""The crash matrix at length: ``kill -9`` at random moments, ``safe-off``, restart.

Run: ``python bench/crash_matrix.py [--runs 50] [--seed N] [--keep DIR]``. One simulated
station (120×, mock GPIO, the gauge and satellite-terminal simulators) is driven through
alarms, rain, broadcasts with idempotency keys, SMS, spot checks, panel sign-ins and 叫应
answers, and killed at a random moment in each run; what is checked after each kill is in
``tests/crash_matrix.py``. Prints each run and the figures: runs, failures, what failed.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.crash_matrix import TIME_SCALE, RunResult, run_matrix, station_in  # noqa: E402
from tests.restarts import outside_world  # noqa: E402


def show(result: RunResult) -> None:
    verdict = "ok" if not result.problems else "FAILED: " + "; ".join(result.problems)
    print(f"run {result.run:3d}: killed after {result.kill_after_s:4.2f} s, "
          f"{result.actions:3d} actions, restart {result.restart_s:4.1f} s — {verdict}",
          flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="data directory to keep")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="crash-matrix-") as scratch, ExitStack() as devices:
        base = args.keep or Path(scratch)
        base.mkdir(parents=True, exist_ok=True)
        config = outside_world(devices, base / "data", TIME_SCALE)
        result = run_matrix(station_in(base, config), args.runs, seed, progress=show)
    runs, failures = result.runs, result.failures
    print(f"\ncrash matrix, seed {seed}: {len(runs)} runs (kill -9 → safe-off → restart), "
          f"{len(failures)} failed, {time.monotonic() - began:.0f} s")
    print(f"  actions between kills: {sum(r.actions for r in runs)} in all, "
          f"median {statistics.median(r.actions for r in runs):.0f}")
    print(f"  restart until the API answers: median "
          f"{statistics.median(r.restart_s for r in runs):.1f} s, "
          f"max {max(r.restart_s for r in runs):.1f} s")
    coils = sum(r.coils_checked for r in runs)
    print(f"  remote coils checked after safe-off: {coils} of {len(runs)} runs"
          + ("" if coils == len(runs) else " (the I/O-module simulator did not answer)"))
    left_on = sum(1 for r in runs if r.coils_on_at_kill)
    print(f"  runs whose kill left a remote coil ON (then driven OFF by safe-off): {left_on}")
    for failure in failures:
        print(f"  run {failure.run}: {failure.problems}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
