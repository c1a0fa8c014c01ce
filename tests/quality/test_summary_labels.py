"""Every finding a detector opens a ticket with is readable in zh-CN and en: its summary is
a catalog message (`summaries.<key>`) whose placeholders are exactly the values the
detector sends, and it renders in both languages.

The findings come from running the detectors as tests/quality/test_evidence_labels.py does:
each detector class on the series that makes it fire, and every fault scenario of the
library replayed through decode and the real detector bank (events and last wills too)."""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from quality.i18n.catalog_loader import load_catalog
from quality.i18n.summaries import NAMED_VALUES, PREFIX, summary_label, summary_labels
from simulators.scenario import BUILTIN_DIR, load_scenario
from tests.detectors.test_contract_all_detectors import SPECS, run
from tools import evaluate_scenarios

CATALOG = load_catalog()
DETECTORS_DIR = Path(__file__).resolve().parents[2] / "detectors"
CJK = re.compile(r"[\u4e00-\u9fff]")


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def problems(findings: Iterable[Finding]) -> list[str]:
    """What keeps a finding's summary from being read in both languages."""
    found: list[str] = []
    for finding in findings:
        where = f"{finding.detector}: {finding.summary!r}"
        entry = CATALOG.get(f"{PREFIX}{finding.summary_key}")
        if finding.summary_key is None or entry is None:
            found.append(f"{where}: key {finding.summary_key!r} is not in summaries.yaml")
            continue
        wanted, sent = placeholders(entry["en"]), set(finding.summary_params)
        if wanted != sent:
            found.append(f"{where}: params {sorted(sent)} but the catalog wants {sorted(wanted)}")
            continue
        labels = summary_labels(finding.summary_key, finding.summary_params, "\0fallback")
        if "\0fallback" in labels.values() or not CJK.search(labels["zh-CN"]):
            found.append(f"{where}: does not render {labels}")
        elif not set(wanted) & set(NAMED_VALUES) and labels["en"] != finding.summary:
            # the English message says what the detector's text says (unless a placeholder
            # names a thing: then it is shown by its label, `flow rate` for flow_rate_lpm)
            found.append(f"{where}: English message reads {labels['en']!r}")
    return found


SEEN_KEYS: set[str] = set()


@pytest.mark.parametrize("name", sorted(cls.name for cls in SPECS))
def test_every_detector_finding_has_a_bilingual_summary(name: str) -> None:
    cls = next(c for c in SPECS if c.name == name)
    findings = [finding for _, finding in run(cls, SPECS[cls].fault())]
    assert findings
    assert problems(findings) == []
    SEEN_KEYS.update(f.summary_key for f in findings if f.summary_key)


def _library() -> list[str]:
    return sorted(
        path.stem for path in (BUILTIN_DIR / "library").glob("*.yaml") if load_scenario(path).faults
    )


