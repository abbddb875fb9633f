"""Build the FastAPI application around a running station."""

from __future__ import annotations

import asyncio
from importlib import resources
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from edge.api import (
    broadcast_routes,
    cap_routes,
    checkin_routes,
    core_routes,
    output_routes,
    rain_routes,
    sim_routes,
)
from edge.api.metrics import registry_for


def create_app(station: Any) -> FastAPI:
    docs = station.config.api.docs
    app = FastAPI(
        title="StationEdge",
        version=station.version,
        description="应急站边缘控制器 — the API of a township emergency-management station.",
        docs_url="/api/docs" if docs else None,
        redoc_url=None,
        openapi_url="/api/openapi.json" if docs else None,
    )
    app.state.station = station
    app.state.metrics_registry = registry_for(station)
    app.state.background: set[asyncio.Task[Any]] = set()
    app.include_router(core_routes.router)
    app.include_router(output_routes.router)
    app.state.idempotency = {}
    if "broadcasting" in station.parts:
        app.include_router(broadcast_routes.router)
    app.include_router(rain_routes.router)
    app.include_router(cap_routes.router)
    app.include_router(checkin_routes.router)
    if "satphone" in station.parts:
        from edge.api import satphone_routes

        app.include_router(satphone_routes.router)
    if station.gpio.is_mock:
        app.include_router(sim_routes.router)
    for extra in getattr(station, "api_routers", []):
        app.include_router(extra)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def panel_shell() -> str:
        return resources.files("edge.panel").joinpath("index.html").read_text(encoding="utf-8")

    return app
