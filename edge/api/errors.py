"""The error answers every route may give, documented in the OpenAPI schema.

A county integrator (and the schema fuzzing in the tests) reads from the schema which
answers are possible; FastAPI documents only 200 and 422 by itself.
"""

from __future__ import annotations

from typing import Any

DETAIL = {"content": {"application/json": {"schema": {
    "type": "object", "properties": {"detail": {}}, "required": ["detail"]}}}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, **DETAIL}


ERRORS: dict[int | str, dict[str, Any]] = {
    401: _error("no token, or a token the station does not know"),
    403: _error("the token's role is too weak for this route"),
    404: _error("no such thing (broadcast, alarm, gauge, pin …)"),
    409: _error("not possible in the current state"),
    413: _error("the request body is too large"),
    422: _error("the request is malformed or names something the station does not have"),
    429: _error("too many failed authentications from this client; retry later"),
    503: _error("done, but not saved to disk in time (full or failing disk); retry later"),
}
