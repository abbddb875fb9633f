"""Role checks for routes: every route declares the weakest role that may call it.

``requires(role)`` is the one way a route gets its check, and it marks the dependency
with the role, so a test can walk the app's route table and prove that no route (but
the static panel and its sign-in) escaped it.

A caller proves who it is in one of two ways, and both meet the same role check:

* ``Authorization: Bearer <token>`` (the county, scripts, curl);
* the panel's session cookie (see :mod:`edge.api.sessions`). A request that changes
  anything (any method but GET/HEAD/OPTIONS) made with the cookie must also carry the
  session's CSRF token in the ``X-CSRF-Token`` header, since a browser attaches the
  cookie to a forged request too. A Bearer token needs no CSRF token: no other site can
  make a browser send one.

What is refused, and how (each denial journaled, but bounded: see :mod:`edge.api.denials`):

* a Bearer token that identifies no one: 401, and it counts toward the client's lockout
  (429 once locked out, see :mod:`edge.api.throttle`);
* no credential, or an ``Authorization`` that is not Bearer: 401, no guess;
* a session cookie the station does not hold (expired, signed out, from before a
  restart, its token revoked): 401 "session ended, sign in again", the cookie is
  cleared, and it is no guess (a session id is 256 random bits);
* a valid token or session is accepted even from a client that is locked out.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from edge.api.denials import DenialLog, Repeats
from edge.api.sessions import PanelSession, SessionBook
from edge.api.state import station_of
from edge.api.throttle import AuthThrottle
from edge.auth import Principal, Role

bearer = HTTPBearer(auto_error=False, description="A station token: viewer, operator or admin")

#: Routes reachable without a token: the static panel and the panel's sign-in (which
#: takes the token in its body and checks it itself).
PUBLIC_PATHS = frozenset({"/", "/panel/{path:path}", "/api/v1/sign-in"})

SESSION_COOKIE = "station_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


SESSION_ENDED = "登录已失效，请重新登录 / session ended, sign in again"
LOCKED_OUT = "too many failed authentications from this client; retry later"


def client_of(request: Request) -> str:
    """The client's address (a proxy's client only when ``[api] trusted_proxies`` names
    the proxy: uvicorn rewrites it then, see edge/daemon.py)."""
    return request.client.host if request.client else "unknown"


def panel_session(request: Request) -> PanelSession | None:
    """The live panel session the request's cookie names, if any."""
    session_id = request.cookies.get(SESSION_COOKIE)
    sessions: SessionBook | None = getattr(request.app.state, "sessions", None)
    if not session_id or sessions is None:
        return None
    return sessions.get(session_id)


def _journal_repeats(request: Request, windows: list[Repeats]) -> None:
    denials: DenialLog = request.app.state.denials
    for window in windows:
        station_of(request).journal.record("access.denied_repeats", "api", "anonymous",
                                           **window.as_data(denials.window_s))


def journal_denial_repeats(request: Request) -> None:
    """Journal the counted denials of every window that is over (see edge/api/denials.py)."""
    denials: DenialLog = request.app.state.denials
    _journal_repeats(request, denials.closed(station_of(request).clock.monotonic()))


def deny(request: Request, code: int, actor: str, reason: str, detail: str,
         headers: dict[str, str] | None = None) -> HTTPException:
    """The refusal to raise; journaled in full if it is its client's first in a while,
    else counted into the next ``access.denied_repeats`` (never one event per attempt)."""
    station = station_of(request)
    denials: DenialLog = request.app.state.denials
    client = client_of(request)
    journal_now, due = denials.note(client, station.clock.monotonic(), reason,
                                    request.url.path)
    _journal_repeats(request, due)
    if journal_now:
        station.journal.record("access.denied", "api", actor, path=request.url.path,
                               reason=reason, client=client, status=code)
    if code == status.HTTP_401_UNAUTHORIZED:
        headers = {"WWW-Authenticate": "Bearer", **(headers or {})}
    return HTTPException(code, detail, headers=headers)


def wrong_token(request: Request, reason: str,
                detail: str = "a valid bearer token is required") -> HTTPException:
    """The refusal of a presented token that identifies no one: the one kind of failure
    that counts toward the client's lockout (401, or 429 once it is locked out)."""
    station = station_of(request)
    throttle: AuthThrottle = request.app.state.auth_throttle
    client = client_of(request)
    now = station.clock.monotonic()
    if throttle.failed(client, now):
        station.journal.record("access.locked_out", "api", "anonymous", client=client,
                               failures=throttle.max_failures, window_s=throttle.window_s,
                               lockout_s=throttle.lockout_s)
    wait = throttle.locked(client, now)
    if wait is not None:
        return deny(request, status.HTTP_429_TOO_MANY_REQUESTS, "anonymous",
                    f"{reason} (client locked out)", LOCKED_OUT,
                    headers={"Retry-After": str(math.ceil(wait))})
    return deny(request, status.HTTP_401_UNAUTHORIZED, "anonymous", reason, detail)


def session_ended(request: Request) -> HTTPException:
    """A session cookie the station does not hold (expired, signed out, its token revoked,
    or lost in a restart): no guess, so no lockout; the browser is told to forget it."""
    forget = Response()
    forget.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return deny(request, status.HTTP_401_UNAUTHORIZED, "anonymous", "session ended",
                SESSION_ENDED, headers={"WWW-Authenticate": 'Bearer error="invalid_token"',
                                        "Set-Cookie": forget.headers["set-cookie"]})


class RoleCheck:
    """The dependency ``requires`` gives a route; ``required_role`` is what the audit reads."""

    def __init__(self, role: Role) -> None:
        self.required_role: Role = role

    async def __call__(
        self,
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Principal:
        role = self.required_role
        station = station_of(request)
        journal_denial_repeats(request)
        session = None
        if credentials is not None and credentials.scheme.lower() == "bearer":
            principal = station.tokens.identify(credentials.credentials)
            if principal is None:
                raise wrong_token(request, "unknown token")
        elif request.headers.get("authorization") is not None:
            raise deny(request, status.HTTP_401_UNAUTHORIZED, "anonymous",
                       "not a Bearer token", "a valid bearer token is required")
        elif SESSION_COOKIE in request.cookies:
            session = panel_session(request)
            principal = session.principal if session else None
            if principal is None or not station.tokens.still_valid(principal):
                raise session_ended(request)  # or its token was revoked: it ends with it
        else:
            raise deny(request, status.HTTP_401_UNAUTHORIZED, "anonymous", "no token",
                       "a valid bearer token is required")
        if session is not None and request.method not in SAFE_METHODS \
                and not session.csrf_matches(request.headers.get(CSRF_HEADER)):
            raise deny(request, status.HTTP_403_FORBIDDEN, principal.name,
                       "missing or wrong CSRF token", f"the {CSRF_HEADER} header is required")
        if not principal.may(role):
            raise deny(request, status.HTTP_403_FORBIDDEN, principal.name,
                       f"needs role {role}", f"this needs the {role} role")
        return principal


def requires(role: Role) -> Any:
    return Depends(RoleCheck(role))


Viewer = requires("viewer")
Operator = requires("operator")
Admin = requires("admin")
