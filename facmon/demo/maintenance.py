"""Planned maintenance (保养) in the demo: a window opened through the API before the
devices report, and the finding it suppresses printed when it comes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from facmon.demo.client import DemoClient
from facmon.demo.properties import DeviceKey
from facmon.demo.words import fault_zh, line

WINDOW_SPAN = timedelta(hours=2)
REASON = "planned maintenance: annual inspection of the traction machine (曳引机年检保养)"


def open_window(client: DemoClient, device: DeviceKey, say: Callable[[str], None]) -> int:
    """POST /api/maintenance/windows covering the device from now on; its id."""
    now = datetime.now(UTC)
    window: dict[str, Any] = client.post(
        "/api/maintenance/windows",
        {
            "site": device.site,
            "device_id": device.device_id,
            "from": (now - timedelta(minutes=1)).isoformat(),
            "to": (now + WINDOW_SPAN).isoformat(),
            "reason": REASON,
        },
    )
    until = (now + WINDOW_SPAN).strftime("%H:%M UTC")
    say(
        line(
            f"maintenance: window #{window['id']} opened for {device} until {until} "
            "(POST /api/maintenance/windows); its findings open no ticket",
            f"保养：已为 {device} 开设保养时段 #{window['id']}，至 {until}；期间的发现不开工单",
        )
    )
    return int(window["id"])


def report_suppressed(client: DemoClient, device: DeviceKey, say: Callable[[str], None]) -> None:
    """Print the device's first suppressed finding (GET /api/maintenance/suppressed)."""
    found = client.wait_for(
        lambda: client.get(
            "/api/maintenance/suppressed", site=device.site, device_id=device.device_id
        ),
        timeout_s=300,
    )
    if not found:
        return
    first = min(found, key=lambda row: row["id"])
    say(
        line(
            f"maintenance: {device} {first['fault_type']} suppressed under window "
            f"#{first['window_id']}, no ticket: {first['summary']}",
            f"保养：{device} {fault_zh(first['fault_type'])} 发生在保养时段 "
            f"#{first['window_id']} 内，已抑制，不开工单",
        )
    )
