"""The satellite phone over HTTP: its state and outbox, SMS, calls.

The satellite stack (AT channel, calls, DTMF, their numpy) is imported by a station that
has a ``[sat_phone]``, when it builds the phone; these routes only name it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from edge.api.errors import ERRORS
from edge.api.security import Operator, Viewer
from edge.api.state import station_of
from edge.auth import Principal
from edge.durability import on_disk

if TYPE_CHECKING:
    from edge.satphone.phone import SatPhone

router = APIRouter(prefix="/api/v1", tags=["satellite phone"], responses=ERRORS)

NUMBER = r"^\+?[0-9]{3,20}$"


class SmsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str = Field(pattern=NUMBER)
    text: str = Field(min_length=1, max_length=670)  # 10 UCS2 parts


class CallRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str = Field(pattern=NUMBER)


def _phone(request: Request) -> SatPhone:
    phone = station_of(request).parts.satphone
    if phone is None:
        raise HTTPException(404, "this station has no satellite phone")
    return phone


async def _durable(request: Request) -> None:
    station = station_of(request)
    await on_disk(station, journal_seq=station.journal.last_recorded_seq)


@router.get("/satphone", dependencies=[Viewer])
async def satphone(request: Request) -> dict[str, Any]:
    """State, signal, registration, last error, the outbox (newest first) and the call."""
    return _phone(request).state_json()


@router.post("/satphone/sms", status_code=202)
async def send_sms(
    request: Request, body: SmsRequest, principal: Annotated[Principal, Operator]
) -> dict[str, Any]:
    """Queue an SMS in the persistent outbox; 202 with its outbox entry."""
    phone = _phone(request)
    try:
        message_id = phone.send(body.to, body.text, tag="api", actor=principal.name)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    await _durable(request)
    from edge.satphone.phone import outgoing_json

    return outgoing_json(phone.outbox.get(message_id))


@router.get("/satphone/messages", dependencies=[Viewer])
async def messages(request: Request) -> dict[str, Any]:
    """Messages received (oldest first, since start; the journal keeps them all) and sent."""
    phone = _phone(request)
    from edge.satphone.phone import outgoing_json

    return {"received": list(phone.received),
            "sent": [outgoing_json(m) for m in phone.outbox.messages(limit=100)]}


@router.post("/satphone/call", status_code=202)
async def place_call(
    request: Request, body: CallRequest, principal: Annotated[Principal, Operator]
) -> dict[str, Any]:
    phone = _phone(request)
    from edge.satphone.calls import CallInError

    try:
        call = await phone.calls.place(body.to, actor=principal.name)
    except CallInError as exc:
        raise HTTPException(409, str(exc)) from None
    return call.as_json()


@router.delete("/satphone/call")
async def hang_up(request: Request, principal: Annotated[Principal, Operator]) -> dict[str, Any]:
    phone = _phone(request)
    from edge.satphone.calls import CallInError

    try:
        call = await phone.calls.hang_up(actor=principal.name)
    except CallInError as exc:
        raise HTTPException(409, str(exc)) from None
    return call.as_json()
