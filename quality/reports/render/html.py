"""The report as one standalone HTML file: a Jinja2 template, the catalog's words in the
chosen language, and charts drawn by ECharts, whose script is embedded inline so the file
opens offline (the app serves the same file at /static/vendor/echarts.min.js).

Charts are drawn with animation off and the SVG renderer (crisp in print); once every
chart's `finished` event has fired the page sets `window.reportReady`, which printing
(`quality.reports.render.chromium`) waits for.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Final

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from quality.i18n import parse_language, text
from quality.reports.data import ReportData
from quality.reports.render import formatting

TEMPLATES: Final = Path(__file__).parent / "templates"

CHART_COLOURS: Final[dict[str, tuple[str, ...]]] = {
    # One palette per chart, found nowhere else on the page, so that a test can tell from
    # a printed page's pixels that each chart drew.
    "integrity": ("#0b6e4f", "#7fd1ae"),  # line, area
    "opened": ("#b03a2e", "#d68910", "#2874a6"),  # critical, major, minor
    "faults": ("#6c3483",),
}


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["percent"] = formatting.percent
    return env


def _charts(data: ReportData, lang: str) -> list[dict[str, Any]]:
    """The ECharts options of each chart, with a target line on the integrity trend."""
    labels = [point.label for point in data.trend]
    target = next((row.target for row in data.kpis if row.code == "integrity_pct"), None)
    line, area = CHART_COLOURS["integrity"]
    integrity: dict[str, Any] = {
        "animation": False,
        "grid": {"left": 56, "right": 24, "top": 36, "bottom": 32},
        "xAxis": {"type": "category", "data": labels},
        "yAxis": {
            "type": "value",
            "min": 0,
            "max": 100,
            "name": "%",
            "axisLabel": {"formatter": "{value} %"},
        },
        "series": [
            {
                "name": text("reports.kpi.integrity_pct", lang),
                "type": "line",
                "data": [
                    None if p.integrity_pct is None else round(p.integrity_pct, 2)
                    for p in data.trend
                ],
                "color": line,
                "lineStyle": {"width": 3, "color": line},
                "areaStyle": {"color": area, "opacity": 1},
                "symbolSize": 6,
                "connectNulls": False,
                "markLine": {
                    "symbol": "none",
                    "silent": True,
                    "lineStyle": {"color": "#555555", "type": "dashed"},
                    "label": {
                        "position": "insideEndTop",
                        "formatter": f"{text('reports.chart.target', lang)} {{c}} %",
                    },
                    "data": [] if target is None else [{"yAxis": target}],
                },
            }
        ],
    }
    opened: dict[str, Any] = {
        "animation": False,
        "grid": {"left": 48, "right": 24, "top": 40, "bottom": 32},
        "legend": {"top": 4},
        "xAxis": {"type": "category", "data": labels},
        "yAxis": {
            "type": "value",
            "minInterval": 1,
            "name": text("reports.unit.tickets", lang),
        },
        "series": [
            {
                "name": text(f"reports.severity.{severity}", lang),
                "type": "bar",
                "stack": "opened",
                "color": colour,
                "data": [p.opened[severity] for p in data.trend],
            }
            for severity, colour in zip(
                ("critical", "major", "minor"), CHART_COLOURS["opened"], strict=True
            )
        ],
    }
    faults_sorted = list(reversed(data.top_faults))
    faults: dict[str, Any] = {
        "animation": False,
        "grid": {"left": 160, "right": 32, "top": 16, "bottom": 32},
        "xAxis": {"type": "value", "minInterval": 1, "name": text("reports.unit.tickets", lang)},
        "yAxis": {
            "type": "category",
            "data": [formatting.fault_name(row.fault_type, lang) for row in faults_sorted],
        },
        "series": [
            {
                "name": text("reports.chart.faults", lang),
                "type": "bar",
                "color": CHART_COLOURS["faults"][0],
                "barMaxWidth": 28,
                "data": [row.tickets for row in faults_sorted],
            }
        ],
    }
    return [
        {
            "id": "chart-integrity",
            "title": text("reports.chart.integrity", lang),
            "option": integrity,
        },
        {"id": "chart-opened", "title": text("reports.chart.opened", lang), "option": opened},
        {"id": "chart-faults", "title": text("reports.chart.faults", lang), "option": faults},
    ]


def _script_json(value: object) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")


def render_html(
    data: ReportData,
    lang: str,
    *,
    echarts_js: str,
    generated_at: datetime,
    window_days: int = 14,
) -> str:
    """The standalone report page in `lang` (zh-CN or en)."""
    language = parse_language(lang)

    def t(key: str, **params: object) -> str:
        return text(f"reports.{key}", language, **params)

    zone = data.time_zone
    charts = _charts(data, language)
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            data=data,
            lang=language,
            t=t,
            title=t(f"title.{data.kind}"),
            scope=data.site if data.site is not None else t("portfolio"),
            moment=lambda value: formatting.moment(value, zone),
            day=lambda value: formatting.day(value, zone),
            figure=lambda code, value: formatting.figure(code, value, language),
            change=lambda code, value: formatting.signed_change(code, value, language),
            duration=lambda value: formatting.duration(value, language),
            fault=lambda code: formatting.fault_name(code, language),
            kind=lambda code: formatting.kind_name(code, language),
            summary=lambda labels: dict(labels).get(language, ""),
            generated=formatting.moment(generated_at, zone),
            charts=charts,
            charts_json=_script_json(charts),
            echarts_js=echarts_js,
            window_days=window_days,
        )
    )
