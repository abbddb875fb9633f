"""Health, metrics and the event journal: what the county polls."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from drivers.clock import iso_utc
from edge.api.errors import ERRORS
from edge.api.security import Viewer
from edge.api.state import station_of

router = APIRouter(responses=ERRORS)


@router.get("/api/v1/health", dependencies=[Viewer], tags=["county"])
async def health(request: Request) -> dict[str, Any]:
    """Station health for the county poll; always 200 while the daemon lives."""
    station = station_of(request)
    devices = station.health.devices()
    return {
        "station": {"id": station.config.station.id, "name": station.config.station.name},
        "status": station.health.status(),
        "time": iso_utc(station.clock.now()).replace(".000Z", "Z"),
        "uptime_s": round(station.uptime_s(), 1),
        "version": station.version,
        "devices": [d.as_json() for d in devices],
    }


@router.get("/metrics", dependencies=[Viewer], tags=["county"],
            response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def metrics(request: Request) -> Response:
    """Prometheus text exposition."""
    return Response(generate_latest(request.app.state.metrics_registry),
                    media_type=CONTENT_TYPE_LATEST)


@router.get("/api/v1/events", dependencies=[Viewer], tags=["county"])
async def events(
    request: Request,
    after: int = Query(0, ge=0, le=2**63 - 1,  # SQLite's largest integer
                       description="return events with seq greater than this"),
    limit: int = Query(100, ge=1, le=1000),
    kind: str | None = Query(None, max_length=64),
) -> dict[str, Any]:
    """The journal, oldest first."""
    journal = station_of(request).journal
    rows = journal.read(after=after, limit=limit, kind=kind)
    return {"events": rows, "last_seq": journal.committed_seq}
