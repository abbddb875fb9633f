"""The station behind a request, typed: routes read it here, never from ``app.state``.

``app.state`` is an untyped bag; reaching into it by attribute name everywhere would make
a typo a runtime error on one route. One accessor keeps the types visible to mypy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import HTTPException, Request

if TYPE_CHECKING:
    from edge.alarms import Alarms
    from edge.broadcasting import Broadcasting
    from edge.station import Station


def station_of(request: Request) -> Station:
    station: Station = request.app.state.station
    return station


def broadcasting_of(request: Request) -> Broadcasting:
    """The station's broadcasting; 404 on a station without an amplifier."""
    broadcasting = station_of(request).parts.broadcasting
    if broadcasting is None:
        raise HTTPException(404, "this station has no amplifier")
    return broadcasting


def alarms_of(request: Request) -> Alarms:
    return station_of(request).parts.alarms
