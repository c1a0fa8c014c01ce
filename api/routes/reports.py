"""Quality reports (周报, 月报): made on demand or on schedule, stored, listed, downloaded.

- `POST /api/reports` {kind, site?, period?, language?} makes a report now (quality role):
  `site` empty or absent for the whole portfolio, `period` `2026-W49` / `2026-11` or absent
  for the last complete one; asking again for the same report makes it afresh.
- `GET /api/reports` lists them, newest first (viewer role).
- `GET /api/reports/{id}.pdf` and `/{id}.html` serve the files; the HTML is standalone
  (ECharts inline), so a saved copy opens offline.

A refused request answers with `field` and the fix in `en` and `zh`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from api.deps import MAX_ID, QualityDep, StoresDep, ViewerDep
from api.routing import AuthenticatedRoute
from api.stores import Stores
from quality.accounts import Principal
from quality.i18n import Language, texts
from quality.kpi.sources import signals_for
from quality.reports.config import ReportSettings
from quality.reports.generator import NotBegun, Reporter
from quality.reports.models import PORTFOLIO, QualityReport
from quality.reports.periods import BadPeriod
from quality.reports.store import ReportStore

ECHARTS = Path(__file__).resolve().parents[1] / "static" / "vendor" / "echarts.min.js"
REPEAT_WINDOW = timedelta(days=30)

router = APIRouter(prefix="/api/reports", tags=["reports"], route_class=AuthenticatedRoute)


def refusal(status: int, field: str | None, messages: Mapping[Language, str]) -> Response:
    """ASCII-escaped JSON with the field and the fix in both languages."""
    body = {
        "detail": f"{messages['en']} / {messages['zh-CN']}",
        "field": field,
        "en": messages["en"],
        "zh": messages["zh-CN"],
    }
    return Response(
        json.dumps(body, separators=(",", ":")).encode("ascii"),
        status,
        media_type="application/json",
    )


def reporter(request: Request, stores: Stores) -> Reporter:
    """One reporter per app, from the service's settings (`FACMON_REPORT_*` for targets)."""
    made: Reporter | None = getattr(request.app.state, "reporter", None)
    if made is None:
        data_dir = Path(getattr(stores.settings, "data_dir", ".data"))
        made = Reporter(
            stores.engine,
            lambda: signals_for(stores.series),
            data_dir,
            ECHARTS,
            ReportSettings(),
            clock=stores.tickets.clock,
            repeat_window=REPEAT_WINDOW,
        )
        request.app.state.reporter = made
    return made


class ReportAsk(BaseModel):
    kind: str = Field(description="weekly (周报) or monthly (月报)")
    site: str | None = Field(None, description="a site; empty or absent: the whole portfolio")
    period: str | None = Field(None, description="2026-W49 or 2026-11; absent: the last complete")
    language: str = Field("zh-CN", description="zh-CN or en")


class ReportPublic(BaseModel):
    id: int
    kind: str
    site: str | None
    period: str
    language: str
    time_zone: str
    period_start: datetime
    period_end: datetime
    status: str
    trigger: str
    created_by: str
    created_at: datetime
    html_bytes: int | None
    pdf_bytes: int | None
    html_url: str | None
    pdf_url: str | None
    error: str | None


class ReportRefusal(BaseModel):
    """An error in both languages: `detail` holds both and `field` names what to fix; for
    a malformed body or parameter, `detail` lists each problem (FastAPI's own answer)."""

    detail: str | list[dict[str, Any]]
    field: str | None = None
    en: str | None = None
    zh: str | None = None


def public(row: QualityReport) -> ReportPublic:
    ready = row.status == "ready"
    return ReportPublic(
        id=row.id,
        kind=row.kind,
        site=None if row.site == PORTFOLIO else row.site,
        period=row.period,
        language=row.language,
        time_zone=row.time_zone,
        period_start=row.period_start,
        period_end=row.period_end,
        status=row.status,
        trigger=row.trigger,
        created_by=row.created_by,
        created_at=row.created_at,
        html_bytes=row.html_bytes,
        pdf_bytes=row.pdf_bytes,
        html_url=f"/api/reports/{row.id}.html" if ready else None,
        pdf_url=f"/api/reports/{row.id}.pdf" if ready else None,
        error=row.error,
    )


