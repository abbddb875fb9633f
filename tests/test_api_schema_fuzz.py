"""Schemathesis over the station's own OpenAPI schema: no input makes the daemon fail.

It runs against a real simulated station (``station-edge run --sim`` in a child
process, real uvicorn) rather than in-process: the station's state lives on the event
loop that runs it, and an in-process ASGI client would call the app from another loop.
Every operation of the schema gets generated cases, valid ones and (fewer) ones that
break the schema (wrong types, missing fields, out of range), and every JSON operation
gets the malformed bodies a schema cannot describe: NaN, Infinity, deep nesting, bytes
that are not UTF-8. Every check runs but ``positive_data_acceptance``: a request the
schema allows may still name a zone, message or alarm the station does not have, and is
rightly refused with 4xx (semantic validation the schema cannot express).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    ignored_auth,
    negative_data_rejection,
    positive_data_acceptance,
)

from tests.helpers import SimStationProcess

pytestmark = pytest.mark.slow
ADMIN = {"Authorization": "Bearer sim-admin"}
EXAMPLES = {GenerationMode.POSITIVE: 6, GenerationMode.NEGATIVE: 3}
NOT_FUZZED = {"GET /api/v1/stream"}  # an endless event stream: checked in the panel tests
#: Checks left out, and why:
#: * ``positive_data_acceptance``: see the module docstring;
#: * ``ignored_auth`` probes each operation with a wrong token, from this one client: after
#:   ten the station answers 429 (test_api_hardening.py), not the 401 the check wants. That
#:   every route refuses a missing or wrong token is proven route by route in
#:   test_api_access.py. (The sign-in's fuzzed tokens lock this client out early in the
#:   run; its admin token is accepted all the same, so the run reaches every route.);
#: * ``negative_data_rejection`` wants a 4xx for any schema-breaking case, but unknown query
#:   parameters are ignored (as HTTP APIs do), and the run's admin token replaces a broken
#:   Authorization header;
#: * ``not_a_server_error``: replaced by ``no_server_fault``, which allows the 503 an
#:   operation documents (a device or the disk that cannot answer now).
EXCLUDED = [positive_data_acceptance, ignored_auth, negative_data_rejection, not_a_server_error]


def no_server_fault(_ctx: object, response: schemathesis.Response,
                    case: schemathesis.Case) -> None:
    code = response.status_code
    documented = case.operation.definition.raw.get("responses", {})
    if code >= 500 and (code != 503 or "503" not in documented):
        raise AssertionError(f"{code} from {case.operation.label}: {response.text[:300]}")


#: Bodies no JSON schema can describe (sent as application/json; each must be a 422).
MALFORMED = {
    "NaN": b'{"level": NaN, "seconds": NaN, "message": NaN, "token": NaN}',
    "Infinity": b'{"level": Infinity, "seconds": -Infinity, "repeat": Infinity}',
    "deep": b"[" * 3000 + b"]" * 3000,
    "deep object": b'{"a":' * 100 + b"1" + b"}" * 100,
    "not UTF-8": b'{"message": "\xff\xfe"}',
    "array": b"[1, 2]",
}


def fuzz(operation: APIOperation, base_url: str, mode: GenerationMode,
         statuses: Counter[int]) -> None:
    @given(case=operation.as_strategy(mode))
    @settings(max_examples=EXAMPLES[mode], deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case) -> None:
        response = case.call_and_validate(base_url=base_url, headers=ADMIN,
                                          excluded_checks=EXCLUDED,
                                          additional_checks=[no_server_fault])
        statuses[response.status_code] += 1

    check()


def malformed(operation: APIOperation, base_url: str) -> list[str]:
    wrong = []
    for name, body in MALFORMED.items():
        case = operation.Case(body=body, media_type="application/json", path_parameters={
            parameter.name: "1" for parameter in operation.path_parameters})
        response = case.call(base_url=base_url, headers=ADMIN)
        if response.status_code != 422:
            wrong.append(f"{name}: {response.status_code} {response.text[:200]}")
        case.validate_response(response, excluded_checks=EXCLUDED,
                               additional_checks=[no_server_fault])
    return wrong


def test_no_input_makes_the_station_fail(sim_station: Callable[..., SimStationProcess]) -> None:
    station = sim_station()
    schema = schemathesis.openapi.from_url(f"{station.base_url}/api/openapi.json",
                                           headers=ADMIN)
    operations = [result.ok() for result in schema.get_all_operations()]
    fuzzed = [op for op in operations if op.label not in NOT_FUZZED]
    assert len(fuzzed) >= 20, [op.label for op in operations]
    with_json = [op for op in fuzzed if any(b.media_type == "application/json" for b in op.body)]
    assert len(with_json) >= 6, [op.label for op in with_json]
    failures: list[str] = []
    statuses: dict[GenerationMode, Counter[int]] = {mode: Counter() for mode in EXAMPLES}
    for mode in EXAMPLES:
        for operation in fuzzed:
            try:
                fuzz(operation, station.base_url, mode, statuses[mode])
            except (Exception, BaseExceptionGroup) as exc:  # schemathesis FailureGroup
                failures.append(f"{operation.label} ({mode}): {exc}"[:2000])
    for operation in with_json:  # a valid token: answered even from a locked client
        failures += [f"{operation.label} {w}" for w in malformed(operation, station.base_url)]
    assert not failures, "\n\n".join(failures)
    valid = statuses[GenerationMode.POSITIVE]
    assert valid[401] + valid[429] < sum(valid.values()) / 10, \
        f"a hollow run, refused at the door: {valid}"
    assert station.stop() == 0, "the station still stops cleanly"