@pytest.mark.parametrize("scenario", _library())
def test_every_fault_scenario_finding_has_a_bilingual_summary(
    scenario: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events, last wills, gaps and glitches: what the bank opens tickets with."""
    seen: list[Finding] = []
    add = evaluate_scenarios.TicketBook.add

    def recording(book: Any, findings: Iterable[Finding], at_ms: int) -> None:
        findings = list(findings)
        seen.extend(findings)
        add(book, findings, at_ms)

    monkeypatch.setattr(evaluate_scenarios.TicketBook, "add", recording)
    evaluate_scenarios.replay(load_scenario(BUILTIN_DIR / "library" / f"{scenario}.yaml"), 1)
    assert problems(seen) == []


def _names(expr: ast.expr, module: ast.Module) -> set[str]:
    """The keys a `key=` expression can take: each branch of a conditional; an f-string
    stands for the catalog keys it can make; a variable for the module's catalog keys."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return {expr.value}
    if isinstance(expr, ast.IfExp):
        return _names(expr.body, module) | _names(expr.orelse, module)
    catalogued = {k[len(PREFIX) :] for k in CATALOG if k.startswith(PREFIX)}
    if isinstance(expr, ast.JoinedStr):
        first = expr.values[0]
        head = first.value if isinstance(first, ast.Constant) else ""
        return {k for k in catalogued if k.startswith(str(head))}
    if isinstance(expr, ast.Name):
        return {
            n.value
            for n in ast.walk(module)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value in catalogued
        }
    return {f"<{ast.unparse(expr)}>"}


def _keys_in_source() -> dict[str, set[str]]:
    """Every summary key a detector module names in a `self.finding(..., key=...)` call."""
    found: dict[str, set[str]] = {}
    for path in sorted(DETECTORS_DIR.glob("*.py")):
        module = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(module):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr != "finding" or path.stem == "base":
                continue
            key = next((k.value for k in node.keywords if k.arg == "key"), None)
            names = _names(key, module) if key is not None else {"<no key>"}
            found.setdefault(path.stem, set()).update(names)
    return found


def _service_messages() -> dict[str, set[str]]:
    """The service's own tickets (planned maintenance, a window overrun): each
    `summary_key="..."` in quality/ and the names of its `summary_params` dict."""
    found: dict[str, set[str]] = {}
    for path in sorted((DETECTORS_DIR.parent / "quality").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            given = {k.arg: k.value for k in node.keywords}
            key, params = given.get("summary_key"), given.get("summary_params")
            if isinstance(key, ast.Constant) and isinstance(params, ast.Dict):
                names = {k.value for k in params.keys if isinstance(k, ast.Constant)}
                found[str(key.value)] = {str(n) for n in names}
    return found


def test_the_services_own_tickets_have_catalog_messages() -> None:
    messages = _service_messages()
    assert set(messages) == {"planned_maintenance", "maintenance_overrun"}
    for key, names in messages.items():
        assert names == placeholders(CATALOG[f"{PREFIX}{key}"]["en"]), key


def test_every_finding_call_names_catalog_keys_and_every_key_is_used() -> None:
    """Branches the runs above may not reach (a controller's event, a crossed limit) are
    checked in the source: every call names a key, every key is in the catalog, and the
    catalog holds no message no detector sends."""
    by_module = _keys_in_source()
    used = set().union(*by_module.values())
    missing = {
        m: sorted(k for k in keys if f"{PREFIX}{k}" not in CATALOG) for m, keys in by_module.items()
    }
    assert {m: keys for m, keys in missing.items() if keys} == {}
    catalogued = {k[len(PREFIX) :] for k in CATALOG if k.startswith(PREFIX)}
    assert sorted(catalogued - used - set(_service_messages())) == []


DOOR = DeviceRef("site-a", "b1", "access", "door-1")


def test_a_summary_that_does_not_fit_is_caught_and_falls_back() -> None:
    """The check can fail, and a reader still sees the stored text."""
    good = Finding(
        DOOR,
        "door_held_open",
        Severity.MINOR,
        "x",
        "1",
        0,
        "door held open for 61 s (limit 60 s)",
        summary_key="held_open",
        summary_params={"held_s": 61.0, "limit_s": 60.0},
    )
    assert problems([good]) == []
    unknown = Finding(DOOR, "f", Severity.MINOR, "x", "1", 0, "text", summary_key="nope")
    wrong = Finding(
        DOOR,
        "f",
        Severity.MINOR,
        "x",
        "1",
        0,
        "text",
        summary_key="held_open",
        summary_params={"held_s": 61.0},
    )
    assert len(problems([unknown, wrong])) == 2
    assert summary_labels("held_open", {"held_s": 61.0}, "text") == {"zh-CN": "text", "en": "text"}
    assert summary_label(None, None, "电梯有异响", "en") == "电梯有异响"  # a person's own words


def test_named_values_are_shown_by_their_labels() -> None:
    labels = summary_labels(
        "out_of_range",
        {"metric": "flow_rate_lpm", "value": 900, "low": 0, "high": 500, "kind": "pump"},
        "fallback",
    )
    assert labels["zh-CN"].startswith("流量读数 900，超出水泵的合理范围")
    assert labels["en"].startswith(
        "flow rate reads 900, outside the plausible 0..500 for water pump"
    )
