"""Panel sign-in sessions: a browser holds a random session id, never the token.

The duty officer types a token once; the station answers with an HttpOnly cookie that
carries only a random id, and keeps ``hash(id) -> principal``. A session lasts one duty
shift at most (it is not extended by use: a panel left open overnight still has to work
at 3 a.m., so there is no idle timeout, but a lost phone stops working by the next
shift). Each session has its own CSRF token, which the page sends back in a header on
every action; a forged cross-site request carries the cookie but cannot know the token.
The CSRF token is derived from the session id, so only a hash of the id needs keeping.

Sessions are kept in the state store (only the hash of the id, the principal and the
expiry), so a restarted station signs no one out. Sign-in does not wait for the disk: a
session lost to a crash in that instant is a sign-out, which is the safe way round.
Expiry runs on the station's clock, so tests move it by hand.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from drivers.clock import Clock, monotonic_at
from edge.auth import Principal
from edge.state_store import StateStore, from_record, to_record

DEFAULT_LIFETIME_S = 12 * 3600.0
DEFAULT_MAX_SESSIONS = 64
KIND = "panel_session"


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


@dataclass(frozen=True)
class _Kept:
    principal: Principal
    expires_monotonic: float
    expires_at: datetime


def _key(session_id: str) -> str:
    """Sessions are filed under a hash of their id, so no lookup compares the secret itself."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def _csrf(session_id: str) -> str:
    """The session's CSRF token: someone who cannot read the cookie cannot make it."""
    digest = hashlib.sha256(b"station-edge csrf\x00" + session_id.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class SessionBook:
    """The open panel sessions; the oldest is dropped when ``max_sessions`` are open."""

    def __init__(self, clock: Clock, store: StateStore | None = None, *,
                 lifetime_s: float = DEFAULT_LIFETIME_S,
                 max_sessions: int = DEFAULT_MAX_SESSIONS) -> None:
        if lifetime_s <= 0 or max_sessions < 1:
            raise ValueError("a session lifetime > 0 and room for one session are needed")
        self.clock = clock
        self.store = store
        self.lifetime_s = lifetime_s
        self.max_sessions = max_sessions
        self._sessions: dict[str, _Kept] = {}
        if store is not None:
            self._restore(store)
        self.restored = list(self._sessions)

    def __len__(self) -> int:
        self._drop_expired()
        return len(self._sessions)

    def open(self, principal: Principal) -> PanelSession:
        self._drop_expired()
        while len(self._sessions) >= self.max_sessions:
            self._forget(next(iter(self._sessions)))  # the oldest: dicts keep order
        session_id = secrets.token_urlsafe(32)
        kept = _Kept(principal, self.clock.monotonic() + self.lifetime_s,
                     self.clock.now() + timedelta(seconds=self.lifetime_s))
        key = _key(session_id)
        self._sessions[key] = kept
        if self.store is not None:
            self.store.put(KIND, key, {"principal": to_record(principal),
                                       "expires_at": kept.expires_at.isoformat()},
                           expires=kept.expires_at)
        return _session(session_id, kept)

    def get(self, session_id: str) -> PanelSession | None:
        """The live session with this id, or None (unknown, signed out or expired)."""
        key = _key(session_id)
        kept = self._sessions.get(key)
        if kept is None:
            return None
        if kept.expires_monotonic <= self.clock.monotonic():
            self._forget(key)
            return None
        return _session(session_id, kept)

    def close(self, session_id: str) -> PanelSession | None:
        key = _key(session_id)
        kept = self._sessions.get(key)
        if kept is None:
            return None
        self._forget(key)
        return _session(session_id, kept)

    def _forget(self, key: str) -> None:
        del self._sessions[key]
        if self.store is not None:
            self.store.delete(KIND, key)

    def _drop_expired(self) -> None:
        now = self.clock.monotonic()
        for key in [k for k, s in self._sessions.items() if s.expires_monotonic <= now]:
            self._forget(key)

    def _restore(self, store: StateStore) -> None:
        now = self.clock.now()
        for key, data in store.loaded(KIND).items():
            expires_at = datetime.fromisoformat(data["expires_at"])
            if expires_at > now:
                self._sessions[key] = _Kept(from_record(Principal, data["principal"]),
                                            monotonic_at(self.clock, expires_at), expires_at)


def _session(session_id: str, kept: _Kept) -> PanelSession:
    return PanelSession(session_id, kept.principal, _csrf(session_id), kept.expires_monotonic,
                        kept.expires_at)
