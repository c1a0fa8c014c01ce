"""The report tables: the quality reports made (周报, 月报) and the PDCA actions the quality
team records, whose effect on a KPI the reports show.

A report is unique per (kind, site, period, language): two schedulers due at the same
moment insert the same key and only one wins, so a period's report is made once. `site`
is "" for the whole portfolio.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.sql import Base

PORTFOLIO = ""
"""The `site` of a report over every site."""


class QualityReport(Base):
    __tablename__ = "quality_reports"
    __table_args__ = (
        UniqueConstraint("kind", "site", "period", "language", name="uq_quality_report_period"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(8))  # weekly | monthly
    site: Mapped[str] = mapped_column(String(64))  # "" = the whole portfolio
    period: Mapped[str] = mapped_column(String(16))  # 2026-W49 | 2026-11
    language: Mapped[str] = mapped_column(String(8))
    time_zone: Mapped[str] = mapped_column(String(64))
    period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    period_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(8))  # pending | ready | failed
    trigger: Mapped[str] = mapped_column(String(16))  # schedule | on_demand | cli
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    html_path: Mapped[str | None] = mapped_column(String(512), nullable=True)
    html_bytes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pdf_path: Mapped[str | None] = mapped_column(String(512), nullable=True)
    pdf_bytes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class PdcaAction(Base):
    """One improvement cycle (PDCA, 计划-执行-检查-处理) aimed at one KPI."""

    __tablename__ = "pdca_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(200))
    site: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    target_kpi: Mapped[str] = mapped_column(String(32))
    plan: Mapped[str] = mapped_column(Text, default="")
    do: Mapped[str] = mapped_column(Text, default="")
    check: Mapped[str] = mapped_column(Text, default="")
    act: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # planned | doing | checking | done
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
