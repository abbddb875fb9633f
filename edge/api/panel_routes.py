"""The duty-officer panel: its static files, sign-in and sign-out, and the live stream.

The panel is plain files under ``edge/panel`` (no build step, no CDN: the station LAN is
often offline). It signs in by trading a token for a session cookie, then reads the same
API as everyone else and listens to ``GET /api/v1/stream`` for changes.

The stream is server-sent events. Each named *stream source* (``app.state.stream_sources``:
name -> function of the request, sync or async, returning JSON) is sent when its value
changes; new journal events are sent as they are committed. Other capabilities add their
own source (``app.state.stream_sources["alarms"] = list_alarms``) and the panel shows it.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from collections.abc import AsyncIterator, Callable
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from drivers.clock import iso_utc
from edge.api import (
    broadcast_routes,
    checkin_routes,
    core_routes,
    duty_routes,
    rain_routes,
    satphone_routes,
)
from edge.api.errors import ERRORS
from edge.api.security import (
    SESSION_COOKIE,
    Viewer,
    client_of,
    journal_denial_repeats,
    panel_session,
    wrong_token,
)
from edge.api.state import station_of
from edge.auth import Principal

if TYPE_CHECKING:
    from edge.journal import Journal
    from edge.station import Station

router = APIRouter(responses=ERRORS)

StreamSource = Callable[[Request], Any]

#: Real seconds between two looks at the journal and the sources. This paces network
#: traffic to a browser, not station behaviour, so it does not follow the station clock
#: (a fast simulation would otherwise poll SQLite many times a second per browser).
STREAM_POLL_S = 0.75
#: A ``heartbeat`` event this often (real seconds) carries the station's clock; the panel
#: calls the station lost when none came for ``duty_routes.LOST_AFTER_S``. It also keeps
#: proxies from closing a quiet stream, and lets a stream whose browser went away notice.
STREAM_HEARTBEAT_S = duty_routes.HEARTBEAT_S
STREAM_BACKLOG = 50
JOURNAL_BATCH = 200

STATIC_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*\.(js|css|svg|png|ico)$")
CONTENT_TYPES = {
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "svg": "image/svg+xml",
    "png": "image/png",
    "ico": "image/x-icon",
}
#: Only our own files run; nothing may frame the panel (a hidden EVACUATE button under
#: someone else's page is the attack this stops).
PANEL_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; connect-src 'self'; object-src 'none'; "
                               "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1, max_length=256)


def default_stream_sources(station: Station) -> dict[str, StreamSource]:
    """What the panel is pushed: the bodies of the matching GET routes. Rain is left to
    the panel to read (its readings change every poll; the warning levels that matter
    arrive as alarms)."""
    sources: dict[str, StreamSource] = {"health": core_routes.health,
                                        "state": duty_routes.state_body}
    if station.parts.broadcasting is not None:
        sources["broadcasts"] = lambda request: broadcast_routes.list_broadcasts(
            request, active=True)
    sources["alarms"] = lambda request: rain_routes.alarms(request, all=False)
    if station.parts.satphone is not None:
        sources["satphone"] = satphone_routes.satphone
    sources["checkins"] = checkin_routes.list_checkins
    return sources


# -- static files ------------------------------------------------------------------------


def _panel_file(name: str) -> bytes:
    return resources.files("edge.panel").joinpath(name).read_bytes()


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def panel_shell() -> HTMLResponse:
    return HTMLResponse(_panel_file("index.html").decode("utf-8"), headers=PANEL_HEADERS)


@router.get("/panel/{path:path}", include_in_schema=False)
async def panel_asset(path: str) -> Response:
    match = STATIC_NAME.match(path)
    if match is None:
        raise HTTPException(404, "no such panel file")
    try:
        body = _panel_file(path)
    except (FileNotFoundError, IsADirectoryError):
        raise HTTPException(404, "no such panel file") from None
    return Response(body, media_type=CONTENT_TYPES[match.group(1)], headers=PANEL_HEADERS)


# -- sign-in -----------------------------------------------------------------------------


def _session_json(principal: Principal, csrf: str | None, expires: str | None) -> dict[str, Any]:
    return {"name": principal.name, "role": principal.role, "csrf": csrf, "expires": expires}


@router.post("/api/v1/sign-in", tags=["panel"])
async def sign_in(request: Request, body: SignIn, response: Response) -> dict[str, Any]:
    """Trade a token for a panel session: an HttpOnly, SameSite=Strict cookie holding a
    random session id (never the token), and the session's CSRF token in the body.
    A valid token signs in even from a client locked out for wrong ones."""
    station = station_of(request)
    journal_denial_repeats(request)
    principal = station.tokens.identify(body.token)
    if principal is None:
        raise wrong_token(request, "sign-in with an unknown token", "unknown token")
    session = request.app.state.sessions.open(principal)
    response.set_cookie(
        SESSION_COOKIE, session.id, max_age=int(request.app.state.sessions.lifetime_s),
        path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https",
    )
    response.headers["Cache-Control"] = "no-store"
    station.journal.record("panel.signed_in", "panel", principal.name, role=principal.role,
                           client=client_of(request), expires=iso_utc(session.expires_at))
    return _session_json(principal, session.csrf, iso_utc(session.expires_at))


@router.get("/api/v1/session", tags=["panel"])
async def who_am_i(
    request: Request, principal: Annotated[Principal, Viewer], response: Response
) -> dict[str, Any]:
    """Who is signed in, and the CSRF token a reloaded panel needs (null for a Bearer caller)."""
    response.headers["Cache-Control"] = "no-store"
    session = panel_session(request)
    if session is None or request.headers.get("authorization") is not None:
        return _session_json(principal, None, None)
    return _session_json(principal, session.csrf, iso_utc(session.expires_at))


@router.post("/api/v1/sign-out", tags=["panel"])
async def sign_out(
    request: Request, principal: Annotated[Principal, Viewer], response: Response
) -> dict[str, Any]:
    """End the panel session (the cookie's; a Bearer caller has none to end)."""
    session_id = request.cookies.get(SESSION_COOKIE)
    closed = request.app.state.sessions.close(session_id) if session_id else None
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    if closed is not None:
        station_of(request).journal.record("panel.signed_out", "panel", principal.name)
    return {"signed_out": closed is not None}


# -- live stream -------------------------------------------------------------------------


def sse(event: str, data: Any, event_id: int | None = None) -> str:
    text = json.dumps(jsonable_encoder(data), ensure_ascii=False, separators=(",", ":"))
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {text}\n\n"


async def _call(source: StreamSource, request: Request) -> Any:
    value = source(request)
    return await value if inspect.isawaitable(value) else value


class StreamState:
    """What one browser has already been sent, so only changes go out."""

    def __init__(self, after: int) -> None:
        self.after = after
        self.sent: dict[str, str] = {}

    async def changes(self, request: Request, sources: dict[str, StreamSource]) -> list[str]:
        out = []
        for name, source in sources.items():
            try:
                value = await _call(source, request)
            except HTTPException:
                continue
            frame = sse(name, value)
            if self.sent.get(name) != frame:
                self.sent[name] = frame
                out.append(frame)
        rows = station_of(request).journal.read(after=self.after, limit=JOURNAL_BATCH)
        if rows:
            self.after = rows[-1]["seq"]
            words = duty_routes.words_of(request)
            described = [row | {"say": words.describe(row)} for row in rows]
            out.append(sse("journal", {"events": described}, self.after))
        return out


def heartbeat(station: Station) -> str:
    """The station's clock (and how fast it runs), for the panel's header and its
    watch on the connection."""
    return sse("heartbeat", {"time": iso_utc(station.clock.now()),
                             "time_scale": duty_routes.time_scale(station),
                             "seq": station.journal.committed_seq})


def _resume_after(request: Request, journal: Journal) -> int:
    last_id = request.headers.get("last-event-id", "")
    if last_id.isdigit():
        return int(last_id)
    return max(0, journal.committed_seq - STREAM_BACKLOG)


@router.get("/api/v1/stream", tags=["panel"],
            responses={200: {"content": {"text/event-stream": {}}}})
async def stream(request: Request, principal: Annotated[Principal, Viewer]) -> StreamingResponse:
    """Server-sent events: each stream source when it changes (``health``, ``state``,
    ``broadcasts``, and whatever else is registered), ``journal`` batches of new events
    (each described under ``say``), whose ``id`` is the last seq so a reconnecting browser
    resumes where it stopped, and a ``heartbeat`` with the station's clock every few
    seconds. Ends with a ``signed_out`` event when the panel session ends, and when the
    station stops.

    A caller that does not ``Accept: text/event-stream`` (curl, a script) gets one
    snapshot, the frames a browser gets first, and the response ends."""
    station = station_of(request)
    sources: dict[str, StreamSource] = request.app.state.stream_sources
    state = StreamState(_resume_after(request, station.journal))
    session_id = request.cookies.get(SESSION_COOKIE) \
        if request.headers.get("authorization") is None else None
    follow = "text/event-stream" in request.headers.get("accept", "")

    async def frames() -> AsyncIterator[str]:
        stopping = asyncio.ensure_future(station.wait_stopped())
        loop = asyncio.get_running_loop()
        beat_at = loop.time() + STREAM_HEARTBEAT_S
        try:
            yield "retry: 2000\n\n" + sse("hello", {"name": principal.name,
                                                    "role": principal.role}) + heartbeat(station)
            while not stopping.done():
                signed_out = session_id is not None \
                    and request.app.state.sessions.get(session_id) is None
                if signed_out or not station.tokens.still_valid(principal):  # or revoked
                    yield sse("signed_out", {})
                    return
                changes = await state.changes(request, sources)
                for frame in changes:
                    yield frame
                if not follow:
                    return
                if loop.time() >= beat_at:
                    beat_at = loop.time() + STREAM_HEARTBEAT_S
                    yield heartbeat(station)
                    if await request.is_disconnected():
                        return
                await asyncio.wait({stopping}, timeout=STREAM_POLL_S)
        finally:
            stopping.cancel()

    return StreamingResponse(frames(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
