"""Spot checks over HTTP: the county starts one, the duty officer answers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request

from edge.api.errors import ERRORS
from edge.api.security import Operator, Viewer
from edge.api.state import station_of
from edge.auth import Principal
from edge.durability import on_disk

router = APIRouter(prefix="/api/v1/checkins", tags=["spot checks"], responses=ERRORS)


@router.post("", status_code=201)
async def start_checkin(request: Request, principal: Annotated[Principal, Viewer]) -> Any:
    """Start a spot check (the county's viewer token may do this); a check already
    waiting is returned instead of starting a second."""
    station = station_of(request)
    check = station.parts.checkins.start(requested_by=principal.name)
    await on_disk(station, journal_seq=station.journal.last_recorded_seq,
                  state_ticket=station.state.last_ticket)
    return check.as_json()


@router.get("", dependencies=[Viewer])
async def list_checkins(request: Request) -> dict[str, Any]:
    return {"checkins": [c.as_json() for c in station_of(request).parts.checkins.list()]}


@router.post("/answer")
async def answer_checkin(request: Request, principal: Annotated[Principal, Operator]) -> Any:
    """The duty officer answers the waiting check from the web panel."""
    station = station_of(request)
    check = station.parts.checkins.answer(actor=principal.name)
    if check is None:
        raise HTTPException(409, "no spot check is waiting")
    await on_disk(station, journal_seq=station.journal.last_recorded_seq,
                  state_ticket=station.state.last_ticket)
    return check.as_json()
