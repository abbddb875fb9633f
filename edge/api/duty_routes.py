"""What the duty panel reads beyond the county's API: the station's state in words, the
journal described and folded, the 值班记录 and its handover notes, latched faults, and
the gaps in a gauge's data.

``GET /api/v1/state`` is also a stream source (``state``): the overall state (the most
severe of alarm, evacuation on air, fault, spot check, live voice …; see
:mod:`edge.station_state`), what is sounding now, the open alarms with their cause,
叫应 and 叫醒 progress and checklist, and every device named, in words, with advice.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from broadcast.siren_signals import DEFAULT_PATTERNS
from drivers.clock import iso_utc
from edge import duty_log, rain_gaps
from edge.api.errors import ERRORS
from edge.api.security import Operator, Viewer
from edge.api.state import station_of
from edge.auth import Principal
from edge.device_words import LATCHED, STATUS, advice, detail_words
from edge.durability import on_disk
from edge.journal_kinds import CATEGORIES, Category
from edge.journal_reading import read_back, read_span, ts_before
from edge.journal_words import JournalWords
from edge.names import Said, message_names
from edge.station_state import alarm_cause, conditions, overall, sounding

if TYPE_CHECKING:
    from edge.station import Station

router = APIRouter(prefix="/api/v1", tags=["duty panel"], responses=ERRORS)

#: Real seconds between two heartbeats on the stream; the panel calls the station lost
#: after LOST_AFTER_S without one.
HEARTBEAT_S = 5.0
LOST_AFTER_S = 15.0
RECENT_EVENTS = 2000
DAY_EVENTS = 100_000


class HandoverNote(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=2000)


def words_of(request: Request) -> JournalWords:
    words: JournalWords = request.app.state.journal_words
    return words


def time_scale(station: Station) -> float:
    return float(getattr(station.clock, "time_scale", 1.0))


@router.get("/panel/setup", dependencies=[Viewer])
async def panel_setup(request: Request) -> dict[str, Any]:
    """What the panel needs once: names, message names, the checklists, timings."""
    station = station_of(request)
    config, words = station.config, words_of(request)
    return {
        "station": {"id": config.station.id, "name": config.station.name},
        "names": words.names.as_json(),
        "zones": words.names.zones_json(),
        "messages": {k: v.as_json() for k, v in message_names(config).items()},
        "sirens": {k: Said(f"{p.name}信号", f"siren signal {k}").as_json()
                   for k, p in DEFAULT_PATTERNS.items()},
        "checklist": config.alarms.checklist.model_dump(),
        "evacuate": {"message": config.broadcast.evacuate_message,
                     "repeat": config.broadcast.evacuate_repeat},
        "buzzer_on_alarm": config.panel.buzzer_on_alarm and "panel.buzzer" in station.outputs,
        "heartbeat_s": HEARTBEAT_S, "lost_after_s": LOST_AFTER_S,
        "time_scale": time_scale(station),
    }


def state_body(request: Request) -> dict[str, Any]:
    """The overall state, what sounds, the open alarms and every device, in words."""
    station = station_of(request)
    words = words_of(request)
    names = words.names
    parts = station.parts
    alarms = [a.as_json() for a in parts.alarms.list(open_only=True)]
    broadcasts = ([b.as_json(iso_utc) for b in parts.broadcasting.service.list(active=True)]
                  if parts.broadcasting is not None else [])
    sounding_alarms = set(parts.alarm_actions.sounding())
    devices = [d.as_json() for d in station.health.devices()]
    checkin = parts.checkins.waiting
    found = conditions(alarms=alarms, broadcasts=broadcasts, devices=devices,
                       checkin_waiting=checkin is not None, names=names)
    sirens = parts.sirens.ids if sounding_alarms else []
    checklist = station.config.alarms.checklist
    latched = {f.device for f in parts.faults.list()}
    evacuation = next((b for b in broadcasts if b["priority"] == "evacuation"), None)
    return {
        "overall": overall(found),
        "sounding": [s.as_json() for s in sounding(broadcasts=broadcasts, sirens=sirens,
                                                   messages=words.messages, names=names)],
        "alarms": [a | {"cause": alarm_cause(a, names).as_json(),
                        "name": names.of(a["source"]).as_json(),
                        "sirens": a["id"] in sounding_alarms,
                        "checklist": (checklist.hand_alarm if a["kind"] == "hand_alarm"
                                      else getattr(checklist, a["level"] or "prepare"))}
                   for a in alarms],
        "devices": [d | {"name": names.of(d["id"]).as_json(),
                         "status_words": STATUS[d["status"]].as_json(),
                         "detail_words": detail_words(d["detail"]).as_json(),
                         "advice": _advice(d, d["id"] in latched),
                         "latched": d["id"] in latched}
                    for d in devices],
        "evacuation": evacuation,
        "checkin": checkin.as_json() if checkin is not None else None,
    }


def _advice(device: dict[str, Any], latched: bool) -> dict[str, str] | None:
    said = advice(device["kind"], device["status"])
    if said is None:
        return None
    if latched:
        said = Said(f"{said.zh}{LATCHED.zh}", f"{said.en} {LATCHED.en}")
    return said.as_json()


@router.get("/state", dependencies=[Viewer])
async def station_state(request: Request) -> dict[str, Any]:
    """The station's overall state for a duty officer (also pushed as ``state``)."""
    return state_body(request)


