"""The HTTP surface: guessing tokens is throttled (a valid credential never is), denials
are journaled but bounded, bodies are bounded, hosts are checked."""

from __future__ import annotations

from pathlib import Path

import httpx

from edge.api.app import create_app
from edge.api.denials import DenialLog
from edge.api.security import SESSION_COOKIE, SESSION_ENDED
from edge.api.sessions import SessionBook
from edge.api.throttle import AuthThrottle
from tests.helpers import SIM_ADMIN, SIM_OPERATOR, SIM_VIEWER, StationRun, sim_config

EVACUATE = {"message": "evacuate", "zones": ["all"], "priority": "evacuation",
            "type": "emergency"}


def test_throttle_locks_a_client_after_repeated_failures_and_forgives_later() -> None:
    throttle = AuthThrottle(max_failures=3, window_s=60, lockout_s=300)
    assert not throttle.failed("10.0.0.9", 0) and not throttle.failed("10.0.0.9", 10)
    assert throttle.locked("10.0.0.9", 11) is None
    assert throttle.failed("10.0.0.9", 20)
    assert throttle.locked("10.0.0.9", 21) == 299
    assert throttle.locked("10.0.0.8", 21) is None, "other clients are not affected"
    assert throttle.locked("10.0.0.9", 320) is None
    throttle.failed("10.0.0.7", 0)
    throttle.failed("10.0.0.7", 100)
    assert not throttle.failed("10.0.0.7", 200), "failures outside the window are forgotten"


def test_a_locked_client_is_not_locked_longer_by_more_failures() -> None:
    throttle = AuthThrottle(max_failures=2, window_s=60, lockout_s=300)
    throttle.failed("10.0.0.9", 0)
    assert throttle.failed("10.0.0.9", 1)
    assert not any(throttle.failed("10.0.0.9", t) for t in range(2, 200))
    assert throttle.locked("10.0.0.9", 200) == 101, "the lockout is not stretched"


def test_denials_are_journaled_first_then_counted_per_client_and_reason() -> None:
    log = DenialLog(window_s=60, max_windows=3)
    assert log.note("10.0.0.9", 0, "unknown token", "/a") == (True, [])
    assert log.note("10.0.0.9", 1, "unknown token", "/b") == (False, [])
    assert log.note("10.0.0.9", 2, "unknown token", "/b") == (False, [])
    assert log.note("10.0.0.9", 3, "session ended", "/a")[0], "another reason: in full"
    assert log.note("10.0.0.8", 4, "unknown token", "/a")[0], "another client: in full"
    assert log.closed(59) == []
    [summary] = log.closed(60)
    assert summary.as_data(60) == {"client": "10.0.0.9", "reason": "unknown token",
                                   "count": 2, "window_s": 60, "paths": ["/b"]}
    assert log.closed(1000) == [], "windows without repeats need no summary"
    assert log.note("10.0.0.9", 1000, "unknown token", "/a") == (True, []), "a new window"
    for n in range(3):
        log.note("10.0.0.9", 1001 + n, "unknown token", "/a")
    journal_now, due = log.note("10.0.0.1", 1010, "no token", "/a")
    journal_now, due = log.note("10.0.0.2", 1010, "no token", "/a")
    journal_now, due = log.note("10.0.0.3", 1010, "no token", "/a")
    assert journal_now and [w.count for w in due] == [3], "pushed out for room: summed up"


GUESSES = 12


