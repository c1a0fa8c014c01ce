"""The quality department's KPIs (指标) per site, building and kind, computed on demand.

`GET /api/kpis` answers the same figures the KPI job writes to InfluxDB for Grafana, from
the same code and inputs (`quality.kpi.report`), over any period: the equipment integrity
rate (设备完好率) over the ledger's in-service equipment, and the loop's KPIs. A bad
parameter is a 422 naming it and the fix in English and Chinese.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final, NamedTuple

from fastapi import APIRouter, Query, Response

from api.deps import StoresDep, ViewerDep
from api.routing import AuthenticatedRoute
from api.schemas import (
    ContractorScorecard,
    KpiGroup,
    KpiLabelsPublic,
    KpiReportPublic,
    ListingProblem,
    ScorecardReport,
)
from quality.kpi.compute import GroupKey, GroupKpis
from quality.kpi.equipment import is_denominator
from quality.kpi.labels import (
    DENOMINATOR_LABELS,
    KPI_LABELS,
    SCOPE_LABELS,
    SCORECARD_LABELS,
    UNAVAILABLE,
    UNIT_LABELS,
)
from quality.kpi.planned_work import PlannedWork, planned_work
from quality.kpi.records import Period
from quality.kpi.report import kpi_report, load_inputs
from quality.kpi.scorecard import scorecards
from quality.kpi.sources import load_tickets, signals_for
from quality.ledger.models import KINDS

router = APIRouter(prefix="/api/kpis", tags=["kpis"], route_class=AuthenticatedRoute)

DEFAULT_SPAN: Final = timedelta(days=30)
MAX_SPAN: Final = timedelta(days=366)
"""A year and a day: longer periods would read years of telemetry in one request."""
EARLIEST: Final = datetime(1970, 1, 1, tzinfo=UTC)
REPEAT_WINDOW: Final = timedelta(days=30)
MAX_TEXT: Final = 64
_FIGURES: Final = (
    "integrity_pct",
    "timeliness_pct",
    "completion_pct",
    "response_time_s",
    "first_time_fix_pct",
    "mttr_s",
    "mtbf_s",
    "repeat_pct",
)


class BadParameter(Exception):
    def __init__(self, param: str, en: str, zh: str, allowed: tuple[str, ...] = ()) -> None:
        super().__init__(f"{param}: {en}")
        self.param, self.en, self.zh, self.allowed = param, en, zh, allowed

    def response(self) -> Response:
        entry = {
            "loc": ["query", self.param],
            "field": self.param,
            "allowed": list(self.allowed),
            "msg": f"{self.en} / {self.zh}",
            "en": self.en,
            "zh": self.zh,
            "type": "invalid_kpi_parameter",
        }
        body = json.dumps({"detail": [entry]}, separators=(",", ":"))  # ASCII: echoes input
        return Response(body.encode("ascii"), 422, media_type="application/json")


def _text(param: str, value: str | None) -> str | None:
    if value is None:
        return None
    if not value or len(value) > MAX_TEXT or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise BadParameter(
            param,
            f"must be 1 to {MAX_TEXT} characters without control characters",
            f"须为 1 至 {MAX_TEXT} 个字符，不含控制字符",
        )
    return value


def _moment(param: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment: datetime | None = datetime.fromisoformat(value.replace("z", "Z"))
        if moment is not None and moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):  # the offset may carry it past year 1 or 9999
        moment = None
    if moment is None or moment.tzinfo is None:
        raise BadParameter(
            param,
            "must be an RFC 3339 time with its offset, e.g. 2026-12-07T08:00:00Z",
            "须为带时区偏移的 RFC 3339 时间，例如 2026-12-07T08:00:00Z",
        )
    if moment < EARLIEST:
        raise BadParameter(param, "must be 1970 or later", "须不早于 1970 年")
    return moment


class _Query(NamedTuple):
    period: Period
    site: str | None
    building: str | None
    kind: str | None


def _parse(
    site: str | None,
    building: str | None,
    kind: str | None,
    start: str | None,
    end: str | None,
    now: datetime,
) -> _Query:
    if kind is not None and kind not in KINDS:
        allowed = ", ".join(KINDS)
        raise BadParameter(
            "kind",
            f"{kind!r} is not one of {allowed}",
            f"{kind!r} 不在可选值 {allowed} 之中",
            KINDS,
        )
    to = _moment("to", end) or now
    since = _moment("from", start) or max(EARLIEST, to - DEFAULT_SPAN)
    if not since < to:
        raise BadParameter("to", "must be after from", "须晚于 from")
    if not since < now:
        raise BadParameter("from", "must be in the past", "须早于当前时间")
    if min(to, now) - since > MAX_SPAN:
        raise BadParameter(
            "from",
            f"the period may span at most {MAX_SPAN.days} days: move from or to closer",
            f"统计期最长 {MAX_SPAN.days} 天：请缩短 from 与 to 之间的间隔",
        )
    return _Query(
        Period(since, min(to, now)), _text("site", site), _text("building", building), kind
    )


def _group(key: GroupKey, kpis: GroupKpis, work: PlannedWork | None) -> KpiGroup:
    planned = work or PlannedWork()
    return KpiGroup(
        scope=key.scope,
        site=key.site,
        building=key.building or None,
        kind=key.kind or None,
        devices=kpis.devices,
        never_reported=kpis.never_reported if kpis.denominator == "ledger" else None,
        **{name: getattr(kpis, name) for name in _FIGURES},
        maintenance_execution_pct=planned.maintenance_execution_pct,
        inspection_completion_pct=planned.inspection_completion_pct,
        parts=kpis.fields() | planned.fields(),
    )


PeriodStart = Annotated[
    str | None, Query(alias="from", description="RFC 3339 start (default: 30 days before `to`)")
]
PeriodEnd = Annotated[
    str | None, Query(alias="to", description="RFC 3339 end, exclusive (default: now)")
]
Site = Annotated[str | None, Query(description="site, exactly")]


@router.get(
    "",
    response_model=KpiReportPublic,
    responses={422: {"model": ListingProblem, "description": "a parameter is not valid"}},
)
def kpis(
    stores: StoresDep,
    who: ViewerDep,
    site: Site = None,
    building: Annotated[str | None, Query(description="building, exactly")] = None,
    kind: Annotated[str | None, Query(description=f"one of {', '.join(KINDS)}")] = None,
    start: PeriodStart = None,
    end: PeriodEnd = None,
) -> KpiReportPublic | Response:
    """The KPIs of [from, to) per site, building, kind and building × kind, as the KPI job
    groups them; `site`, `building` and `kind` narrow every group to what they name. A
    contractor's caller gets figures that count the tickets dispatched to its contractor
    only: other contractors' tickets and response times are not its to read."""
    try:
        query = _parse(site, building, kind, start, end, datetime.now(UTC))
    except BadParameter as error:
        return error.response()
    signals = signals_for(stores.series)
    try:
        inputs = load_inputs(
            stores.engine, signals, signals, query.period, repeat_window=REPEAT_WINDOW
        )
    finally:
        signals.close()
    narrowed = inputs.only(
        site=query.site, building=query.building, kind=query.kind, contractor=who.contractor
    )
    report = kpi_report(
        query.period,
        narrowed,
        full_ledger=is_denominator(inputs.ledger),
        repeat_window=REPEAT_WINDOW,
    )
    groups = dict(report.groups)
    planned = planned_work(
        stores.engine,
        query.period,
        sites={key.site for key in groups} | {device.site for device in narrowed.ledger},
        site=query.site,
        building=query.building,
        kind=query.kind,
    )
    for key in planned:
        groups.setdefault(key, GroupKpis(report.denominator))
    fields: dict[str, Any] = {
        "from": report.period.start,
        "to": report.period.end,
        "denominator": report.denominator,
        "denominator_label": DENOMINATOR_LABELS[report.denominator],
        "groups": [_group(key, groups[key], planned.get(key)) for key in sorted(groups)],
        "unavailable": UNAVAILABLE,
        "labels": KPI_LABELS,
    }
    return KpiReportPublic.model_validate(fields)


