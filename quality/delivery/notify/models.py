"""Notification channels and routing rules, as stored.

A channel is where messages go (a WeCom, DingTalk or Feishu group robot, e-mail over the
service's SMTP relay, or a signed webhook) with its rate limit and quiet hours; a rule says
which ticket events go to which channels and people. Both are edited through
`/api/notifications`; the messages themselves are outbox rows (`quality.delivery.notify.router`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.sql import Base


class NotificationChannel(Base):
    __tablename__ = "notification_channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(16))
    # Type-specific: url, secret, msgtype ... (secrets are never shown back by the API).
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    rate_per_minute: Mapped[float] = mapped_column(Float)
    burst: Mapped[int] = mapped_column(Integer)
    quiet_hours: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class NotificationRule(Base):
    __tablename__ = "notification_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # {"sites": [...], "buildings": [...], "kinds": [...], "severities": [...],
    #  "events": [...], "contractors": [...], "stages": [...]}; an empty list matches any.
    match: Mapped[dict[str, Any]] = mapped_column(JSON)
    channels: Mapped[list[str]] = mapped_column(JSON)
    # [{"name": ..., "language": "zh-CN", "email": ..., "mobile": ...}]
    recipients: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    language: Mapped[str] = mapped_column(String(8))
    quiet_hours: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