async def test_a_guesser_is_locked_out_but_a_valid_token_always_passes(tmp_path: Path) -> None:
    async with StationRun(sim_config(tmp_path)) as run:
        transport = httpx.ASGITransport(app=create_app(run.station), client=("10.1.1.5", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            codes = [(await client.get("/api/v1/health",
                                       headers={"Authorization": f"Bearer guess-{n}"})).status_code
                     for n in range(GUESSES)]
            assert codes == [401] * 9 + [429] * (GUESSES - 9), "the tenth locks it out"
            wrong = await client.get("/api/v1/health", headers={"Authorization": "Bearer x"})
            assert wrong.status_code == 429 and int(wrong.headers["retry-after"]) > 0
            valid = await client.post("/api/v1/broadcasts", json=EVACUATE, headers=SIM_OPERATOR)
            assert valid.status_code == 202, "a valid token is accepted from a locked client"
            signed = await client.post("/api/v1/sign-in", json={"token": "sim-viewer"})
            assert signed.status_code == 200 and SESSION_COOKIE in signed.cookies
            assert (await client.get("/api/v1/health")).status_code == 200, "and its session"
            await run.clock.advance(301)
            after = await client.get("/api/v1/health", headers={"Authorization": "Bearer y"})
            assert after.status_code == 401, "the lockout ended"
        events = await run.settled_events()
        kinds = [e["kind"] for e in events]
        assert kinds.count("access.locked_out") == 1
        denied = [e["data"] for e in events if e["kind"] == "access.denied"]
        assert [(d["reason"], d["status"]) for d in denied] == [
            ("unknown token", 401), ("unknown token (client locked out)", 429),
            ("unknown token", 401)], "one in full per client and reason a window"
        repeats = [e["data"] for e in events if e["kind"] == "access.denied_repeats"]
        assert {(r["reason"], r["count"]) for r in repeats} == {
            ("unknown token", 8), ("unknown token (client locked out)", GUESSES - 9)}
        assert all(r["client"] == "10.1.1.5" for r in repeats + denied)


async def test_panel_tabs_from_before_a_restart_lock_no_one_out(tmp_path: Path) -> None:
    """Five tabs on the duty PC keep presenting cookies the station no longer holds (it
    restarted, or they expired): each is told its session ended, none counts as a guess."""
    async with StationRun(sim_config(tmp_path)) as run:
        app = create_app(run.station)
        app.state.sessions = SessionBook(run.clock, lifetime_s=5)
        transport = httpx.ASGITransport(app=app, client=("10.1.1.7", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            expired = (await client.post("/api/v1/sign-in", json={"token": "sim-operator"})
                       ).cookies[SESSION_COOKIE]
            await run.clock.advance(5)
            tabs = [expired] + [f"from-before-the-restart-{n}" for n in range(4)]
            replies = []
            for _ in range(app.state.auth_throttle.max_failures * 2):
                for tab in tabs:
                    client.cookies.set(SESSION_COOKIE, tab)
                    replies.append(await client.get("/api/v1/session"))
            client.cookies.clear()
            assert {r.status_code for r in replies} == {401}
            assert replies[0].json()["detail"] == SESSION_ENDED
            assert 'station_session=""' in replies[0].headers["set-cookie"], "cookie cleared"
            started = await client.post("/api/v1/broadcasts", json=EVACUATE,
                                        headers=SIM_OPERATOR)
            assert started.status_code == 202
            anonymous = [await client.get("/api/v1/health") for _ in range(15)]
            assert {r.status_code for r in anonymous} == {401}, "no token is no guess either"
            again = await client.post("/api/v1/sign-in", json={"token": "sim-operator"})
            assert again.status_code == 200
        assert app.state.auth_throttle.locked("10.1.1.7", run.clock.monotonic()) is None
        assert await run.settled_events("access.locked_out") == []
        denied = await run.settled_events("access.denied")
        assert [e["data"]["reason"] for e in denied] == ["session ended", "no token"]


async def test_bodies_are_bounded_and_foreign_hosts_refused(tmp_path: Path) -> None:
    async with StationRun(sim_config(tmp_path)) as run:
        transport = httpx.ASGITransport(app=create_app(run.station))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            big = await client.post("/api/v1/broadcasts", content=b"{" + b" " * 200_000 + b"}",
                                    headers={**SIM_ADMIN, "Content-Type": "application/json"})
            assert big.status_code == 413
            rebinding = await client.get("/api/v1/health", headers={
                **SIM_VIEWER, "Host": "evil.example"})
            assert rebinding.status_code == 400
            assert (await client.get("/api/v1/health", headers=SIM_VIEWER)).status_code == 200
