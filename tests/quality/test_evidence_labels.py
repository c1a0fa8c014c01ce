"""Every evidence key a detector writes has a kind (`quality.evidence.fields.FIELD_KINDS`) and
a label in zh-CN and en (`evidence.field.<key>`), so a person never reads `gone_ms`.

The findings come from running the detectors: each detector class on the series that makes
it fire (the contract test's `SPECS`), and every scenario of the library that injects a
fault replayed through decode and the real detector bank (events and last wills
included). The ticket store's, verification's, manual reports' and planned work's keys,
and every contract metric and unit, are checked too."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from contract.finding import Finding
from contract.topics import TELEMETRY_SCHEMAS
from quality.evidence import FIELD_KINDS, evidence_keys
from quality.evidence.fields import FIXED_UNITS, JUDGED_UNITS
from quality.i18n.catalog_loader import load_catalog
from simulators.scenario import BUILTIN_DIR, load_scenario
from tests.detectors.test_contract_all_detectors import SPECS, run
from tools import evaluate_scenarios

CATALOG = load_catalog()
# Keys the service itself adds to a detector's evidence, or writes for other findings.
STORE_KEYS = ("detector", "version", "config_version")  # quality.tickets.store
VERIFICATION_KEYS = (  # quality.verification, and a verification by hand
    "method",
    "detector",
    "version",
    "window_start_ms",
    "window_end_ms",
    "window_s",
    "normal_samples",
    "by",
    "note",
)
MANUAL_KEYS = (  # quality.inspections.manual and rounds
    "source",
    "reported_by",
    "description",
    "photos",
    "location",
    "observed_at",
    "site",
    "building",
    "device_id",
    "floor",
    "place",
    "inspection",
    "round_id",
    "route_id",
    "route_name",
    "stop",
    "stop_label",
    "item",
    "question",
    "kind",
    "answer",
    "unit",
    "allowed",
)
PLANNED_WORK_KEYS = ("plan_id", "plan", "due_date", "checklist", "contractor")  # maintenance


def unlabelled(keys: Iterable[str]) -> list[str]:
    return sorted(
        {key for key in keys if key not in FIELD_KINDS or f"evidence.field.{key}" not in CATALOG}
    )


@pytest.mark.parametrize("name", sorted(cls.name for cls in SPECS))
def test_every_detector_finding_is_labelled(name: str) -> None:
    cls = next(c for c in SPECS if c.name == name)
    findings = run(cls, SPECS[cls].fault())
    assert findings
    keys = {key for _, finding in findings for key in evidence_keys(finding.evidence)}
    assert unlabelled(keys) == [], f"{name}: evidence keys without a kind or a catalog label"


def _library() -> list[str]:
    return sorted(
        path.stem for path in (BUILTIN_DIR / "library").glob("*.yaml") if load_scenario(path).faults
    )


@pytest.mark.parametrize("scenario", _library())
def test_every_fault_scenario_finding_is_labelled(
    scenario: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The library's fault scenarios replayed as the evaluation does: what the detectors
    write on events, last wills, gaps and glitches is labelled too."""
    seen: list[Finding] = []
    add = evaluate_scenarios.TicketBook.add

    def recording(book: Any, findings: Iterable[Finding], at_ms: int) -> None:
        findings = list(findings)
        seen.extend(findings)
        add(book, findings, at_ms)

    monkeypatch.setattr(evaluate_scenarios.TicketBook, "add", recording)
    evaluate_scenarios.replay(load_scenario(BUILTIN_DIR / "library" / f"{scenario}.yaml"), 1)
    if scenario != "offline-brief-restart":  # a restart within the limits: no ticket
        assert seen, f"{scenario} must produce findings"
    keys = {key for finding in seen for key in evidence_keys(finding.evidence)}
    assert unlabelled(keys) == [], scenario


def test_the_services_own_keys_are_labelled() -> None:
    keys = (*STORE_KEYS, *VERIFICATION_KEYS, *MANUAL_KEYS, *PLANNED_WORK_KEYS, "joined")
    assert unlabelled(keys) == []


def test_every_metric_and_unit_has_a_label() -> None:
    units = {spec.unit for schema in TELEMETRY_SCHEMAS.values() for spec in schema.values()}
    units |= set(FIXED_UNITS.values())
    units |= {unit for table in JUDGED_UNITS.values() for unit in table.values()}
    assert sorted(u for u in units if f"evidence.unit.{u}" not in CATALOG) == []
    metrics = {name for schema in TELEMETRY_SCHEMAS.values() for name in schema}
    assert sorted(m for m in metrics if f"evidence.metric.{m}" not in CATALOG) == []


def test_an_unlabelled_key_is_caught() -> None:
    """The check can fail: a key no detector writes yet is reported."""
    assert unlabelled(["value", "gone_ms", "spin_rate_rpm"]) == ["spin_rate_rpm"]
    nested: dict[str, Any] = {"joined": {"x": {"evidence": {"wobble": 1}}}}
    assert unlabelled(evidence_keys(nested)) == ["wobble"]
