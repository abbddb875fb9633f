"""Bring-up probes through the running daemon (admin): the ``station-edge modbus`` and
``modem`` commands use these while the daemon holds the serial ports.

A Modbus read goes through the daemon's own bus (one request in flight per line, so it
never garbles a gauge's poll); an AT command through the daemon's own AT channel (one
command in flight, URCs still go to the modem). Both are admin-only: a scan occupies a
line, and a raw AT command can switch the terminal's radio off.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from edge.api.errors import DETAIL, ERRORS
from edge.api.security import Admin
from edge.api.state import station_of
from edge.modbus_probe import probe

RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERRORS, 503: {"description": "the device cannot be reached now", **DETAIL}}
router = APIRouter(prefix="/api/v1", tags=["bring-up"], responses=RESPONSES)

#: Commands that switch the terminal into text entry: an SMS goes through the SMS routes.
TEXT_ENTRY = ("AT+CMGS", "AT+CMGW", "AT+CMGC")


class ModbusRead(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit: int = Field(ge=1, le=247)
    function: Literal["holding", "input", "coils", "discrete"] = "holding"
    address: int = Field(0, ge=0, le=65535, alias="register")
    count: int = Field(1, ge=1, le=125)


class AtQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    command: str = Field(pattern=r"^[Aa][Tt][ -~]{0,120}$")
    timeout_s: float = Field(20.0, gt=0, le=60)


@router.post("/modbus/{bus}/read", dependencies=[Admin])
async def modbus_read(request: Request, bus: str, body: ModbusRead) -> dict[str, Any]:
    """One read on the daemon's line: raw values, round trip, or the error by kind."""
    station = station_of(request)
    line = station.parts.buses.get(bus)
    if line is None:
        raise HTTPException(404, f"no Modbus line {bus!r}; lines: {sorted(station.parts.buses)}")
    result = await probe(line, body.unit, body.function, body.address, body.count)
    station.journal.record("bringup.modbus_read", bus, "api", unit=body.unit,
                           function=body.function, register=body.address, count=body.count,
                           error_kind=result.error_kind)
    return result.as_json()


@router.post("/satphone/at", dependencies=[Admin])
async def satphone_at(request: Request, body: AtQuestion) -> dict[str, Any]:
    """Ask the satellite terminal one AT command through the daemon's channel."""
    from sat_phone.at_channel import AtCommandError, AtTimeout, AtUnavailable

    station = station_of(request)
    phone = station.parts.satphone
    if phone is None:
        raise HTTPException(404, "this station has no [sat_phone]")
    if body.command.upper().startswith(TEXT_ENTRY):
        raise HTTPException(422, "SMS text entry is not a bring-up question: "
                                 "use POST /api/v1/satphone/sms")
    station.journal.record("bringup.at_command", "sat_phone", "api", command=body.command)
    try:
        response = await phone.channel.command(body.command, capture_all=True,
                                               timeout_s=body.timeout_s)
    except AtCommandError as exc:
        return {"command": body.command, "lines": [], "final": exc.final.line, "ok": False}
    except (AtTimeout, AtUnavailable) as exc:
        raise HTTPException(503, str(exc)) from None
    return {"command": body.command, "lines": [line.text for line in response.lines],
            "final": response.final.line, "ok": True}
