"""Role checks for routes: every route declares the weakest role that may call it.

``requires(role)`` is the one way a route gets its check, and it marks the dependency
with the role, so a test can walk the app's route table and prove that no route (but
the static panel shell) escaped it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from edge.auth import Principal, Role

bearer = HTTPBearer(auto_error=False, description="A station token: viewer, operator or admin")

#: Routes reachable without a token: the static panel shell only.
PUBLIC_PATHS = frozenset({"/", "/panel/{path:path}"})


def requires(role: Role) -> Any:
    async def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Principal:
        station = request.app.state.station
        principal = None
        if credentials is not None and credentials.scheme.lower() == "bearer":
            principal = station.tokens.identify(credentials.credentials)
        if principal is None:
            station.journal.record("access.denied", "api", "anonymous",
                                   path=request.url.path, reason="no or unknown token",
                                   client=request.client.host if request.client else None)
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "a valid bearer token is required",
                                headers={"WWW-Authenticate": "Bearer"})
        if not principal.may(role):
            station.journal.record("access.denied", "api", principal.name,
                                   path=request.url.path, reason=f"needs role {role}")
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs the {role} role")
        return principal

    check.required_role = role  # type: ignore[attr-defined]
    return Depends(check)


Viewer = requires("viewer")
Operator = requires("operator")
Admin = requires("admin")
