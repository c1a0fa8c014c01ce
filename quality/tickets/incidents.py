"""One incident, one ticket: which findings on one device belong to the same fault.

Two detectors often see one physical fault from two sides: a wearing pump bearing
raises the bearing-wear trend *and* the pump's multivariate anomaly; a door that
closes slowly also reverses; a lamp near its end flickers, then fails. A quality team
wants one ticket for that incident, listing every detector and its evidence, not one
ticket per detector.

The rule, used by the service and the backtest alike (both record findings through
`TicketStore.record`):

- a finding joins the device's *active* ticket whose fault type shares an incident
  group with the finding's fault type (the oldest such ticket, if several);
- otherwise it opens (or reopens) a ticket of its own fault type, as before;
- a *generalist* fault type (an anomaly that names no cause, `pump_anomaly`) joins a
  ticket of any specific fault of its kind; when a specific finding joins a ticket the
  generalist opened, the ticket takes the specific fault type (the diagnosis is
  refined), which the history records.

Groups are per kind and explicit; nothing is grouped by similarity or by time alone.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

# Fault types that name no cause, and the specific faults of their kind they stand for.
# The multivariate detector flags a pump that departs from its learnt normal; bearing
# wear, cavitation, dry running and leakage all make it do so.
GENERALISTS: Final = MappingProxyType(
    {
        ("pump", "pump_anomaly"): frozenset(
            {"bearing_wear", "cavitation", "dry_running", "leakage"}
        ),
    }
)

# Specific faults of one kind that are one incident seen by two detectors.
GROUPS: Final = MappingProxyType(
    {
        # A door that closes slowly also reverses on its obstruction sensing.
        "elevator": (frozenset({"door_slowing", "door_reversals"}),),
        # A lamp near its end of life flickers before it fails.
        "lighting": (frozenset({"flicker", "lamp_failure"}),),
    }
)


def is_generalist(kind: str, fault_type: str) -> bool:
    return (kind, fault_type) in GENERALISTS


def joinable(kind: str, fault_type: str) -> frozenset[str]:
    """The fault types of active tickets that a finding of `fault_type` joins, itself
    included. Two specific faults that a generalist covers stay two incidents (a pump
    with cavitation and, later, bearing wear has two causes to fix)."""
    covered = GENERALISTS.get((kind, fault_type))
    if covered is not None:
        return covered | {fault_type}
    joins = {fault_type}
    for group in GROUPS.get(kind, ()):
        if fault_type in group:
            joins |= group
    for (generalist_kind, generalist), faults in GENERALISTS.items():
        if generalist_kind == kind and fault_type in faults:
            joins.add(generalist)
    return frozenset(joins)
