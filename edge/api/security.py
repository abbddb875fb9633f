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
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from edge.api.sessions import PanelSession, SessionBook
from edge.api.state import station_of
from edge.auth import Principal, Role

bearer = HTTPBearer(auto_error=False, description="A station token: viewer, operator or admin")

#: Routes reachable without a token: the static panel and the panel's sign-in (which
#: takes the token in its body and checks it itself).
PUBLIC_PATHS = frozenset({"/", "/panel/{path:path}", "/api/v1/sign-in"})

SESSION_COOKIE = "station_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def panel_session(request: Request) -> PanelSession | None:
    """The live panel session the request's cookie names, if any."""
    session_id = request.cookies.get(SESSION_COOKIE)
    sessions: SessionBook | None = getattr(request.app.state, "sessions", None)
    if not session_id or sessions is None:
        return None
    return sessions.get(session_id)


def _deny(request: Request, code: int, actor: str, reason: str, detail: str) -> HTTPException:
    station_of(request).journal.record(
        "access.denied", "api", actor, path=request.url.path, reason=reason,
        client=request.client.host if request.client else None)
    headers = {"WWW-Authenticate": "Bearer"} if code == status.HTTP_401_UNAUTHORIZED else None
    return HTTPException(code, detail, headers=headers)


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
        client = request.client.host if request.client else "unknown"
        throttle = request.app.state.auth_throttle
        wait = throttle.locked(client, station.clock.monotonic())
        if wait is not None:
            station.journal.record("access.throttled", "api", "anonymous", client=client,
                                   path=request.url.path, retry_after_s=round(wait))
            raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                                "too many failed authentications from this client; retry later",
                                headers={"Retry-After": str(math.ceil(wait))})
        principal = None
        session = None
        if credentials is not None and credentials.scheme.lower() == "bearer":
            principal = station.tokens.identify(credentials.credentials)
        elif request.headers.get("authorization") is None:
            session = panel_session(request)
            principal = session.principal if session else None
            if principal is not None and not station.tokens.still_valid(principal):
                principal = None  # its token was revoked: the session ends with it
        if principal is None:
            tried_cookie = credentials is None and SESSION_COOKIE in request.cookies
            reason = "unknown or expired session" if tried_cookie else "no or unknown token"
            if throttle.failed(client, station.clock.monotonic()):
                station.journal.record("access.locked_out", "api", "anonymous", client=client,
                                       lockout_s=throttle.lockout_s)
            raise _deny(request, status.HTTP_401_UNAUTHORIZED, "anonymous", reason,
                        "a valid bearer token is required")
        if session is not None and request.method not in SAFE_METHODS \
                and not session.csrf_matches(request.headers.get(CSRF_HEADER)):
            raise _deny(request, status.HTTP_403_FORBIDDEN, principal.name,
                        "missing or wrong CSRF token", f"the {CSRF_HEADER} header is required")
        if not principal.may(role):
            raise _deny(request, status.HTTP_403_FORBIDDEN, principal.name,
                        f"needs role {role}", f"this needs the {role} role")
        return principal


def requires(role: Role) -> Any:
    return Depends(RoleCheck(role))


Viewer = requires("viewer")
Operator = requires("operator")
Admin = requires("admin")