@router.get(
    "/contractors",
    response_model=ScorecardReport,
    responses={422: {"model": ListingProblem, "description": "a parameter is not valid"}},
)
def contractor_scorecards(
    stores: StoresDep,
    who: ViewerDep,
    site: Site = None,
    start: PeriodStart = None,
    end: PeriodEnd = None,
) -> ScorecardReport | Response:
    """Each contractor's (维保单位) scorecard over [from, to): response time, on-time
    rectification, first-time fix, repeats and cards of the tickets dispatched to it. A
    contractor's token sees its own card only."""
    try:
        query = _parse(site, None, None, start, end, datetime.now(UTC))
    except BadParameter as error:
        return error.response()
    tickets = load_tickets(
        stores.engine, query.period.start, query.period.end, repeat_window=REPEAT_WINDOW
    )
    if query.site is not None:
        tickets = [t for t in tickets if t.site == query.site]
    if who.contractor is not None:
        tickets = [t for t in tickets if t.contractor == who.contractor]
    cards = scorecards(query.period, tickets)
    rows = [
        ContractorScorecard(
            contractor=name,
            tickets=card.tickets,
            response_time_s=card.response_time_s,
            on_time_rectification_pct=card.on_time_rectification_pct,
            first_time_fix_pct=card.first_time_fix_pct,
            repeats=card.repeats,
            yellow_cards=card.yellow_cards,
            red_cards=card.red_cards,
        )
        for name, card in sorted(cards.items())
    ]
    return ScorecardReport.model_validate(
        {
            "from": query.period.start,
            "to": query.period.end,
            "contractors": rows,
            "labels": SCORECARD_LABELS,
        }
    )


@router.get("/labels", response_model=KpiLabelsPublic)
def labels(_who: ViewerDep) -> KpiLabelsPublic:
    """The KPIs' names in zh-CN and en, in the glossary's words."""
    return KpiLabelsPublic(
        kpis=KPI_LABELS, scopes=SCOPE_LABELS, denominators=DENOMINATOR_LABELS, units=UNIT_LABELS
    )
