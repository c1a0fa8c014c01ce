"""The sample ledger shipped for the demo imports cleanly and holds what the demo needs."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from sqlalchemy import Engine

import facmon
from quality.ledger import EquipmentFilter, LedgerStore, import_file
from simulators.scenario import load_scenario

DEMO_LEDGER = Path(facmon.__file__).parent / "demo_ledger.csv"
DEMO_SCENARIO = Path(__file__).parents[3] / "simulators" / "scenarios" / "demo.yaml"


def test_the_demo_ledger_imports_cleanly(engine: Engine, store: LedgerStore) -> None:
    report = import_file(engine, DEMO_LEDGER.read_bytes(), "csv")
    assert report.problems == [] and report.ignored_columns == []
    assert report.applied and report.imported == report.rows == 18

    items, _ = store.search(EquipmentFilter(), limit=1000)
    sites_of = defaultdict(set)
    for item in items:
        sites_of[item.device_id].add(item.site)
    assert sites_of["door-1"] == {"demo", "riverside"}  # two properties, one door-1 each

    # One contractor per kind, and every device has its kind's contractor.
    contractors = store.contractors()
    assert sorted(kind for c in contractors for kind in c.kinds) == [
        "access",
        "elevator",
        "lighting",
        "pump",
    ]
    by_name = {c.name: c for c in contractors}
    assert all(item.kind in by_name[item.contractor or ""].kinds for item in items)

    # Every device the demo simulates is registered, and one registered device never reports.
    scenario = load_scenario(DEMO_SCENARIO)
    simulated = {(scenario.site, d.device_id) for d in scenario.devices}
    registered = {(i.site, i.device_id) for i in items if i.site == scenario.site}
    assert simulated <= registered
    never_reports = registered - simulated
    assert ("demo", "pump-03") in never_reports  # the fire-service pump, registered, silent
    assert never_reports <= {("demo", "pump-03"), ("demo", "door-1")}
    assert all(
        item.kind == d.kind and item.building == d.building
        for d in scenario.devices
        for item in items
        if (item.site, item.device_id) == (scenario.site, d.device_id)
    )