def _site(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if len(value) > 64 or any(
        ord(c) < 32 or ord(c) == 127 or 0xD800 <= ord(c) < 0xE000 for c in value
    ):
        raise ValueError
    return value


def contractor_refusal(who: Principal) -> Response | None:
    """A contractor's token sees its own tickets and scorecard, not the quality team's
    reports (they name every contractor)."""
    if who.contractor is None:
        return None
    return refusal(403, None, texts("reports.error.contractor"))


ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": ReportRefusal},
    500: {"model": ReportRefusal},
}


@router.post("", status_code=201, response_model=ReportPublic, responses=ERRORS)
def make_report(
    ask: ReportAsk, request: Request, stores: StoresDep, who: QualityDep
) -> ReportPublic | Response:
    """Make a report now: figures, HTML and PDF (a few seconds: Chromium prints it)."""
    if ask.kind not in ("weekly", "monthly"):
        return refusal(422, "kind", texts("reports.error.kind"))
    if ask.language not in ("zh-CN", "en"):
        return refusal(422, "language", texts("reports.error.language"))
    try:
        site = _site(ask.site)
    except ValueError:
        return refusal(422, "site", texts("reports.error.site"))
    maker = reporter(request, stores)
    try:
        made = maker.generate(
            ask.kind, site, ask.period, ask.language, trigger="on_demand", by=who.name
        )
    except BadPeriod:
        return refusal(422, "period", texts("reports.error.period", value=repr(ask.period)))
    except NotBegun:
        return refusal(422, "period", texts("reports.error.not_begun", value=repr(ask.period)))
    except Exception as exc:  # recorded as failed in the list; said here in both languages
        return refusal(500, None, texts("reports.error.render", message=str(exc)[:300]))
    assert made.report is not None
    return public(made.report)


@router.get("", response_model=list[ReportPublic], responses={403: {"model": ReportRefusal}})
def list_reports(
    stores: StoresDep,
    who: ViewerDep,
    site: Annotated[
        str | None, Query(max_length=64, description="a site; empty: portfolio")
    ] = None,
    kind: Annotated[Literal["weekly", "monthly"] | None, Query()] = None,
) -> list[ReportPublic] | Response:
    """Reports made, newest first (the 200 newest)."""
    refused = contractor_refusal(who)
    if refused is not None:
        return refused
    return [public(row) for row in ReportStore(stores.engine).list(site=site, kind=kind)]


ReportId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="report id")]


def _file(stores: Stores, who: Principal, report_id: int, fmt: str, media_type: str) -> Response:
    refused = contractor_refusal(who)
    if refused is not None:
        return refused
    row = ReportStore(stores.engine).get(report_id)
    if row is None:
        return refusal(404, "id", texts("reports.error.not_found", id=report_id))
    path = row.pdf_path if fmt == "pdf" else row.html_path
    if row.status != "ready" or not path or not Path(path).is_file():
        return refusal(
            404, "id", texts("reports.error.no_file", id=report_id, format=fmt, status=row.status)
        )
    scope = row.site or "portfolio"
    name = f"facmon-{row.kind}-{scope}-{row.period}-{row.language}.{fmt}"
    return FileResponse(path, media_type=media_type, filename=name)


@router.get(
    "/{report_id}.pdf",
    response_class=FileResponse,
    responses={403: {"model": ReportRefusal}, 404: {"model": ReportRefusal}},
)
def report_pdf(report_id: ReportId, stores: StoresDep, who: ViewerDep) -> Response:
    return _file(stores, who, report_id, "pdf", "application/pdf")


@router.get(
    "/{report_id}.html",
    response_class=FileResponse,
    responses={403: {"model": ReportRefusal}, 404: {"model": ReportRefusal}},
)
def report_html(report_id: ReportId, stores: StoresDep, who: ViewerDep) -> Response:
    return _file(stores, who, report_id, "html", "text/html; charset=utf-8")
