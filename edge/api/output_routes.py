"""Outputs: their state for anyone, a timed wiring test for an installer (admin)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from edge.api.errors import ERRORS
from edge.api.security import Admin, Viewer
from edge.api.state import station_of
from edge.auth import Principal
from edge.durability import on_disk

router = APIRouter(prefix="/api/v1/outputs", tags=["outputs"], responses=ERRORS)


class OutputTest(BaseModel):
    """Switch one output ON for a few seconds to check the wiring (继电器测试)."""

    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(gt=0, le=60)


@router.get("", dependencies=[Viewer])
async def list_outputs(request: Request) -> dict[str, Any]:
    """Each output as confirmed: ``state`` on/off/unknown (a remote coil not read back is
    unknown, ``on`` null), what the station wants of it, and failed attempts in a row."""
    outputs = station_of(request).outputs
    return {"outputs": [
        {"id": o.id, "kind": o.kind, "state": o.state, "on": o.switch.state,
         "wanted": "on" if o.wanted else "off", "failed_attempts": o.failures,
         "max_on_s": o.max_on_s, "cut_count": o.cut_count}
        for o in outputs.all()
    ]}


@router.post("/{output_id}/test", status_code=202)
async def test_output(request: Request, output_id: str, body: OutputTest,
                      principal: Annotated[Principal, Admin]) -> dict[str, Any]:
    """Body ``{"seconds": N}`` (0 < N ≤ 60): ON now, OFF after N seconds; journaled with
    the token's name (``station-edge test output ID`` uses this while the daemon runs)."""
    station = station_of(request)
    if output_id not in station.outputs:
        raise HTTPException(404, f"no output {output_id!r}")
    actor = principal.name
    await station.outputs.set(output_id, True, actor=actor, reason="wiring test")
    seq = station.journal.record("output.test", output_id, actor, seconds=body.seconds)

    async def switch_off_later() -> None:
        await station.clock.sleep(body.seconds)
        await station.outputs.set(output_id, False, actor=actor, reason="wiring test over")

    task = asyncio.create_task(switch_off_later())
    request.app.state.background.add(task)
    task.add_done_callback(request.app.state.background.discard)
    await on_disk(station, journal_seq=seq)  # after the switch-off is set: a 503 leaves it OFF
    return {"output": output_id, "on_for_s": body.seconds}
