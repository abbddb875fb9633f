"""A simulated station's clock carries on across restarts, at any time scale.

A station at ``time_scale = 60`` lives sixty simulated seconds per real second. Started
afresh from the real time, a restart would jump its clock back by (scale − 1) × uptime,
and the rain it recorded would lie in its future. So the simulated time runs on one
*epoch* kept in the data directory (``sim-clock.json``: a real moment, the simulated
moment it was, the scale then): at every start the station continues from it (the time
it was down counts, scaled, as it would for a real station) and writes the new epoch.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from drivers.clock import SystemClock

log = logging.getLogger(__name__)

EPOCH_FILE = "sim-clock.json"


@dataclass(frozen=True)
class Epoch:
    real: float  # Unix time (the host's wall clock, which survives a reboot)
    sim: datetime  # the simulated time at that moment
    scale: float


def continued(epoch: Epoch | None, real_now: float) -> datetime | None:
    """The simulated time now, going on from ``epoch`` (None: start from the real time).

    A host clock set back since then moves nothing back: the simulated time stands.
    """
    if epoch is None:
        return None
    return epoch.sim + timedelta(seconds=max(0.0, real_now - epoch.real) * epoch.scale)


def read_epoch(data_dir: Path) -> Epoch | None:
    try:
        raw = json.loads((data_dir / EPOCH_FILE).read_text(encoding="utf-8"))
        return Epoch(float(raw["real"]), datetime.fromisoformat(raw["sim"]), float(raw["scale"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.error("simulated clock epoch unreadable (%s): starting from the real time", exc)
        return None


def write_epoch(data_dir: Path, epoch: Epoch) -> None:
    path = data_dir / EPOCH_FILE
    tmp = path.with_suffix(".tmp")
    text = json.dumps({"real": epoch.real, "sim": epoch.sim.isoformat(), "scale": epoch.scale})
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:  # a full disk: the next start goes on from the older epoch
        log.error("simulated clock epoch not saved: %s", exc)


def sim_clock(data_dir: Path, time_scale: float, *, keep: bool = True) -> SystemClock:
    """The clock of a simulated station in ``data_dir``, going on from its last run;
    ``keep``: this run's epoch is kept for the next (the daemon's, not a command's)."""
    real_now = time.time()
    previous = read_epoch(data_dir)
    start = continued(previous, real_now) or datetime.now(UTC)
    if keep:
        data_dir.mkdir(parents=True, exist_ok=True)
        write_epoch(data_dir, Epoch(real_now, start, time_scale))
    elif previous is not None and previous.scale != time_scale:
        time_scale = previous.scale  # a command follows the daemon's time, not its own
    return SystemClock(time_scale, start=start)
