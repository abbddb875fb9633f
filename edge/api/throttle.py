"""Failed authentications are limited per client, and a valid credential is never refused.

After ``max_failures`` wrong tokens within ``window_s``, a client's wrong tokens are
answered 429 (with ``Retry-After``) instead of 401 for ``lockout_s``, and the lockout is
journaled once. A valid token or panel session from that client is still accepted: a
duty PC whose old tabs or a mistyped token set off the lockout must still be able to
sound the sirens, and so must the county behind a shared address. Only a presented
Bearer token (or the sign-in's token) that identifies no one counts: no credential at all
is no guess, and a session cookie the station forgot (expired, or from before a restart)
is a 256-bit random id no one can guess (see :mod:`edge.api.security`).

So the lockout no longer slows a guesser down by refusing to look: what makes a token
unguessable is its strength (``station-edge token add`` makes 128 random bits). The lockout
makes guessing loud: a 429, one ``access.locked_out`` event, counted denials.
Plain logic on the station clock, tested without an event loop.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class _Client:
    failures: deque[float] = field(default_factory=deque)
    locked_until: float = float("-inf")


class AuthThrottle:
    def __init__(self, *, max_failures: int = 10, window_s: float = 60.0,
                 lockout_s: float = 300.0, max_clients: int = 4096) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.lockout_s = lockout_s
        self.max_clients = max_clients
        self._clients: dict[str, _Client] = {}

    def locked(self, client: str, now: float) -> float | None:
        """Seconds until ``client`` may try again, or None if it may try now."""
        entry = self._clients.get(client)
        if entry is None or now >= entry.locked_until:
            return None
        return entry.locked_until - now

    def failed(self, client: str, now: float) -> bool:
        """Count a failure; True if it locks the client out (a locked client's failures
        are not counted: the lockout stands until it ends, and is not stretched)."""
        if self.locked(client, now) is not None:
            return False
        if client not in self._clients and len(self._clients) >= self.max_clients:
            self._forget_quiet(now)
        entry = self._clients.setdefault(client, _Client())
        entry.failures.append(now)
        while entry.failures and entry.failures[0] <= now - self.window_s:
            entry.failures.popleft()
        if len(entry.failures) >= self.max_failures:
            entry.locked_until = now + self.lockout_s
            entry.failures.clear()
            return True
        return False

    def _forget_quiet(self, now: float) -> None:
        for client, entry in list(self._clients.items()):
            if now >= entry.locked_until and (not entry.failures
                                              or entry.failures[-1] <= now - self.window_s):
                del self._clients[client]
