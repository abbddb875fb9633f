"""Panel sign-in sessions: a browser holds a random session id, never the token.

The duty officer types a token once; the station answers with an HttpOnly cookie that
carries only a random id, and keeps ``id -> principal`` in memory. A session lasts one
duty shift at most (it is not extended by use: a panel left open overnight still has to
work at 3 a.m., so there is no idle timeout, but a lost phone stops working by the next
shift). Each session has its own CSRF token, which the page sends back in a header on
every action; a forged cross-site request carries the cookie but cannot know the token.

Sessions live in memory: a restarted daemon signs everyone out, which is the safe way
round. Expiry runs on the station's clock, so tests move it by hand.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from drivers.clock import Clock
from edge.auth import Principal

DEFAULT_LIFETIME_S = 12 * 3600.0
DEFAULT_MAX_SESSIONS = 64


@dataclass(frozen=True)
class PanelSession:
    id: str
    principal: Principal
    csrf: str
    expires_monotonic: float
    expires_at: datetime

    def csrf_matches(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented.encode(),
                                                              self.csrf.encode())


def _key(session_id: str) -> str:
    """Sessions are filed under a hash of their id, so no lookup compares the secret itself."""
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionBook:
    """The open panel sessions; the oldest is dropped when ``max_sessions`` are open."""

    def __init__(self, clock: Clock, lifetime_s: float = DEFAULT_LIFETIME_S,
                 max_sessions: int = DEFAULT_MAX_SESSIONS) -> None:
        if lifetime_s <= 0 or max_sessions < 1:
            raise ValueError("a session lifetime > 0 and room for one session are needed")
        self.clock = clock
        self.lifetime_s = lifetime_s
        self.max_sessions = max_sessions
        self._sessions: dict[str, PanelSession] = {}

    def __len__(self) -> int:
        self._drop_expired()
        return len(self._sessions)

    def open(self, principal: Principal) -> PanelSession:
        self._drop_expired()
        while len(self._sessions) >= self.max_sessions:
            del self._sessions[next(iter(self._sessions))]  # the oldest: dicts keep order
        session = PanelSession(
            id=secrets.token_urlsafe(32),
            principal=principal,
            csrf=secrets.token_urlsafe(32),
            expires_monotonic=self.clock.monotonic() + self.lifetime_s,
            expires_at=self.clock.now() + timedelta(seconds=self.lifetime_s),
        )
        self._sessions[_key(session.id)] = session
        return session

    def get(self, session_id: str) -> PanelSession | None:
        """The live session with this id, or None (unknown, signed out or expired)."""
        session = self._sessions.get(_key(session_id))
        if session is None:
            return None
        if session.expires_monotonic <= self.clock.monotonic():
            del self._sessions[_key(session_id)]
            return None
        return session

    def close(self, session_id: str) -> PanelSession | None:
        return self._sessions.pop(_key(session_id), None)

    def _drop_expired(self) -> None:
        now = self.clock.monotonic()
        for key in [k for k, s in self._sessions.items() if s.expires_monotonic <= now]:
            del self._sessions[key]
