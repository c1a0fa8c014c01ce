"""Make a report: claim its row, read the stores, assemble the figures, render the HTML and
print the PDF, and keep both files under the data directory (`<data_dir>/reports/`).

    reporter = Reporter(engine, signals_for_store, data_dir, echarts_path)
    made = reporter.generate("weekly", "hq", "2026-W49", "zh-CN", trigger="cli", by="ops")
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, timedelta
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine

from contract.clock import Clock, SystemClock
from quality.i18n import parse_language
from quality.kpi.silence import SilenceSource
from quality.kpi.sources import LivenessSource
from quality.reports.assembly import assemble
from quality.reports.config import ReportSettings
from quality.reports.data import ReportData
from quality.reports.loading import load_report_inputs
from quality.reports.models import QualityReport
from quality.reports.periods import ReportPeriod, last_complete, parse_period
from quality.reports.render.chromium import print_pdf
from quality.reports.render.html import render_html
from quality.reports.store import ReportStore

log = logging.getLogger(__name__)


class Signals(LivenessSource, SilenceSource, Protocol):
    def close(self) -> None: ...


class NotBegun(ValueError):
    """The period asked for has not begun: there is nothing to report yet."""


@dataclass(frozen=True, slots=True)
class Made:
    report: QualityReport | None
    """None: another process has made (or is making) this report."""
    data: ReportData | None = None


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name)[:40] or "_"


class Reporter:
    def __init__(
        self,
        engine: Engine,
        signals: Callable[[], Signals],
        data_dir: Path,
        echarts_path: Path,
        settings: ReportSettings | None = None,
        *,
        clock: Clock | None = None,
        repeat_window: timedelta = timedelta(days=30),
    ) -> None:
        self.engine = engine
        self.signals = signals
        self.directory = data_dir / "reports"
        self.echarts_path = echarts_path
        self.settings = settings or ReportSettings()
        self.clock = clock or SystemClock()
        self.repeat_window = repeat_window
        self.store = ReportStore(engine)

    def period(self, kind: str, site: str | None, label: str | None) -> ReportPeriod:
        """The period named, or the last complete one in the site's zone."""
        zone = self.settings.zone(site)
        if label:
            return parse_period(kind, label, zone)
        return last_complete(kind, self.clock.now(), zone)

    def assemble(self, period: ReportPeriod, site: str | None) -> ReportData:
        now = self.clock.now().astimezone(UTC)
        if period.start >= now:
            raise NotBegun(period.label)
        signals = self.signals()
        try:
            inputs = load_report_inputs(
                self.engine,
                signals,
                signals,
                period,
                site,
                self.settings,
                as_of=now,
                repeat_window=self.repeat_window,
            )
        finally:
            signals.close()
        return assemble(period, site, inputs, self.settings)

    def generate(
        self,
        kind: str,
        site: str | None,
        label: str | None,
        language: str,
        *,
        trigger: str,
        by: str,
        again: bool = True,
        skip_empty: bool = False,
    ) -> Made:
        """Make (or, with `again`, make afresh) one report and record it; raises what
        assembling or printing raised, after recording the failure."""
        lang = parse_language(language)
        period = self.period(kind, site, label)
        if period.start >= self.clock.now():
            raise NotBegun(period.label)
        claim = self.store.claim(
            period, site, lang, trigger=trigger, by=by, now=self.clock.now(), again=again
        )
        if claim is None:
            return Made(None)
        try:
            data = self.assemble(period, site)
            if skip_empty and data.is_empty:
                self.store.skip(claim.id)
                return Made(self.store.get(claim.id), data)
            html_path, pdf_path = self._write(claim.id, period, site, lang, data)
        except Exception as exc:
            self.store.fail(claim.id, f"{type(exc).__name__}: {exc}")
            raise
        self.store.finish(claim.id, html_path, pdf_path)
        log.info(
            "report %s %s %s %s made: %s", kind, site or "portfolio", period.label, lang, pdf_path
        )
        return Made(self.store.get(claim.id), data)

    def _write(
        self, report_id: int, period: ReportPeriod, site: str | None, lang: str, data: ReportData
    ) -> tuple[Path, Path]:
        self.directory.mkdir(parents=True, exist_ok=True)
        stem = f"{report_id}-{period.kind}-{_safe(site or 'portfolio')}-{period.label}-{lang}"
        html_path = self.directory / f"{stem}.html"
        pdf_path = self.directory / f"{stem}.pdf"
        html = render_html(
            data,
            lang,
            echarts_js=self.echarts_path.read_text(encoding="utf-8"),
            generated_at=self.clock.now(),
            window_days=self.settings.pdca_window_days,
        )
        html_path.write_text(html, encoding="utf-8")
        pdf_path.write_bytes(print_pdf(html_path))
        return html_path, pdf_path
