"""Tables of inspection routes, rounds and answers.

A round keeps a copy of its route's stops as they were when it started, so editing a
route later never changes what a past round asked or how complete it was.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.sql import Base


class InspectionRoute(Base):
    __tablename__ = "inspection_routes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128))
    site: Mapped[str] = mapped_column(String(64), index=True)
    stops: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class InspectionRound(Base):
    __tablename__ = "inspection_rounds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    route_id: Mapped[int] = mapped_column(ForeignKey("inspection_routes.id"), index=True)
    route_name: Mapped[str] = mapped_column(String(128))
    site: Mapped[str] = mapped_column(String(64), index=True)
    stops: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # the route's, at the start
    inspector: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    stops_total: Mapped[int] = mapped_column(Integer)
    # Set when the round finishes: stops with at least one answer, and those with none.
    stops_answered: Mapped[int | None] = mapped_column(Integer, nullable=True)
    stops_skipped: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)


class InspectionAnswer(Base):
    __tablename__ = "inspection_answers"
    __table_args__ = (
        UniqueConstraint("round_id", "stop_index", "item_index", name="uq_inspection_answer"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("inspection_rounds.id"), index=True)
    stop_index: Mapped[int] = mapped_column(Integer)
    item_index: Mapped[int] = mapped_column(Integer)
    value: Mapped[str] = mapped_column(Text)
    number: Mapped[float | None] = mapped_column(Float, nullable=True)
    passed: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # on the phone
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # by the service
    answered_by: Mapped[str] = mapped_column(String(128))
    photo_ids: Mapped[list[str]] = mapped_column(JSON)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), nullable=True)
