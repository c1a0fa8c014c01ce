"""The properties the demo simulates, and what its quality department does with them.

The built-in demo runs two properties, as the shipped ledger (facmon/demo_ledger.csv)
lists them: `demo` (simulators/scenarios/demo.yaml) and `riverside`
(demo-riverside.yaml). Both have a `door-1`: riverside's is held open and its ticket is
walked round the loop; demo's `elevator-04` is under planned maintenance when it goes
offline. A scenario of your own (`facmon demo --scenario`) runs alone, and its first
door held open is walked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from simulators.scenario import Scenario, builtin_scenario, load_scenario

DEMO_SCENARIOS: Final = ("demo", "demo-riverside")
WALKED_FAULT: Final = "door_held_open"


@dataclass(frozen=True, slots=True)
class DeviceKey:
    site: str
    device_id: str

    def __str__(self) -> str:
        return f"{self.site}/{self.device_id}"


@dataclass(frozen=True, slots=True)
class DemoPlan:
    scenarios: tuple[Scenario, ...]
    walked: DeviceKey | None
    """The door whose held-open ticket the demo quality lead walks round the loop."""
    maintained: DeviceKey | None
    """The device under a maintenance window from the start: its findings are suppressed."""

    @property
    def devices(self) -> int:
        return sum(len(s.devices) for s in self.scenarios)

    @property
    def faults(self) -> int:
        return sum(len(s.faults) for s in self.scenarios)


def _first_held_open(scenarios: tuple[Scenario, ...]) -> DeviceKey | None:
    for scenario in scenarios:
        for fault in scenario.faults:
            if fault.type == WALKED_FAULT:
                return DeviceKey(scenario.site, fault.device_id)
    return None


def demo_plan(scenario_path: Path | None) -> DemoPlan:
    """The built-in two properties, or the one scenario given."""
    if scenario_path is not None:
        alone = (load_scenario(scenario_path),)
        return DemoPlan(alone, _first_held_open(alone), None)
    scenarios = tuple(load_scenario(builtin_scenario(name)) for name in DEMO_SCENARIOS)
    return DemoPlan(scenarios, DeviceKey("riverside", "door-1"), DeviceKey("demo", "elevator-04"))
