"""The demo's equipment ledger (设备台账): facmon/demo_ledger.csv imported at start by the
code behind `facmon ledger import`, so telemetry meets a ledger as in a real deployment
and the integrity rate counts the ledger's equipment, including what never reports."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sqlalchemy import Engine

from facmon.demo.setup import DEMO_LEDGER, DemoError
from facmon.demo.words import line
from quality.ledger import EquipmentFilter, LedgerFileError, LedgerStore, import_file
from quality.ledger.records import EquipmentRecord


def import_demo_ledger(engine: Engine, path: Path = DEMO_LEDGER) -> str:
    """Import the ledger file; the printed line gives the counts per property."""
    try:
        report = import_file(engine, path.read_bytes(), "csv")
    except (OSError, LedgerFileError) as exc:
        raise DemoError(f"cannot import the demo ledger {path}: {exc}") from None
    if not report.applied:
        raise DemoError(f"the demo ledger {path} has problems: {report.problems}")
    items, _ = LedgerStore(engine).search(EquipmentFilter(), limit=1000)
    per_site = Counter(item.site for item in items)
    counts = [f"{site} {count}" for site, count in sorted(per_site.items())]
    sites, sites_zh = ", ".join(counts), "、".join(counts)
    contractors = len({item.contractor for item in items if item.contractor})
    return line(
        f"imported {report.imported} of {report.rows} rows ({report.created} new) from "
        f"{path.name}: {len(per_site)} properties ({sites}), {contractors} contractors",
        f"已从 {path.name} 导入 {report.rows} 行中的 {report.imported} 行（新增 "
        f"{report.created}）：{len(per_site)} 个项目（{sites_zh}），{contractors} 家维保单位",
    )


def ledger_device(engine: Engine, site: str, device_id: str) -> EquipmentRecord | None:
    return LedgerStore(engine).get(site, device_id)
