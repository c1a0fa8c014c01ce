"""The property's KPIs as GET /api/kpis answers them, printed after the loop closes: the
equipment integrity rate (设备完好率) with its denominator, and the ledger devices that
have never reported, by name (the ledger's in-service devices the registry never heard)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from facmon.demo.client import DemoClient
from facmon.demo.words import line


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} %"


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} s"


def never_reported(client: DemoClient, site: str) -> list[str]:
    """In-service ledger devices of the site that the device registry has never heard."""
    ledger = client.get("/api/ledger/equipment", site=site, status="in_service", limit=1000)
    heard = {d["device_id"] for d in client.get("/api/devices", site=site)}
    return sorted(item["device_id"] for item in ledger["items"] if item["device_id"] not in heard)


def report_kpis(client: DemoClient, site: str, since: datetime, say: Callable[[str], None]) -> None:
    """The site's KPIs since the demo started: the devices' time online is the service's
    to judge, and it has been watching only since then."""
    report: dict[str, Any] = client.get("/api/kpis", site=site, **{"from": since.isoformat()})
    group = next((g for g in report["groups"] if g["scope"] == "site"), None)
    if group is None:
        return
    silent = never_reported(client, site)
    label = report["denominator_label"]
    names = ", ".join(silent) or "none"
    names_zh = "、".join(silent) or "无"
    maintenance_s = float(group["parts"].get("maintenance_s", 0))
    say(
        line(
            f"KPIs of {site} since the demo started (GET /api/kpis): equipment integrity rate "
            f"{_pct(group['integrity_pct'])} over {group['devices']} devices "
            f"({label['en']}; {maintenance_s:.0f} s of planned maintenance left out), "
            f"never reported: {group['never_reported'] or 0} ({names})",
            f"{site} 演示开始以来的指标：设备完好率 {_pct(group['integrity_pct'])}，分母 "
            f"{group['devices']} 台（{label['zh-CN']}；不计保养时间 {maintenance_s:.0f} 秒），"
            f"从未上报 {group['never_reported'] or 0} 台（{names_zh}）",
        )
    )
    if group["response_time_s"] is not None:
        say(
            line(
                f"KPIs of {site}: response time (dispatch to acknowledge) "
                f"{_seconds(group['response_time_s'])}, first-time fix rate "
                f"{_pct(group['first_time_fix_pct'])}",
                f"{site} 指标：响应时间（派单至接单）{_seconds(group['response_time_s'])}，"
                f"一次性修复成功率 {_pct(group['first_time_fix_pct'])}",
            )
        )
