"""The shell assembles the SQL schema from every room's tables, and storage imports none of them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect

from facmon.schema import create_schema
from storage.sql import make_engine


def test_create_schema_makes_every_rooms_tables(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'facmon.db'}")
    create_schema(engine)
    create_schema(engine)  # idempotent: a second process starting on the same file
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {
        "tickets",
        "ticket_occurrences",
        "ticket_history",
        "ticket_comments",
        "ticket_rechecks",
        "outbox",
        "api_tokens",
        "users",
        "user_sessions",
        "login_failures",
        "dead_letters",
        "detector_state",
        "devices",
        "equipment",
        "contractors",
        "maintenance_plans",
        "maintenance_work_orders",
        "maintenance_windows",
        "maintenance_suppressed",
        "photos",
        "inspection_routes",
        "inspection_rounds",
        "inspection_answers",
        "notification_channels",
        "notification_rules",
        "quality_reports",
        "pdca_actions",
        "alembic_version",
    } == tables


def test_storage_loads_without_the_rooms_above() -> None:
    code = (
        "import sys, storage.sql, storage.timeseries, storage.dead_letters\n"
        "import storage.detector_state\n"
        "above = [m for m in sys.modules if m.split('.')[0] in "
        "('quality', 'ingest', 'detectors', 'api', 'facmon')]\n"
        "print(above)"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "[]"
