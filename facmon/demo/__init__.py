"""`facmon demo`: everything embedded, two properties' simulated devices with faults, and
the quality department's side of the loop through the real API.

- setup: the demo's settings and its own folder, emptied at start
- ledger: the shipped equipment ledger imported at start
- properties: the scenarios simulated, the door walked, the device under maintenance
- maintenance: a maintenance window and the finding it suppresses
- quality_lead: one ticket dispatched, acknowledged, rectified, verified and closed
- kpis: the KPIs read back from GET /api/kpis
- run: all of it in order
"""

from facmon.demo.run import run_demo
from facmon.demo.setup import (
    DEMO_DETECTORS,
    DEMO_LEDGER,
    DemoError,
    demo_data_dir,
    demo_settings,
    reset_demo_folder,
)

__all__ = [
    "DEMO_DETECTORS",
    "DEMO_LEDGER",
    "DemoError",
    "demo_data_dir",
    "demo_settings",
    "reset_demo_folder",
    "run_demo",
]
