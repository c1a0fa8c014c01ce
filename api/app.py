"""The HTTP API: devices, telemetry, tickets, equipment, dead letters, tokens, health, metrics,
and the ticket board page at `/`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from api.body_limit import BodyLimit, RouteCap
from api.routes import (
    admin,
    cards,
    dead_letters,
    detector_config,
    devices,
    equipment,
    evidence,
    health,
    heatmap,
    i18n,
    inspections,
    kpis,
    ledger,
    maintenance,
    manual_tickets,
    notifications,
    pdca,
    photos,
    reports,
    session,
    tickets,
    users,
)
from api.stores import Stores

STATIC = Path(__file__).parent / "static"
MAX_BODY_BYTES = 64 * 1024


class AsciiJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped, so any Python string can be sent,
    including an unpaired surrogate that UTF-8 cannot encode."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, allow_nan=False, separators=(",", ":")).encode("ascii")


def create_app(stores: Stores) -> FastAPI:
    app = FastAPI(
        title="facility-monitor",
        version="0.1.0",
        description=(
            "Telemetry-driven quality tickets for building equipment. Every endpoint except "
            "`/healthz`, `/metrics` and the board page needs `Authorization: Bearer <token>`."
        ),
    )
    app.state.stores = stores

    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    # outside BodyLimit: uploads get caps of their own
    app.add_middleware(
        RouteCap,
        pattern=photos.UPLOAD_PATHS,
        cap=lambda: photos.photo_limits(stores).upload_body_bytes(),
    )
    app.add_middleware(RouteCap, pattern=ledger.IMPORT_PATH, cap=lambda: ledger.IMPORT_MAX_BYTES)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        """FastAPI's own 422, but ASCII-escaped: it echoes the offending input, and an
        unpaired surrogate there (a legal JSON escape) made rendering it a 500."""
        return AsciiJSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)

    for router in (
        devices.router,
        detector_config.router,
        tickets.router,
        equipment.router,
        ledger.router,
        cards.router,
        kpis.router,
        heatmap.router,
        evidence.router,
        dead_letters.router,
        admin.router,
        health.router,
        i18n.router,
        manual_tickets.router,
        photos.router,
        inspections.router,
        maintenance.router,
        notifications.router,
        reports.router,
        pdca.router,
        session.router,
        users.router,
    ):
        app.include_router(router)

    # The pages' scripts, styles and vendored libraries (ECharts): nothing from a CDN.
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        """Browsers ask for it whatever a page links: the pages' own icon, not a 404."""
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    @app.get("/", include_in_schema=False)
    def board() -> FileResponse:
        return FileResponse(STATIC / "board.html", media_type="text/html")

    @app.get("/kpis", include_in_schema=False)
    def kpi_page() -> FileResponse:
        """The KPI page: integrity against target, the loop's KPIs, the heat map, cards."""
        return FileResponse(STATIC / "kpis.html", media_type="text/html")

    @app.get("/reports", include_in_schema=False)
    def reports_page() -> FileResponse:
        """The quality reports (周报, 月报): listed, downloaded and made on demand."""
        return FileResponse(STATIC / "reports.html", media_type="text/html")

    return app
