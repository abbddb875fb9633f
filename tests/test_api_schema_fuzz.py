"""Schemathesis over the station's own OpenAPI schema: no input makes the daemon fail.

It runs against a real simulated station (``station-edge run --sim`` in a child
process, real uvicorn) rather than in-process: the station's state lives on the event
loop that runs it, and an in-process ASGI client would call the app from another loop.
Every operation of the schema gets generated cases, and every check runs but
``positive_data_acceptance``: a request the schema allows may still name a zone,
message or alarm the station does not have, and is rightly refused with 4xx (semantic
validation the schema cannot express).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.helpers import SimStationProcess

pytestmark = pytest.mark.slow
ADMIN = {"Authorization": "Bearer sim-admin"}
EXAMPLES_PER_OPERATION = 12
NOT_FUZZED = {"GET /api/v1/stream"}  # an endless event stream: checked in the panel tests


def test_no_input_makes_the_station_fail(sim_station: Callable[..., SimStationProcess]) -> None:
    station = sim_station()
    schema = schemathesis.openapi.from_url(f"{station.base_url}/api/openapi.json",
                                           headers=ADMIN)
    operations = [result.ok() for result in schema.get_all_operations()]
    fuzzed = [op for op in operations if op.label not in NOT_FUZZED]
    assert len(fuzzed) >= 20, [op.label for op in operations]
    failures: list[str] = []
    for operation in fuzzed:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=station.base_url, headers=ADMIN,
                                   excluded_checks=[positive_data_acceptance])

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis FailureGroup
            failures.append(f"{operation.label}: {exc}"[:2000])
    assert not failures, "\n\n".join(failures)
    assert station.stop() == 0, "the station still stops cleanly"
