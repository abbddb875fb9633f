"""Role checks hold on every route: the test walks the app's own route table.

A new route cannot escape: it must declare a role through ``requires()``, and calling it
without a token is 401, with a wrong token 401, with a too-weak role 403.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import RouteContext, iter_route_contexts

from edge.api.app import create_app
from edge.api.security import PUBLIC_PATHS
from edge.api.throttle import AuthThrottle
from edge.auth import ROLE_RANK, TokenBook, TokenFile, make_missing_tokens, sha256_hex
from tests.helpers import SIM_ADMIN, SIM_VIEWER, StationRun, sim_config

TOKENS = {"viewer": "sim-viewer", "operator": "sim-operator", "admin": "sim-admin"}


def required_role(route: RouteContext) -> str | None:
    def walk(dependant: object) -> str | None:
        call = getattr(dependant, "call", None)
        role = getattr(call, "required_role", None)
        if role:
            return role
        for sub in getattr(dependant, "dependencies", []):
            found = walk(sub)
            if found:
                return found
        return None

    return walk(getattr(route.original_route, "dependant", None))


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


async def test_every_route_declares_a_role_and_enforces_it(tmp_path: Path) -> None:
    async with StationRun(sim_config(tmp_path, with_simulators=True)) as run:
        app = create_app(run.station)
        app.state.auth_throttle = AuthThrottle(max_failures=10**6)  # this test fails on purpose
        routes = list(iter_route_contexts(app.routes))
        assert len(routes) >= 6
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            for route in routes:
                if route.path in PUBLIC_PATHS:
                    continue
                role = required_role(route)
                assert role in ROLE_RANK, f"{route.path} has no role check"
                for method in sorted(route.methods - {"HEAD"}):
                    url = concrete(route.path)
                    none = await client.request(method, url, json={})
                    assert none.status_code == 401, (method, url)
                    assert none.headers["www-authenticate"] == "Bearer"
                    wrong = await client.request(method, url, json={},
                                                 headers={"Authorization": "Bearer nope"})
                    assert wrong.status_code == 401, (method, url)
                    for weaker, rank in ROLE_RANK.items():
                        if rank < ROLE_RANK[role]:
                            headers = {"Authorization": f"Bearer {TOKENS[weaker]}"}
                            weak = await client.request(method, url, json={}, headers=headers)
                            assert weak.status_code == 403, (method, url, weaker)
                    strong = await client.request(
                        method, url, json={}, headers={"Authorization": f"Bearer {TOKENS[role]}"})
                    assert strong.status_code not in (401, 403), (method, url, role)
        denied = await run.settled_events("access.denied")
        assert denied and all(e["source"] == "api" for e in denied)


def runs_on_the_thread_pool(call: Any) -> bool:
    """Would FastAPI run ``call`` on its thread pool (a plain ``def``, not ``async def``)?"""
    if inspect.isfunction(call) or inspect.ismethod(call):
        return not (inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call))
    method = getattr(call, "__call__", None)  # noqa: B004 (an instance, e.g. RoleCheck)
    return method is not None and runs_on_the_thread_pool(method)


def thread_pool_calls(dependant: Any) -> list[str]:
    found = [getattr(dependant.call, "__qualname__", repr(dependant.call))] \
        if dependant.call is not None and runs_on_the_thread_pool(dependant.call) else []
    for sub in dependant.dependencies:
        found += thread_pool_calls(sub)
    return found


class RoleCheckLike:
    async def __call__(self) -> None: ...


def test_the_check_finds_a_plain_def() -> None:
    def plain() -> None: ...

    async def coroutine() -> None: ...

    assert runs_on_the_thread_pool(plain) and not runs_on_the_thread_pool(coroutine)
    assert not runs_on_the_thread_pool(RoleCheckLike())


async def test_no_route_or_dependency_runs_on_the_thread_pool(tmp_path: Path) -> None:
    """Session and throttle tables change on the event loop; a plain ``def`` route or
    dependency would run on FastAPI's thread pool and race them."""
    async with StationRun(sim_config(tmp_path, with_simulators=True)) as run:
        app = create_app(run.station)
        routes = [r.original_route for r in iter_route_contexts(app.routes)]
        walked = [r for r in routes if hasattr(r, "dependant")]
        assert len(walked) >= 20 and any(r.path == "/api/v1/sign-in" for r in walked)
        plain = {r.path: calls for r in walked if (calls := thread_pool_calls(r.dependant))}
        assert plain == {}, f"make these async def: {plain}"


