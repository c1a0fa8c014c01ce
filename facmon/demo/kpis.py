"""The property's KPIs as GET /api/kpis answers them, printed after the loop closes: the
equipment integrity rate (设备完好率) with its denominator, and the ledger devices that
have never reported, by name (the ledger's in-service devices the registry never heard)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from facmon.demo.client import DemoClient
from facmon.demo.words import line

PERIOD = timedelta(minutes=1)
"""The demo's first minute, from the devices' start: a period of fixed length, so the
figures repeat from run to run."""


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} %"


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} s"


def never_reported(client: DemoClient, site: str) -> list[str]:
    """In-service ledger devices of the site that the device registry has never heard."""
    ledger = client.get("/api/ledger/equipment", site=site, status="in_service", limit=1000)
    heard = {d["device_id"] for d in client.get("/api/devices", site=site)}
    return sorted(item["device_id"] for item in ledger["items"] if item["device_id"] not in heard)


def _site_group(client: DemoClient, site: str, period: dict[str, str]) -> dict[str, Any] | None:
    report: dict[str, Any] = client.get("/api/kpis", site=site, **period)
    group = next((g for g in report["groups"] if g["scope"] == "site"), None)
    return None if group is None else {**group, "denominator_label": report["denominator_label"]}


def report_kpis(client: DemoClient, site: str, since: datetime, say: Callable[[str], None]) -> None:
    """The site's integrity rate over the demo's first minute from `since` (when the
    devices started), and its loop KPIs since then, once a ticket has been through the loop."""
    first_minute = {"from": since.isoformat(), "to": (since + PERIOD).isoformat()}
    group = _site_group(client, site, first_minute)
    if group is None:
        return
    silent = never_reported(client, site)
    label = group["denominator_label"]
    names = ", ".join(silent) or "none"
    names_zh = "、".join(silent) or "无"
    maintenance_s = float(group["parts"].get("maintenance_s", 0))
    say(
        line(
            f"KPIs of {site} over the demo's first minute (GET /api/kpis): equipment integrity "
            f"rate {_pct(group['integrity_pct'])} over {group['devices']} devices "
            f"({label['en']}; {maintenance_s:.0f} s of planned maintenance left out), "
            f"never reported: {group['never_reported'] or 0} ({names})",
            f"{site} 演示第一分钟的指标：设备完好率 {_pct(group['integrity_pct'])}，分母 "
            f"{group['devices']} 台（{label['zh-CN']}；不计保养时间 {maintenance_s:.0f} 秒），"
            f"从未上报 {group['never_reported'] or 0} 台（{names_zh}）",
        )
    )
    loop = _site_group(client, site, {"from": since.isoformat()})
    if loop is None or loop["response_time_s"] is None:
        return
    say(
        line(
            f"KPIs of {site} since the demo started: response time (dispatch to acknowledge) "
            f"{_seconds(loop['response_time_s'])}, first-time fix rate "
            f"{_pct(loop['first_time_fix_pct'])}",
            f"{site} 演示开始以来的指标：响应时间（派单至接单）"
            f"{_seconds(loop['response_time_s'])}，一次性修复成功率 "
            f"{_pct(loop['first_time_fix_pct'])}",
        )
    )
