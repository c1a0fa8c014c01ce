"""The HTTP API: devices, telemetry, tickets, dead letters, health and metrics."""

from __future__ import annotations

from fastapi import FastAPI

from api.routes import dead_letters, devices, health, tickets
from facmon.service import Stores


def create_app(stores: Stores) -> FastAPI:
    app = FastAPI(
        title="facility-monitor",
        version="0.1.0",
        description="Telemetry-driven quality tickets for building equipment.",
    )
    app.state.stores = stores
    for router in (devices.router, tickets.router, dead_letters.router, health.router):
        app.include_router(router)
    return app
