"""`facmon run` runs the report schedule in the service (and not when switched off)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import wait_until
from tests.e2e.helpers import service_settings, started
from tools.servers import MosquittoServer


def test_the_service_runs_the_report_schedule(tmp_path: Path, mosquitto: MosquittoServer) -> None:
    service = started(service_settings(tmp_path, mqtt_url=mosquitto.url))
    try:
        assert service.reports is not None
        scheduler = service.reports
        wait_until(lambda: scheduler.runs >= 1, timeout_s=30, what="a run of the report schedule")
        assert scheduler.failures == 0
    finally:
        service.stop()


def test_the_schedule_can_be_switched_off(
    tmp_path: Path, mosquitto: MosquittoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FACMON_REPORT_SCHEDULE", "false")
    service = started(service_settings(tmp_path, mqtt_url=mosquitto.url))
    try:
        assert service.reports is None
    finally:
        service.stop()
