"""The HTTP surface: guessing tokens is throttled, bodies are bounded, hosts are checked."""

from __future__ import annotations

from pathlib import Path

import httpx

from edge.api.app import create_app
from edge.api.throttle import AuthThrottle
from tests.helpers import SIM_ADMIN, SIM_VIEWER, StationRun, sim_config


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


async def test_a_token_guesser_gets_429_and_every_attempt_is_journaled(tmp_path: Path) -> None:
    async with StationRun(sim_config(tmp_path)) as run:
        transport = httpx.ASGITransport(app=create_app(run.station), client=("10.1.1.5", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            codes = [(await client.get("/api/v1/health",
                                       headers={"Authorization": f"Bearer guess-{n}"})).status_code
                     for n in range(12)]
            assert codes[:9] == [401] * 9 and codes[10:] == [429, 429]
            locked = await client.get("/api/v1/health", headers=SIM_VIEWER)
            assert locked.status_code == 429, "a locked client is refused even with a good token"
            assert int(locked.headers["retry-after"]) > 0
            await run.clock.advance(301)
            assert (await client.get("/api/v1/health", headers=SIM_VIEWER)).status_code == 200
        kinds = [e["kind"] for e in await run.settled_events()]
        assert kinds.count("access.denied") == 10 and kinds.count("access.throttled") == 3
        assert kinds.count("access.locked_out") == 1


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
