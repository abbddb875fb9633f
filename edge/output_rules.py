"""The timing rules every output obeys, as plain values (no I/O, no event loop).

* **Chatter guard.** A relay is never switched ON sooner than its minimum interval after
  its last switch, so a bug that toggles an output cannot chatter a relay (contacts
  weld, an amplifier's supply never settles, a siren motor stalls). A request inside
  the interval is held back to the end of it, and the last request wins: an ON held
  back is dropped when any later request comes in. OFF is never held back: the guard
  only ever delays an ON, so it can never leave something ON longer than asked, and a
  safety cut (maximum on-time, STOP, shutdown) acts at once. Since every ON must wait
  out the interval after the OFF before it, a relay completes at most one ON/OFF
  cycle per interval, whatever its callers do.
* **Retry with backoff.** An output that could not be switched (a remote module out of
  reach) is tried again after 1, 2, 4 … at most 30 s: a silent module costs the line
  one request per period, not four a second, and never floods the journal.
"""

from __future__ import annotations

from dataclasses import dataclass

RETRY_FIRST_S = 1.0
RETRY_MAX_S = 30.0


def retry_delay_s(failures: int) -> float:
    """How long to wait after ``failures`` failed attempts in a row (1, 2, 4 … 30 s)."""
    if failures < 1:
        return 0.0
    return min(RETRY_MAX_S, RETRY_FIRST_S * float(2 ** min(failures - 1, 16)))


@dataclass
class ChatterGuard:
    """When an output may next switch ON (times on the station's monotonic clock)."""

    min_interval_s: float = 0.0
    last_switch: float | None = None

    def wait_s(self, on: bool, now: float) -> float:
        """How long a switch to ``on`` must wait: always 0 for OFF."""
        if not on or self.last_switch is None:
            return 0.0
        return max(0.0, self.last_switch + self.min_interval_s - now)

    def switched(self, now: float) -> None:
        self.last_switch = now
