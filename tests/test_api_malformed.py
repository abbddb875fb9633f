"""Every malformed request is a 422 that says why, never a 500, and changes nothing.

The route test walks the app's own route table: a new JSON route gets the same cases
(NaN, Infinity, deep nesting, wrong types, bytes that are not UTF-8) without being named.
The schema fuzz run (test_api_schema_fuzz.py) sends the same through a real uvicorn.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from edge.api.app import create_app
from edge.api.strict_json import MAX_DEPTH, depth, is_json, problem
from tests.helpers import SIM_ADMIN, SIM_VIEWER, StationRun, sim_config

JSON = {**SIM_ADMIN, "Content-Type": "application/json"}


@pytest.mark.parametrize(("body", "word"), [
    (b'{"level": NaN}', "NaN"), (b'{"a": [Infinity]}', "Infinity"),
    (b'{"a": -Infinity}', "-Infinity"), (b"[" * 5000 + b"]" * 5000, "nested"),
    (b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1), "nested"),
    (b'{"a": 1', "not JSON"), (b'{"a": "\xff"}', "not UTF-8"),
])
def test_what_is_not_strict_json_is_named(body: bytes, word: str) -> None:
    why = problem(body)
    assert why is not None and word in why


def test_strict_json_passes_and_measures_depth() -> None:
    assert problem(b'{"a": [1, 2.5e300, {"b": null}], "c": "NaN"}') is None
    assert problem(b'{"a":' * MAX_DEPTH + b"1" + b"}" * MAX_DEPTH) is None
    assert [depth(v) for v in (1, [], {"a": [1]}, [[[]], 2])] == [0, 1, 2, 3]
    assert is_json(b"application/json; charset=utf-8") and is_json(b"application/merge+json")
    assert not is_json(b"application/cap+xml") and not is_json(None) and not is_json(b"text/json")


def body_fields(route: Any) -> list[str]:
    model = route.body_field.field_info.annotation
    return list(model.model_fields)


def malformed_bodies(fields: list[str]) -> dict[str, tuple[bytes, str]]:
    """name -> (body, content type) for a route whose model has ``fields``."""
    def each(value: str) -> bytes:
        return ("{" + ", ".join(f'"{f}": {value}' for f in fields) + "}").encode()

    return {
        "NaN": (each("NaN"), "application/json"),
        "Infinity": (each("Infinity"), "application/json"),
        "-Infinity": (each("-Infinity"), "application/json"),
        "deep": (b"[" * 3000 + b"]" * 3000, "application/json"),
        "deep field": (each("[" * 40 + "]" * 40), "application/json"),
        "array": (b"[]", "application/json"),
        "string": (b'"evacuate"', "application/json"),
        "number": (b"42", "application/json"),
        "null": (b"null", "application/json"),
        "objects for fields": (each('{"x": [1]}'), "application/json"),
        "not UTF-8": (each('"X"').replace(b"X", b"\xff"), "application/json"),
        "plain text": (b"\xff\xfe level=1", "text/plain"),
    }


async def test_every_json_route_answers_422_to_malformed_bodies(tmp_path: Path) -> None:
    async with StationRun(sim_config(tmp_path, with_simulators=True)) as run:
        app = create_app(run.station)
        routes = [r.original_route for r in iter_route_contexts(app.routes)]
        json_routes = [r for r in routes if getattr(r, "body_field", None) is not None
                       and "model_fields" in dir(r.body_field.field_info.annotation)]
        paths = {r.path for r in json_routes}
        assert {"/api/v1/broadcasts", "/api/v1/sim/gpio/{pin}", "/api/v1/sign-in",
                "/api/v1/outputs/{output_id}/test"} <= paths, paths
        wrong: dict[str, int] = {}
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            for route in json_routes:
                url = re.sub(r"\{[^}]+\}", "1", route.path)
                for name, (body, kind) in malformed_bodies(body_fields(route)).items():
                    for method in route.methods:
                        reply = await client.request(method, url, content=body, headers={
                            **SIM_ADMIN, "Content-Type": kind})
                        detail = reply.json()["detail"] if reply.status_code == 422 else None
                        if not (isinstance(detail, list) and detail[0]["msg"]):
                            wrong[f"{method} {route.path} {name}"] = reply.status_code
        assert wrong == {}, "not a 422 with the reason"
        assert run.station.parts.broadcasting.service.list() == []
        assert run.station.outputs.energised() == []
        assert await run.settled_events("panel.signed_in") == []


async def test_a_422_names_the_problem(tmp_path: Path) -> None:
    async with StationRun(sim_config(tmp_path)) as run:
        transport = httpx.ASGITransport(app=create_app(run.station))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            nan = await client.post("/api/v1/sim/gpio/6", content=b'{"level": NaN}',
                                    headers=JSON)
            text = await client.post("/api/v1/sim/gpio/6", content=b"\xff",
                                     headers={**SIM_ADMIN, "Content-Type": "text/plain"})
            kept = await client.post("/api/v1/sim/gpio/6", json={"level": 1}, headers=JSON)
    assert nan.status_code == 422 and "NaN" in nan.json()["detail"][0]["msg"]
    assert text.status_code == 422 and "input" not in text.json()["detail"][0], \
        "bytes that are not UTF-8 are not echoed"
    assert kept.status_code == 200, "a well-formed body still reaches the route"


OUT_OF_RANGE = (
    "/api/v1/rain/rg-1/series?to=0001-01-01T00:00:00",
    "/api/v1/rain/rg-1/series?from=9999-12-31T00:00:00-23:59&to=9999-12-31T23:59:59-23:59",
    "/api/v1/events?after=99999999999999999999999",
    "/api/v1/events?limit=NaN",
)


async def test_queries_out_of_range_are_422(tmp_path: Path) -> None:
    async with StationRun(sim_config(tmp_path, with_simulators=True)) as run:
        transport = httpx.ASGITransport(app=create_app(run.station), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            codes = {query: (await client.get(query, headers=SIM_VIEWER)).status_code
                     for query in OUT_OF_RANGE}
    assert codes == dict.fromkeys(OUT_OF_RANGE, 422)
