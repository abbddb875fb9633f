"""Panel sign-in: the cookie holds a session id, actions need the CSRF token, roles hold.

In-process against a station on a manual clock, so session expiry is checked exactly.
The browser tests (test_panel_browser.py) check the same from a real Chromium.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from starlette.requests import Request

from drivers.clock import ManualClock
from edge.api.app import create_app
from edge.api.panel_routes import StreamState
from edge.api.security import CSRF_HEADER, SESSION_COOKIE
from edge.api.sessions import SessionBook
from edge.auth import Principal
from tests.helpers import SIM_OPERATOR, StationRun, sim_config

EVACUATE = {"message": "evacuate", "zones": ["all"], "repeat": 3, "priority": "evacuation",
            "type": "emergency"}


def test_sessions_expire_on_the_station_clock_and_the_oldest_gives_way() -> None:
    clock = ManualClock()
    book = SessionBook(clock, lifetime_s=60, max_sessions=2)
    first = book.open(Principal("duty", "operator"))
    assert book.get(first.id) == first and first.id != first.csrf
    assert first.csrf_matches(first.csrf) and not first.csrf_matches("x")
    assert not first.csrf_matches(None)
    second = book.open(Principal("county", "viewer"))
    third = book.open(Principal("admin", "admin"))
    assert book.get(first.id) is None, "the oldest session was dropped for the third"
    assert len(book) == 2 and book.get(second.id) is not None
    assert book.close(third.id) == third and book.get(third.id) is None


async def test_a_session_ends_when_its_lifetime_is_over() -> None:
    clock = ManualClock()
    book = SessionBook(clock, lifetime_s=60)
    session = book.open(Principal("duty", "operator"))
    await clock.advance(59.9)
    assert book.get(session.id) == session
    await clock.advance(0.1)
    assert book.get(session.id) is None and len(book) == 0


async def test_sign_in_cookie_csrf_roles_and_sign_out(tmp_path: Path) -> None:
    async with StationRun(sim_config(tmp_path)) as run:
        app = create_app(run.station)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            wrong = await client.post("/api/v1/sign-in", json={"token": "nope"})
            assert wrong.status_code == 401 and SESSION_COOKIE not in client.cookies

            signed = await client.post("/api/v1/sign-in", json={"token": "sim-operator"})
            assert signed.status_code == 200
            cookie = signed.headers["set-cookie"]
            assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
            assert "sim-operator" not in cookie, "the token never goes into the cookie"
            body = signed.json()
            assert body["role"] == "operator" and body["name"] == "sim-operator"
            csrf = body["csrf"]

            assert (await client.get("/api/v1/health")).status_code == 200
            again = (await client.get("/api/v1/session")).json()
            assert again["csrf"] == csrf
            no_csrf = await client.post("/api/v1/broadcasts", json=EVACUATE)
            bad_csrf = await client.post("/api/v1/broadcasts", json=EVACUATE,
                                         headers={CSRF_HEADER: "guess"})
            assert no_csrf.status_code == bad_csrf.status_code == 403
            assert not run.station.parts.broadcasting.service.list(active=True)
            started = await client.post("/api/v1/broadcasts", json=EVACUATE,
                                        headers={CSRF_HEADER: csrf})
            assert started.status_code == 202 and started.json()["actor"] == "sim-operator"

            bearer_wins = await client.get("/api/v1/session",
                                           headers={"Authorization": "Bearer nope"})
            assert bearer_wins.status_code == 401, "a wrong Bearer is not rescued by the cookie"
            assert (await client.post("/api/v1/sign-out")).status_code == 403, "needs CSRF"
            out = await client.post("/api/v1/sign-out", headers={CSRF_HEADER: csrf})
            assert out.json() == {"signed_out": True}
            assert (await client.get("/api/v1/health")).status_code == 401
            client.cookies.set(SESSION_COOKIE, signed.cookies[SESSION_COOKIE])
            assert (await client.get("/api/v1/health")).status_code == 401, "closed for good"
        kinds = [e["kind"] for e in await run.settled_events()]
        assert "panel.signed_in" in kinds and "panel.signed_out" in kinds
        denied = await run.settled_events("access.denied")
        assert {e["data"]["reason"] for e in denied} >= {
            "sign-in with an unknown token", "missing or wrong CSRF token"}


async def test_a_viewer_session_reads_but_cannot_act(tmp_path: Path) -> None:
    async with StationRun(sim_config(tmp_path)) as run:
        transport = httpx.ASGITransport(app=create_app(run.station))
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            csrf = (await client.post("/api/v1/sign-in", json={"token": "sim-viewer"})).json()[
                "csrf"]
            assert (await client.get("/api/v1/broadcasts")).status_code == 200
            refused = await client.post("/api/v1/broadcasts", json=EVACUATE,
                                        headers={CSRF_HEADER: csrf})
            assert refused.status_code == 403
            assert not run.station.parts.broadcasting.service.list(active=True)


async def test_a_session_expires_after_its_lifetime(tmp_path: Path) -> None:
    async with StationRun(sim_config(tmp_path)) as run:
        app = create_app(run.station)
        app.state.sessions = SessionBook(run.clock, lifetime_s=5)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            signed = await client.post("/api/v1/sign-in", json={"token": "sim-viewer"})
            assert "Max-Age=5" in signed.headers["set-cookie"]
            assert (await client.get("/api/v1/health")).status_code == 200
            await run.clock.advance(5)
            assert (await client.get("/api/v1/health")).status_code == 401


PANEL_PATHS = {
    "/": 200, "/panel/panel.js": 200, "/panel/panel.css": 200, "/panel/i18n.js": 200,
    "/panel/__init__.py": 404, "/panel/%2e%2e/auth.py": 404, "/panel/nope.js": 404,
    "/panel/..%2fconfig.py": 404, "/panel/sim_config.toml": 404,
}


async def test_panel_files_are_served_with_a_strict_policy(tmp_path: Path) -> None:
    async with StationRun(sim_config(tmp_path)) as run:
        transport = httpx.ASGITransport(app=create_app(run.station))
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            replies = {path: await client.get(path) for path in PANEL_PATHS}
    assert {path: r.status_code for path, r in replies.items()} == PANEL_PATHS
    for path, reply in replies.items():
        if reply.status_code != 200:
            continue
        policy = reply.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy, path
        external = reply.text.replace("http://www.w3.org/2000/svg", "")
        assert "http://" not in external and "https://" not in external, f"{path} loads nothing"
    assert replies["/panel/panel.js"].headers["content-type"].startswith("text/javascript")


async def test_the_stream_sends_changes_only(tmp_path: Path) -> None:
    async with StationRun(sim_config(tmp_path)) as run:
        app = create_app(run.station)
        request = Request({"type": "http", "app": app, "method": "GET", "headers": [],
                           "path": "/api/v1/stream", "query_string": b""})
        await run.station.journal.durable(run.station.journal.record("test.marker", "tests"))
        state = StreamState(after=0)
        first = await state.changes(request, app.state.stream_sources)
        names = [f.split("\n")[1] if f.startswith("id:") else f.split("\n")[0] for f in first]
        assert names == [f"event: {name}" for name in app.state.stream_sources] + [
            "event: journal"]
        assert {"health", "broadcasts", "alarms"} <= set(app.state.stream_sources)
        assert first[-1].startswith(f"id: {state.after}\n") and state.after > 0
        assert await state.changes(request, app.state.stream_sources) == []
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            reply = await client.post("/api/v1/broadcasts", json=EVACUATE, headers=SIM_OPERATOR)
            assert reply.status_code == 202
        await run.station.journal.durable(run.station.journal.record("test.marker", "tests"))
        later = await state.changes(request, app.state.stream_sources)
        names = {line for f in later for line in f.split("\n") if line.startswith("event:")}
        assert {"event: broadcasts", "event: journal"} <= names
        assert reply.json()["id"] in next(f for f in later if "event: broadcasts" in f)


async def test_guessing_tokens_at_the_sign_in_is_locked_out_but_the_right_one_signs_in(
    tmp_path: Path,
) -> None:
    async with StationRun(sim_config(tmp_path)) as run:
        app = create_app(run.station)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            limit = app.state.auth_throttle.max_failures
            guesses = [(await client.post("/api/v1/sign-in", json={"token": f"guess-{i}"}))
                       .status_code for i in range(limit + 1)]
            locked = await client.post("/api/v1/sign-in", json={"token": "guess"})
            right = await client.post("/api/v1/sign-in", json={"token": "sim-operator"})
        assert guesses == [401] * (limit - 1) + [429, 429]
        assert int(locked.headers["retry-after"]) > 0
        assert right.status_code == 200 and SESSION_COOKIE in right.headers["set-cookie"]
        assert await run.settled_events("access.locked_out")
