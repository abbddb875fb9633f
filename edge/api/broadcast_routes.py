"""Broadcasts and the message library over HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from broadcast.amplifier import UnknownZone
from broadcast.library import UploadRejected
from broadcast.priority import Priority
from broadcast.program import MessageContent, Program, SirenContent, TextContent, UnknownContent
from broadcast.record import Broadcast
from drivers.clock import iso_utc
from edge.api.errors import ERRORS
from edge.api.security import Admin, Operator, Viewer
from edge.api.state import broadcasting_of, station_of
from edge.auth import Principal
from edge.durability import on_disk
from edge.evacuation import EvacuationActive, IfActive, evacuate_once
from edge.idempotency import Answer

if TYPE_CHECKING:
    from edge.broadcasting import Broadcasting

router = APIRouter(prefix="/api/v1", tags=["broadcast"], responses=ERRORS)

#: Priorities a caller may ask for through the API (live voice is the call-in's alone).
API_PRIORITIES = {
    "routine": Priority.ROUTINE,
    "rain_message": Priority.RAIN_MESSAGE,
    "alarm_siren": Priority.ALARM_SIREN,
    "evacuation": Priority.EVACUATION,
}
REPLAYED = {"Idempotent-Replayed": "true"}
MAX_UPLOAD_BYTES = 200_000_000


class BroadcastRequest(BaseModel):
    """Exactly one of ``message``, ``siren``, ``text``."""

    model_config = ConfigDict(extra="forbid")
    message: str | None = Field(None, max_length=32)
    siren: str | None = Field(None, max_length=32)
    text: str | None = Field(None, min_length=1, max_length=300)
    zones: list[str] = Field(default_factory=lambda: ["all"], min_length=1, max_length=32)
    repeat: int = Field(1, ge=1, le=100)
    gap_s: float = Field(3.0, ge=0, le=60)
    priority: Literal["routine", "rain_message", "alarm_siren", "evacuation"] = "routine"
    type: Literal["drill", "emergency", "routine"] = "routine"
    level: Literal["I", "II", "III", "IV"] | None = None
    if_active: IfActive = Field(
        "refuse", description="For priority 'evacuation' only: what to do when an evacuation "
        "order is already on air or waiting. 'refuse' (default): nothing starts, 409 with "
        "the active broadcast under 'active'; 'restart': stop it and start this one from its "
        "first play; 'queue': play this one after it.")

    @model_validator(mode="after")
    def one_content(self) -> BroadcastRequest:
        given = [k for k in ("message", "siren", "text") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of message, siren, text")
        if self.level is not None and self.type != "emergency":
            raise ValueError("a level (I–IV) is for emergency broadcasts only")
        return self

    def program(self) -> Program:
        if self.message is not None:
            content: Any = MessageContent(self.message)
        elif self.siren is not None:
            content = SirenContent(self.siren)
        else:
            content = TextContent(self.text or "")
        return Program(content, repeat=self.repeat, gap_s=self.gap_s)


def _broadcasting(request: Request) -> Broadcasting:
    return broadcasting_of(request)


@router.post("/broadcasts", status_code=202, response_model=None, responses={
    409: {"description": "an evacuation order is already active (see ``if_active``)"}})
async def start_broadcast(
    request: Request,
    body: BroadcastRequest,
    principal: Annotated[Principal, Operator],
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> dict[str, Any] | JSONResponse:
    """Start a broadcast; 202 with its id. A retried request with the same
    ``Idempotency-Key`` (within 24 h, across restarts) gets the first answer, status and
    body, with the header ``Idempotent-Replayed: true``, instead of a second broadcast.
    One evacuation order at a time: see ``if_active`` (a refusal is not remembered under
    the key: nothing was started, a retry is judged again)."""
    station = station_of(request)
    book = station.idempotency
    if idempotency_key is not None:
        replay = await book.claim(principal.name, idempotency_key)
        if replay is not None:
            return JSONResponse(replay.body, replay.status, headers=REPLAYED)
    service = _broadcasting(request).service

    async def start() -> Broadcast:
        return await service.submit(
            body.program(), zones=body.zones, priority=API_PRIORITIES[body.priority],
            type=body.type, level=body.level, source="api", actor=principal.name,
        )

    try:
        if body.priority == "evacuation":
            service.check(body.program(), body.zones)
            broadcast, _ = await evacuate_once(service, start, if_active=body.if_active,
                                               actor=principal.name)
        else:
            broadcast = await start()
        answer = broadcast.as_json(iso_utc)
        ticket = None
        if idempotency_key is not None:
            ticket = book.remember(principal.name, idempotency_key, Answer(202, answer))
    except (UnknownZone, UnknownContent) as exc:
        raise HTTPException(422, str(exc)) from None
    except EvacuationActive as busy:
        return JSONResponse(
            {"detail": "an evacuation order is already active: restart it "
                       "(\"if_active\": \"restart\") or queue behind it (\"queue\")",
             "active": busy.active.as_json(iso_utc)}, status_code=409)
    finally:
        if idempotency_key is not None:
            book.release(principal.name, idempotency_key)
    seq = station.journal.record("broadcast.accepted", broadcast.id, principal.name,
                                 idempotency_key=idempotency_key)
    await on_disk(station, journal_seq=seq, state_ticket=ticket)
    return answer


@router.get("/broadcasts", dependencies=[Viewer])
async def list_broadcasts(
    request: Request, active: bool = Query(False)
) -> dict[str, Any]:
    service = _broadcasting(request).service
    return {"broadcasts": [b.as_json(iso_utc) for b in service.list(active=active)]}


@router.get("/broadcasts/{broadcast_id}", dependencies=[Viewer])
async def get_broadcast(request: Request, broadcast_id: str) -> dict[str, Any]:
    try:
        return _broadcasting(request).service.get(broadcast_id).as_json(iso_utc)
    except KeyError:
        raise HTTPException(404, f"no broadcast {broadcast_id!r}") from None


@router.delete("/broadcasts/{broadcast_id}")
async def stop_broadcast(
    request: Request, broadcast_id: str, principal: Annotated[Principal, Operator]
) -> dict[str, Any]:
    service = _broadcasting(request).service
    try:
        broadcast = await service.cancel(broadcast_id, actor=principal.name)
    except KeyError:
        raise HTTPException(404, f"no broadcast {broadcast_id!r}") from None
    return broadcast.as_json(iso_utc)


@router.get("/messages", dependencies=[Viewer])
async def list_messages(request: Request) -> dict[str, Any]:
    library = _broadcasting(request).library
    return {"messages": [m.__dict__ for m in library.list()]}


@router.post("/messages", status_code=201)
async def upload_message(
    request: Request,
    principal: Annotated[Principal, Admin],
    id: str = Query(..., pattern=r"^[a-z][a-z0-9_-]{0,31}$", description="message id"),
) -> dict[str, Any]:
    """Replace a message by a recording: the body is a PCM WAV file (``audio/wav``)."""
    length = int(request.headers.get("content-length") or 0)
    if length > MAX_UPLOAD_BYTES:
        raise HTTPException(413, f"upload larger than {MAX_UPLOAD_BYTES} bytes")
    data = await request.body()
    library = _broadcasting(request).library
    try:
        info = await library.upload(id, data)
    except UploadRejected as exc:
        raise HTTPException(422, str(exc)) from None
    station = station_of(request)
    await on_disk(station, journal_seq=station.journal.record(
        "message.uploaded", id, principal.name, bytes=len(data), duration_s=info.duration_s))
    return info.__dict__
