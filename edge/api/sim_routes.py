"""Simulated GPIO (mock backend only): read every pin, drive an input as a finger would."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from edge.api.errors import ERRORS
from edge.api.security import Operator
from edge.api.state import station_of

router = APIRouter(prefix="/api/v1/sim", tags=["simulation"], responses=ERRORS)


class PinLevel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level: int = Field(ge=0, le=1)


@router.get("/gpio", dependencies=[Operator])
async def read_pins(request: Request) -> dict[str, Any]:
    return {"pins": station_of(request).gpio.mock_pins()}


@router.post("/gpio/{pin}", dependencies=[Operator])
async def drive_pin(request: Request, pin: int, body: PinLevel) -> dict[str, Any]:
    station = station_of(request)
    try:
        station.gpio.drive_mock_input(pin, body.level)
    except KeyError:
        raise HTTPException(404, f"pin {pin} is not a configured input") from None
    return {"pin": pin, "level": body.level}
