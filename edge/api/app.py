"""Build the FastAPI application around a running station."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.middleware.trustedhost import TrustedHostMiddleware

from edge.api import (
    bringup_routes,
    broadcast_routes,
    cap_routes,
    checkin_routes,
    core_routes,
    duty_routes,
    output_routes,
    panel_routes,
    rain_routes,
    sim_routes,
)
from edge.api.body_limit import BodyLimit
from edge.api.denials import DenialLog
from edge.api.metrics import registry_for
from edge.api.security import Viewer
from edge.api.strict_json import StrictJson, validation_failed
from edge.api.throttle import AuthThrottle
from edge.journal_words import JournalWords
from edge.state_store import NotDurable

if TYPE_CHECKING:
    from edge.config import Config
    from edge.station import Station

LOOPBACK_NAMES = ["localhost", "127.0.0.1", "::1", "[::1]"]


def allowed_hosts(config: Config) -> list[str]:
    """Host headers the API answers (against DNS rebinding): configured, else the listen
    address; and always the loopback names. A rebinding attack makes a browser send the
    attacker's name, never ``localhost``, so loopback stays open to the station's own
    ``station-edge`` commands without weakening the guard."""
    if config.api.allowed_hosts is not None:
        configured = list(config.api.allowed_hosts)
    else:
        configured = [config.api.listen.rpartition(":")[0].strip("[]")]
    return configured + [name for name in LOOPBACK_NAMES if name not in configured]


def body_limits(config: Config) -> dict[str, Any]:
    by_prefix = {"/api/v1/messages": int(config.messages.max_upload_mb * 1_000_000)}
    if config.cap is not None:
        by_prefix["/api/v1/cap"] = config.cap.max_alert_kb * 1024
    return {"default": config.api.max_body_kb * 1024, "by_prefix": by_prefix}


async def not_durable(_request: Request, exc: Exception) -> JSONResponse:
    """A change that could not be made durable in time: 503 with the reason (the disk)."""
    return JSONResponse({"detail": str(exc)}, 503, headers={"Retry-After": "5"})


def create_app(station: Station) -> FastAPI:
    docs = station.config.api.docs
    app = FastAPI(
        title="StationEdge",
        version=station.version,
        description="应急站边缘控制器 — the API of a township emergency-management station.",
        docs_url=None,  # the Swagger UI loads its scripts from a CDN: useless offline
        redoc_url=None,
        openapi_url=None,  # served below, behind the viewer role, when [api] docs is on
    )
    app.state.station = station
    app.state.auth_throttle = AuthThrottle()
    app.state.denials = DenialLog()
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts(station.config))
    app.add_middleware(StrictJson)  # inside BodyLimit: it reads bodies already bounded
    app.add_middleware(BodyLimit, **body_limits(station.config))
    app.add_exception_handler(RequestValidationError, validation_failed)
    app.add_exception_handler(NotDurable, not_durable)
    app.state.metrics_registry = registry_for(station)
    background: set[asyncio.Task[Any]] = set()  # tasks a route started, kept until done
    app.state.background = background
    app.state.sessions = station.sessions
    app.state.journal_words = JournalWords(station.config)
    app.state.stream_sources = panel_routes.default_stream_sources(station)
    app.include_router(panel_routes.router)
    app.include_router(core_routes.router)
    app.include_router(output_routes.router)
    app.include_router(bringup_routes.router)
    if station.parts.broadcasting is not None:
        app.include_router(broadcast_routes.router)
    app.include_router(cap_routes.router)   # /alarms/{id}.cap before rain's /alarms/{id}
    app.include_router(rain_routes.router)
    app.include_router(checkin_routes.router)
    app.include_router(duty_routes.router)
    if station.parts.satphone is not None:
        from edge.api import satphone_routes

        app.include_router(satphone_routes.router)
    if station.parts.sip is not None:
        from edge.api import sip_routes

        app.include_router(sip_routes.router)
    if station.gpio.is_mock:
        app.include_router(sim_routes.router)
    for extra in getattr(station, "api_routers", []):
        app.include_router(extra)
    app.state.stream_sources.update(getattr(station, "stream_sources", {}))
    if docs:
        @app.get("/api/openapi.json", dependencies=[Viewer], include_in_schema=False)
        async def openapi_schema() -> dict[str, Any]:
            return app.openapi()

    return app
