"""The README stays true: every setting is documented, every documented command exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from facmon.cli import build_parser
from facmon.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
CONFIGURATION = (ROOT / "docs" / "configuration.md").read_text()
DOCS = [README] + [path.read_text() for path in sorted((ROOT / "docs").glob("*.md"))]
SETTING_ROW = re.compile(r"^\| `(FACMON_[A-Z0-9_]+)` \| ([^|]+) \|", re.MULTILINE)


def test_every_picture_the_docs_show_is_in_the_repository() -> None:
    """Markdown images and HTML <img> in the README and docs/ point at committed files."""
    pictures = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)|<img [^>]*src=\"([^\"]+)\"")
    named = {a or b for text in DOCS for a, b in pictures.findall(text)}
    local = {name for name in named if not name.startswith(("http://", "https://"))}
    assert "docs/images/board-zh-CN.png" in local
    missing = [
        name
        for name in local
        if not (ROOT / name).is_file() and not (ROOT / "docs" / name).is_file()
    ]
    assert missing == []


def test_every_setting_is_in_the_configuration_table() -> None:
    documented = {name for name, _ in SETTING_ROW.findall(CONFIGURATION)}
    expected = {f"FACMON_{name.upper()}" for name in Settings.model_fields}
    assert documented == expected


def test_the_readme_settings_are_real_and_agree_with_the_full_table() -> None:
    """The README lists the settings most used; each is a setting, with the full table's default."""
    full = dict(SETTING_ROW.findall(CONFIGURATION))
    shown = dict(SETTING_ROW.findall(README))
    assert shown
    for name, default in shown.items():
        assert name in full, name
        assert default == full[name], name


def test_documented_facmon_commands_parse() -> None:
    parser = build_parser()
    commands = [c for text in DOCS for c in re.findall(r"\.venv/bin/facmon ([a-z][^\n`#]*)", text)]
    assert commands
    for command in commands:
        words = command.replace("\\", " ").split()
        parser.parse_args(words)


WORDS = {4: "four", 5: "five", 6: "six", 7: "seven", 12: "twelve", 13: "thirteen"}
DEMO_TICKETS = 6  # what tests/e2e/test_demo.py sees the demo open


def test_the_demo_walk_through_matches_the_demo_scenario() -> None:
    from simulators.scenario import builtin_scenario, load_scenario

    walk_through = (ROOT / "docs" / "demo.md").read_text()

    demo = load_scenario(builtin_scenario("demo"))
    buildings = {device.building for device in demo.devices}
    said = f"{WORDS[len(demo.devices)]} devices in {WORDS[len(buildings)]} buildings"
    assert said in walk_through
    assert all(f"`{building}`" in walk_through for building in buildings)
    assert f"{WORDS[len(demo.faults)]} injected faults" in walk_through
    assert f"{WORDS[DEMO_TICKETS]} tickets" in walk_through
    assert f"The other {WORDS.get(DEMO_TICKETS - 1, 'six')} tickets stay open" in walk_through


def test_the_demo_walk_through_matches_the_ledger_and_the_properties() -> None:
    """The walk-through's properties, walked door, maintained device and silent device are the
    demo's: the ledger it imports, the scenarios it runs and what its department does."""
    import csv
    from collections import Counter

    from facmon.demo import DEMO_LEDGER
    from facmon.demo.properties import demo_plan

    plan = demo_plan(None)
    assert plan.walked is not None and plan.maintained is not None
    rows = list(csv.DictReader(DEMO_LEDGER.read_text(encoding="utf-8").splitlines()))
    ledger = {(row["site"], row["device_id"]): row for row in rows}
    per_site = Counter(site for site, _ in ledger)
    counts = " and ".join(f"{count} at `{site}`" for site, count in sorted(per_site.items()))
    flat = " ".join((ROOT / "docs" / "demo.md").read_text().split())
    assert f"{len(ledger)} devices, {counts}" in flat
    simulated = {(s.site, d.device_id) for s in plan.scenarios for d in s.devices}
    assert simulated <= set(ledger)
    in_service = {key for key, row in ledger.items() if row["status"] == "in_service"}
    [(site, silent)] = sorted(in_service - simulated)  # one ledger device never reports
    assert f"`{site}/{silent}` has no simulator" in flat
    assert f"never reported: 1 ({silent})" in flat
    # two properties, one door-1 each; the walked one is held open, the other is healthy
    doors = sorted(key for key in simulated if key[1] == plan.walked.device_id)
    assert [site for site, _ in doors] == ["demo", "riverside"]
    assert f"`{plan.walked}`" in flat and "door_held_open" in flat
    assert f"window #1 opened for {plan.maintained}" in flat
    assert f"{plan.maintained} offline suppressed under window #1, no ticket" in flat
    assert "acknowledges it (接单)" in flat


def test_documented_simulate_commands_would_publish_now() -> None:
    """A README `facmon simulate` must not name a scenario dated in the future without
    --start, nor the demo's own scenario (it would collide with the demo's devices)."""
    import time

    from simulators.runner import future_start_problem
    from simulators.scenario import load_scenario

    root = ROOT
    commands = [
        c
        for text in DOCS
        for c in re.findall(r"\.venv/bin/facmon (simulate(?:[^\n`#\\]|\\\n)*)", text)
    ]
    assert commands
    now_ms = int(time.time() * 1000)
    for command in commands:
        args = build_parser().parse_args(command.replace("\\", " ").split())
        if args.scenario is None:
            continue
        assert not args.scenario.endswith("scenarios/demo.yaml"), command
        scenario = load_scenario(root / args.scenario)
        start = scenario.start_ms(now_ms) if args.start is None else now_ms - 3_600_000
        assert future_start_problem(scenario.name, start, now_ms) is None, command


def test_devices_wording_matches_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    """The simulator's guide, --help and behaviour agree: N devices in all
    (tests/test_cli.py runs it)."""
    assert "`--devices N` runs N devices in all" in (ROOT / "docs" / "simulators.md").read_text()
    with pytest.raises(SystemExit):
        build_parser().parse_args(["simulate", "--help"])
    assert "devices in all" in " ".join(capsys.readouterr().out.split())
