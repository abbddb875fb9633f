"""A malformed request is a 422 that says why, never a 500.

Two ways a malformed body used to become a server error:

* Python's ``json`` reads ``NaN``, ``Infinity`` and ``-Infinity``, which RFC 8259 JSON does
  not have. A route's model took NaN as a float, or refused it with a 422 whose body echoes
  the input, and NaN cannot be written back as JSON: the answer became a 500. Nesting a few
  thousand levels deep made the parser recurse until it gave up (a 400 "error parsing").
  :class:`StrictJson` checks every JSON body once, before any route sees it: RFC 8259 JSON,
  nested at most ``MAX_DEPTH`` levels, else 422.
* A validation error echoes what it refused; bytes that are not UTF-8 (a body sent as
  ``text/plain`` to a JSON route) cannot be echoed either. :func:`validation_failed`
  answers the same 422 without the parts that cannot be written as JSON.

The answer has FastAPI's validation-error shape (``detail``: a list of ``type``, ``loc``,
``msg``), so a client reads every 422 the same way.
"""

from __future__ import annotations

import email.message
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The station's bodies nest three or four levels; a county script may wrap them a little.
MAX_DEPTH = 32


class NotStrictJson(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise NotStrictJson(f"{name} is not a JSON number (RFC 8259 has no NaN or Infinity)")


def depth(value: Any) -> int:
    """How deeply ``value`` nests (a scalar is 0), without recursing."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            level += 1
            deepest = max(deepest, level)
            stack.extend((child, level) for child in item)
    return deepest


def problem(body: bytes) -> str | None:
    """Why ``body`` is not strict JSON nested at most ``MAX_DEPTH`` deep (None: it is)."""
    try:
        value = json.loads(body, parse_constant=_refuse_constant)
    except NotStrictJson as exc:
        return str(exc)
    except RecursionError:
        return f"nested more than {MAX_DEPTH} levels deep"
    except UnicodeDecodeError as exc:
        return f"not UTF-8 text: {exc.reason}"
    except json.JSONDecodeError as exc:
        return f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    if depth(value) > MAX_DEPTH:
        return f"nested more than {MAX_DEPTH} levels deep"
    return None


def is_json(content_type: bytes | None) -> bool:
    """The content types FastAPI parses as JSON: ``application/json`` and ``*/*+json``."""
    if content_type is None:
        return False
    message = email.message.Message()
    message["content-type"] = content_type.decode("latin-1")
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json"))


def refusal(msg: str, loc: tuple[str | int, ...] = ("body",)) -> JSONResponse:
    return JSONResponse({"detail": [{"type": "json_invalid", "loc": list(loc), "msg": msg}]},
                        status_code=422)


class StrictJson:
    """ASGI middleware: a JSON body must be strict JSON (see the module docstring).

    It reads the whole body (``BodyLimit``, outside it, has bounded it) and hands the
    route the same bytes."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", [])) if scope["type"] == "http" else {}
        if not is_json(headers.get(b"content-type")):
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        why = problem(body) if body else None
        if why is not None:
            await refusal(why)(scope, receive, send)
            return
        replayed = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, _replay([replayed], receive), send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    async def replaying() -> Message:
        return messages.pop(0) if messages else await receive()

    return replaying


def _writable(value: Any) -> bool:
    try:
        json.dumps(jsonable_encoder(value), allow_nan=False)
    except (ValueError, TypeError, RecursionError):  # UnicodeDecodeError is a ValueError
        return False
    return True


async def validation_failed(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 for a request its models refuse, with only what can be written as
    JSON: an ``input`` or ``ctx`` that cannot be (undecodable bytes) is left out."""
    assert isinstance(exc, RequestValidationError)
    detail = []
    for error in exc.errors():
        item = {"type": error.get("type"), "loc": list(error.get("loc", ())),
                "msg": error.get("msg")}
        for key in ("input", "ctx"):
            if key in error and _writable(error[key]):
                item[key] = jsonable_encoder(error[key])
        detail.append(item)
    return JSONResponse({"detail": detail}, status_code=422)