@router.get("/journal/recent", dependencies=[Viewer])
async def recent_journal(
    request: Request, limit: Annotated[int, Query(ge=1, le=10_000)] = RECENT_EVENTS
) -> dict[str, Any]:
    """The newest events, oldest first, each described (``say``: title, text, category,
    chatter, group) for the panel to fold; the stream goes on from ``last_seq``."""
    station = station_of(request)
    words = words_of(request)
    events = read_back(station.journal.path, limit)
    return {"events": [e | {"say": words.describe(e)} for e in events],
            "last_seq": events[-1]["seq"] if events else 0}


#: Days a station's journal can hold: outside them a date is a typo (or a fuzzer), answered
#: 422 rather than carried into time arithmetic and ISO strings made for four-digit years.
JOURNAL_YEARS = range(2000, 2200)


def _span(day: date | None, start: datetime | None, end: datetime | None,
          now: datetime) -> tuple[datetime, datetime]:
    asked = [d for d in (day, start, end) if d is not None]
    if any(d.year not in JOURNAL_YEARS for d in asked):
        raise HTTPException(422, f"a day between {JOURNAL_YEARS.start} and "
                                 f"{JOURNAL_YEARS.stop - 1}")
    if start is not None or end is not None:
        if start is None or end is None:
            raise HTTPException(422, "give both 'from' and 'to', or 'day'")
        start, end = (t if t.tzinfo else t.replace(tzinfo=UTC) for t in (start, end))
        if not timedelta(0) < end - start <= duty_log.MAX_SPAN:
            raise HTTPException(422, "a shift is longer than nothing and at most two days")
        return start, end
    return duty_log.duty_day_span(day or duty_log.duty_day_of(now))


@router.get("/duty-log", dependencies=[Viewer], response_model=None,
            responses={200: {"content": {"text/csv": {}}}})
