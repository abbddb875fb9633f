"""Voice over SIP over HTTP: the phone's state, its calls and every alarm's 叫醒."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from edge.api.errors import ERRORS
from edge.api.security import Viewer
from edge.api.state import station_of

router = APIRouter(prefix="/api/v1", tags=["voice over SIP"], responses=ERRORS)


@router.get("/sip", dependencies=[Viewer])
async def sip(request: Request) -> dict[str, Any]:
    """Available or why not, registration, calls by direction and outcome, the 叫醒
    wake-ups (also on each alarm as ``wakeup``), the call-in and the desk phone."""
    phone = station_of(request).parts.sip
    assert phone is not None  # the route exists only with a [sip] section
    return phone.state_json()
