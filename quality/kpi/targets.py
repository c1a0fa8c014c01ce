"""The equipment integrity rate's targets (设备完好率): the industry's usual 98 %, and
100 % for elevators, whose failures trap people. The KPI page draws each group against
its target; the Grafana dashboards use the same figures.

>>> integrity_target("elevator"), integrity_target("pump"), integrity_target(None)
(100.0, 98.0, 98.0)
"""

from __future__ import annotations

from typing import Final

INTEGRITY_TARGET_PCT: Final = 98.0
KIND_INTEGRITY_TARGETS_PCT: Final[dict[str, float]] = {"elevator": 100.0}


def integrity_target(kind: str | None) -> float:
    """The target of a group: its kind's, else the general one."""
    return KIND_INTEGRITY_TARGETS_PCT.get(kind or "", INTEGRITY_TARGET_PCT)
