"""Rain gauges and alarms over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse

from drivers.clock import iso_utc
from edge.api.errors import ERRORS
from edge.api.security import Operator, Viewer
from edge.api.state import station_of
from edge.auth import Principal
from edge.durability import on_disk
from edge.rain_view import gauge_json, held_series, stopped_at
from sensors.rain_minutes import series

if TYPE_CHECKING:
    from edge.rain import Rain

router = APIRouter(prefix="/api/v1", tags=["rain and alarms"], responses=ERRORS)
MAX_SERIES_POINTS = 10_000
EARLIEST = datetime(1970, 1, 2, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _rain(request: Request) -> Rain:
    rain = station_of(request).parts.rain
    if rain is None:
        raise HTTPException(404, "this station has no rain gauges")
    return rain


def _parse_time(value: str | None, default: datetime) -> datetime:
    if value is None:
        return default
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(422, f"not an ISO-8601 time: {value!r}") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if not EARLIEST <= moment < LATEST:  # also keeps "a day before" and UTC in range
        raise HTTPException(422, f"{value!r} is not between {EARLIEST.year} and "
                                 f"{LATEST.year - 1}")
    return moment


@router.get("/rain", dependencies=[Viewer])
async def rain(request: Request) -> dict[str, Any]:
    """Every gauge: status, last reading, each window's total, warning level.

    A stale, offline or faulty gauge's totals are ``null`` (held, never 0), with
    ``stopped_at``, the time its data stopped.
    """
    station = station_of(request)
    parts = station.parts.rain
    gauges = [gauge_json(parts, g, iso_utc) for g in parts.gauges] if parts else []
    return {"time": iso_utc(station.clock.now()), "gauges": gauges}


@router.get("/rain/{gauge_id}/series", dependencies=[Viewer], response_model=None)
async def rain_series(
    request: Request,
    gauge_id: str,
    start: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
    step: Annotated[int, Query(ge=60, le=86400)] = 300,
) -> dict[str, Any] | PlainTextResponse:
    """Rain per ``step`` seconds (default the last 24 h); ``Accept: text/csv`` gives CSV.

    Each reading's rain is spread over the interval it fell in (kept per minute). Each
    point's ``t`` is its bucket's end; while the gauge is stale, offline or in fault, the
    buckets that end after ``stopped_at`` are ``null`` (empty in CSV), never 0.
    """
    parts = _rain(request)
    if gauge_id not in parts.gauges:
        raise HTTPException(404, f"no gauge {gauge_id!r}")
    now = parts.clock.now()
    end = _parse_time(to, now)
    begin = _parse_time(start, end - timedelta(hours=24))
    if begin >= end:
        raise HTTPException(422, "'from' must be before 'to'")
    if (end - begin).total_seconds() / step > MAX_SERIES_POINTS:
        raise HTTPException(422, f"more than {MAX_SERIES_POINTS} points: use a larger step")
    stopped = stopped_at(parts, gauge_id)
    points = held_series(series(parts.series_minutes(gauge_id, begin, end), begin, end, step),
                         stopped)
    if "text/csv" in request.headers.get("accept", ""):
        lines = ["time,mm"] + [f"{iso_utc(t)},{'' if mm is None else mm}" for t, mm in points]
        return PlainTextResponse("\n".join(lines) + "\n", media_type="text/csv")
    return {"gauge": gauge_id, "step_s": step,
            "stopped_at": iso_utc(stopped) if stopped else None,
            "points": [{"t": iso_utc(t), "mm": mm} for t, mm in points]}


@router.get("/alarms", dependencies=[Viewer])
async def alarms(
    request: Request, all: bool = Query(False, description="include cleared")
) -> Any:
    registry = station_of(request).parts.alarms
    return {"alarms": [a.as_json() for a in registry.list(open_only=not all)]}


@router.get("/alarms/{alarm_id}", dependencies=[Viewer])
async def alarm(request: Request, alarm_id: str) -> dict[str, Any]:
    """One alarm, cleared or not, with each window's crossings, levels and clearing."""
    try:
        return station_of(request).parts.alarms.get(alarm_id).as_json()
    except KeyError:
        raise HTTPException(404, f"no alarm {alarm_id!r}") from None


@router.post("/alarms/{alarm_id}/ack")
async def acknowledge(
    request: Request, alarm_id: str, principal: Annotated[Principal, Operator]
) -> dict[str, Any]:
    station = station_of(request)
    registry = station.parts.alarms
    try:
        alarm = registry.acknowledge(alarm_id, actor=principal.name)
    except KeyError:
        raise HTTPException(404, f"no alarm {alarm_id!r}") from None
    await on_disk(station, journal_seq=station.journal.last_recorded_seq,
                  state_ticket=station.state.last_ticket)
    return alarm.as_json()