async def duty_day(
    request: Request,
    day: Annotated[date | None, Query(description="duty day (08:00–08:00 Beijing); "
                                                  "default: the current one")] = None,
    start: Annotated[datetime | None, Query(alias="from", description="a chosen shift")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    category: Annotated[Category | Literal["all"], Query()] = "all",
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> dict[str, Any] | Response:
    """值班记录: one duty day (or shift) of the journal, chatter folded under its cause,
    handover notes in their place; ``format=csv`` (or ``Accept: text/csv``) downloads it."""
    station = station_of(request)
    words = words_of(request)
    begin, finish = _span(day, start, end, station.clock.now())
    events, truncated = read_span(station.journal.path, begin, finish, DAY_EVENTS)
    entries = duty_log.fold(events, words.describe)
    if category != "all":
        entries = [e for e in entries if e.said["category"] == category]
    if format == "csv" or "text/csv" in request.headers.get("accept", ""):
        local = duty_log.beijing(iso_utc(begin))[:10]
        name = quote(f"值班记录-{station.config.station.id}-{local}.csv")
        return Response(duty_log.csv_text(entries), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f"attachment; filename=\"duty-log-"
                                 f"{local}.csv\"; filename*=UTF-8''{name}"})
    return {"station": {"id": station.config.station.id, "name": station.config.station.name},
            "from": iso_utc(begin), "to": iso_utc(finish), "categories": list(CATEGORIES),
            "entries": [e.as_json() for e in entries], "truncated": truncated}


@router.post("/duty-log/notes", status_code=201)
async def handover_note(request: Request, body: HandoverNote,
                        principal: Annotated[Principal, Operator]) -> dict[str, Any]:
    """A handover note (交接班记录), kept in the journal like everything else."""
    station = station_of(request)
    seq = station.journal.record("duty.handover_note", "panel", principal.name, text=body.text)
    await on_disk(station, journal_seq=seq)  # 503 when the disk cannot take it
    return {"seq": seq, "actor": principal.name, "text": body.text}


@router.get("/faults", dependencies=[Viewer])
async def latched_faults(request: Request) -> dict[str, Any]:
    """Faults that stay until an operator clears them (a cut at maximum on-time)."""
    return {"faults": [f.as_json() for f in station_of(request).parts.faults.list()]}


@router.post("/faults/{device}/clear")
async def clear_fault(request: Request, device: str,
                      principal: Annotated[Principal, Operator]) -> dict[str, Any]:
    """Clear a latched fault once its cause is gone (409 says why not; 404: there is
    none, or someone cleared it already); journaled."""
    from edge.latched_faults import CannotClear

    station = station_of(request)
    if station.parts.faults.get(device) is None:  # never latched, or cleared already
        raise HTTPException(404, f"no latched fault on {device!r}")
    try:
        fault = station.parts.faults.clear(device, actor=principal.name)
    except CannotClear as exc:
        raise HTTPException(409, str(exc)) from None
    await on_disk(station, journal_seq=station.journal.last_recorded_seq,
                  state_ticket=station.parts.faults.last_ticket)
    return fault.as_json() | {"cleared_by": principal.name}


@router.get("/rain/{gauge_id}/gaps", dependencies=[Viewer])
async def rain_data_gaps(
    request: Request, gauge_id: str,
    start: Annotated[datetime, Query(alias="from")], end: Annotated[datetime, Query(alias="to")],
) -> dict[str, Any]:
    """When the gauge gave no data in ``[from, to)``: a chart leaves these spans empty."""
    station = station_of(request)
    rain = station.parts.rain
    if rain is None or gauge_id not in rain.gauges:
        raise HTTPException(404, f"no gauge {gauge_id!r}")
    start, end = (t if t.tzinfo else t.replace(tzinfo=UTC) for t in (start, end))
    if not timedelta(0) < end - start <= duty_log.MAX_SPAN:
        raise HTTPException(422, "a span longer than nothing and at most two days")
    kept, _ = read_span(station.journal.path, start, end, DAY_EVENTS, kinds=rain_gaps.GAP_KINDS)
    for event in kept:
        if event["kind"] == "station.started":
            event["previous_ts"] = ts_before(station.journal.path, event["seq"])
    gauge = rain.gauges[gauge_id]
    stale_since = None
    if not gauge.is_fresh(rain.stale_after_s(gauge_id)):
        stale_since = rain.last_reading(gauge_id) or station.health.get(gauge_id).since
    return {"gauge": gauge_id,
            "gaps": rain_gaps.gaps(kept, gauge_id, start, end, stale_since=stale_since)}