async def test_health_answers_as_the_county_expects(tmp_path: Path) -> None:
    async with StationRun(sim_config(tmp_path)) as run:
        transport = httpx.ASGITransport(app=create_app(run.station))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            body = (await client.get("/api/v1/health", headers=SIM_VIEWER)).json()
            shell = await client.get("/")
            metrics = await client.get("/metrics", headers=SIM_VIEWER)
    assert set(body) == {"station", "status", "time", "uptime_s", "version", "devices"}
    assert body["station"]["id"] == "SIM-001" and body["status"] == "ok"
    assert {d["id"] for d in body["devices"]} >= {"amplifier", "siren-1", "ha-1", "journal"}
    assert all(set(d) == {"id", "kind", "status", "detail", "since"} for d in body["devices"])
    assert shell.status_code == 200 and "应急站" in shell.text
    assert 'station_edge_device_status{device="siren-1",kind="siren",status="ok"} 1.0' \
        in metrics.text
    assert "station_edge_journal_last_write_timestamp_seconds" in metrics.text


async def test_admin_wiring_test_switches_an_output_for_a_while(tmp_path: Path) -> None:
    async with StationRun(sim_config(tmp_path)) as run:
        transport = httpx.ASGITransport(app=create_app(run.station))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            reply = await client.post("/api/v1/outputs/siren-1/test", json={"seconds": 5},
                                      headers=SIM_ADMIN)
            assert reply.status_code == 202
            assert run.station.outputs["siren-1"].switch.is_on
            await run.clock.advance(5.1)
            assert not run.station.outputs["siren-1"].switch.is_on
            missing = await client.post("/api/v1/outputs/nope/test", json={"seconds": 5},
                                        headers=SIM_ADMIN)
            assert missing.status_code == 404


def test_tokens_are_compared_by_hash_and_generated_once(tmp_path: Path) -> None:
    file = TokenFile(tmp_path)
    clear = make_missing_tokens(file, [])
    assert set(clear) == {"viewer", "operator", "admin"}
    assert all(len(secret) == 32 for secret in clear.values()), "128-bit tokens"
    text = (tmp_path / "api-tokens.json").read_text()
    assert not any(secret in text for secret in clear.values()), "only hashes are stored"
    book = TokenBook([], file)
    principal = book.identify(clear["operator"])
    assert principal is not None and principal.role == "operator"
    assert book.identify("sim-admin") is None
    assert make_missing_tokens(file, []) == {}
    stored = file.read()
    assert [t.name for t in stored] == ["generated-viewer", "generated-operator",
                                        "generated-admin"]
    assert stored[0].sha256 == sha256_hex(clear["viewer"])


@pytest.mark.parametrize("token", ["sim-viewer", "sim-operator", "sim-admin"])
async def test_a_real_station_never_accepts_simulator_tokens(tmp_path: Path, token: str) -> None:
    forged = sim_config(tmp_path).model_copy(update={"sim": None})  # validation bypassed
    async with StationRun(forged) as run:
        assert run.station.tokens.identify(token) is None


async def test_a_real_station_without_tokens_generates_them_at_first_start(
    tmp_path: Path,
) -> None:
    config = sim_config(tmp_path)
    real = config.model_copy(update={"sim": None,
                                     "api": config.api.model_copy(update={"tokens": []})})
    async with StationRun(real) as run:
        assert len(run.station.tokens) == 4, "three generated and the local command token"
        generated = run.station.generated_tokens
        assert run.station.tokens.identify(generated["admin"]).role == "admin"
        assert (await run.settled_events("access.tokens_generated"))
