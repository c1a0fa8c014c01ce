"""`facmon evaluate real --data DIR`: the production detectors judged on real recordings.

Every `DIR/real/*.csv` (or `DIR/*.csv`) is replayed with `facmon backtest`, from a fresh
state, and judged by what its `*.truth.json` says; `DIR/skab` is scored as
`facmon evaluate skab` scores it. The rules follow the truth file's schema, not one file,
so any recording of the same kind works (other IMS tests with 4 or 8 channels and
recording gaps, other lighting nights with missing minutes). `offline` tickets are
ignored throughout: a recording gap is a real gap.

- A device with `failed: true`: its first ticket opens at least 24 h before its `end`
  (else the file's `end`, the last snapshot).
- A file with a `midpoint`: no ticket on any device before it (the first half is
  healthy); tickets on healthy devices after it are listed, not counted.
- A file with `nights`: no ticket on a `normal` night.
- SKAB: F1 ≥ 0.80 and FAR ≤ 10 % on the labelled files, the fault-free files alarmed
  ≤ 10 % (the worse of in-sample and held out), next to SKAB's published table.

The exit code is 0 even when targets fail (it is a report), unless `--strict`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from facmon.cli.backtest import run_csv
from ingest.backtest.csv_source import HeaderError

LEAD_TARGET_H: Final = 24.0
SKAB_F1_TARGET: Final = 0.80
SKAB_FAR_TARGET: Final = 10.0
SKAB_FAULT_FREE_TARGET: Final = 10.0
IGNORED_FAULTS: Final = frozenset({"offline"})


@dataclass(slots=True)
class Target:
    """One thing the truth asks, the measured value, and whether it holds."""

    target: str
    value: Any
    passed: bool
    detail: str = ""
    unit: str = ""


@dataclass(slots=True)
class FileVerdict:
    file: str
    kind: str
    samples: int = 0
    bad_rows: int = 0
    tickets: int = 0
    offline_tickets: int = 0
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _counted(tickets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [t for t in tickets if t["fault_type"] not in IGNORED_FAULTS]


def _describe(ticket: dict[str, Any]) -> str:
    return f"{ticket['device_id']} {ticket['fault_type']} at {ticket['opened_at']}"


def judge_failures(truth: dict[str, Any], tickets: list[dict[str, Any]]) -> list[Target]:
    """Each failing device: its first counted ticket at least 24 h before its end."""
    targets = []
    for device_id, device in sorted(truth.get("devices", {}).items()):
        if not device.get("failed"):
            continue
        end_text = device.get("end") or truth["end"]
        end = _time(end_text)
        own = sorted(
            (t for t in tickets if t["device_id"] == device_id), key=lambda t: t["opened_at"]
        )
        name = f"{device_id} (failed: {device.get('failure') or 'yes'}): first ticket "
        name += f">= {LEAD_TARGET_H:g} h before the end ({end_text})"
        if not own:
            targets.append(Target(name, None, False, "no ticket"))
            continue
        first = own[0]
        lead_h = (end - _time(first["opened_at"])).total_seconds() / 3600
        targets.append(
            Target(name, round(lead_h, 1), lead_h >= LEAD_TARGET_H, _describe(first), " h")
        )
    return targets


def judge_first_half(
    truth: dict[str, Any], tickets: list[dict[str, Any]]
) -> tuple[list[Target], list[str]]:
    """No counted ticket before the midpoint; healthy devices' later tickets as notes."""
    midpoint_text = truth["midpoint"]
    midpoint = _time(midpoint_text)
    devices = truth.get("devices", {})
    early = [t for t in tickets if _time(t["opened_at"]) < midpoint]
    target = Target(
        f"no ticket on any of {len(devices)} devices before the midpoint ({midpoint_text})",
        len(early),
        not early,
        "; ".join(_describe(t) for t in early),
    )
    healthy = {d for d, info in devices.items() if not info.get("failed")}
    late = [t for t in tickets if t["device_id"] in healthy and _time(t["opened_at"]) >= midpoint]
    notes = [f"healthy device, second half (not counted): {_describe(t)}" for t in late]
    return [target], notes


def judge_nights(truth: dict[str, Any], tickets: list[dict[str, Any]]) -> list[Target]:
    """No counted ticket during a night known to be normal."""
    targets = []
    for night in truth["nights"]:
        start, end = _time(night["start"]), _time(night["end"])
        inside = [t for t in tickets if start <= _time(t["opened_at"]) < end]
        label = night.get("night", night["start"])
        missing = night.get("missing_minutes")
        gaps = f", {missing} missing minutes" if missing else ""
        if not night.get("normal", False):
            targets.append(
                Target(f"night {label}: not known normal{gaps}", len(inside), True, "reported")
            )
            continue
        targets.append(
            Target(
                f"night {label} ({night['start']} .. {night['end']}{gaps}): no ticket",
                len(inside),
                not inside,
                "; ".join(_describe(t) for t in inside),
            )
        )
    return targets


def truth_path(csv_path: Path) -> Path:
    return csv_path.with_name(csv_path.name.removesuffix(".csv") + ".truth.json")


def judge_file(csv_path: Path, run: Callable[[Path], dict[str, Any]] = run_csv) -> FileVerdict:
    """Replay one recording and judge it by its truth file's schema."""
    truth_file = truth_path(csv_path)
    truth: dict[str, Any] = json.loads(truth_file.read_text()) if truth_file.exists() else {}
    if "nights" in truth:
        kind = "lighting nights"
    elif "midpoint" in truth or any(d.get("failed") for d in truth.get("devices", {}).values()):
        kind = "run to failure"
    else:
        kind = "no truth" if not truth else "unknown truth"
    verdict = FileVerdict(csv_path.name, kind)
    try:
        result = run(csv_path)
    except (HeaderError, OSError) as exc:
        verdict.targets.append(Target("the file replays", None, False, str(exc)))
        return verdict
    tickets = result["tickets"]
    counted = _counted(tickets)
    verdict.samples = result["samples"]
    verdict.bad_rows = len(result["bad_rows"])
    verdict.tickets = len(counted)
    verdict.offline_tickets = len(tickets) - len(counted)
    if verdict.bad_rows:
        first = result["bad_rows"][0]
        verdict.notes.append(
            f"{verdict.bad_rows} bad row(s), first at line {first['line']}: {first['reason']}"
        )
    verdict.targets += judge_failures(truth, counted)
    if "midpoint" in truth:
        targets, notes = judge_first_half(truth, counted)
        verdict.targets += targets
        verdict.notes += notes
    if "nights" in truth:
        verdict.targets += judge_nights(truth, counted)
    if not truth:
        verdict.notes.append(f"no {truth_file.name}: tickets listed, nothing judged")
    if not verdict.targets:
        verdict.notes += [f"ticket: {_describe(t)}" for t in counted]
    return verdict


def judge_skab(root: Path, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """`facmon evaluate skab`'s figures with this command's targets."""
    from tools.evaluate_skab import PUBLISHED, evaluate_skab

    report = evaluate_skab(root, progress=progress)
    fault_free = [
        v for v in (report["unlabelled_far"], report["unlabelled_far_held_out"]) if v is not None
    ]
    worst = max(fault_free) if fault_free else None
    targets = []
    if report["files"]:
        f1, far = report["f1"], report["far"]
        targets += [
            Target(f"F1 >= {SKAB_F1_TARGET:.2f}", f1, f1 is not None and f1 >= SKAB_F1_TARGET),
            Target(
                f"FAR <= {SKAB_FAR_TARGET:g} %",
                far,
                far is not None and far <= SKAB_FAR_TARGET,
                unit=" %",
            ),
        ]
    if worst is not None:
        targets.append(
            Target(
                f"anomaly-free alarmed <= {SKAB_FAULT_FREE_TARGET:g} % (worse of in-sample "
                "and held out)",
                worst,
                worst <= SKAB_FAULT_FREE_TARGET,
                f"in-sample {report['unlabelled_far']} %, held out "
                f"{report['unlabelled_far_held_out']} %",
                " %",
            )
        )
    return {
        "figures": {
            key: report[key]
            for key in (
                "f1",
                "far",
                "mar",
                "files",
                "rows",
                "unlabelled_files",
                "unlabelled_far",
                "unlabelled_far_held_out",
                "detector",
            )
        },
        "targets": [asdict(t) for t in targets],
        "published": [
            {"method": name, "f1": f1, "far": far, "mar": mar} for name, f1, far, mar in PUBLISHED
        ],
    }


def evaluate_real(
    data: Path, progress: Callable[[str], None] | None = None, skab: bool = True
) -> dict[str, Any]:
    """Every recording under `data` judged; the totals of targets passed and failed."""
    real = data / "real" if (data / "real").is_dir() else data
    files = []
    for csv_path in sorted(real.glob("*.csv")):
        if progress is not None:
            progress(f"backtest of {csv_path.name}")
        files.append(asdict(judge_file(csv_path)))
    result: dict[str, Any] = {"data": str(data), "files": files, "skab": None}
    if skab and (data / "skab").is_dir():
        if progress is not None:
            progress("SKAB")
        result["skab"] = judge_skab(data / "skab")
    targets = [t for f in files for t in f["targets"]]
    if result["skab"] is not None:
        targets += result["skab"]["targets"]
    result["passed"] = sum(t["passed"] for t in targets)
    result["failed"] = sum(not t["passed"] for t in targets)
    return result


def _show(value: Any, unit: str = "") -> str:
    return "n/a" if value is None else f"{value}{unit}"


def _target_line(t: dict[str, Any]) -> str:
    verdict = "PASS" if t["passed"] else "FAIL"
    detail = f"  [{t['detail']}]" if t["detail"] else ""
    return f"  {verdict}  {t['target']}: {_show(t['value'], t['unit'])}{detail}"


def format_report(result: dict[str, Any]) -> str:
    lines = []
    for f in result["files"]:
        lines.append(
            f"{f['file']} ({f['kind']}): {f['samples']:,} samples, {f['bad_rows']} bad rows, "
            f"{f['tickets']} ticket(s) ({f['offline_tickets']} offline, not counted)"
        )
        lines += [_target_line(t) for t in f["targets"]]
        lines += [f"        {note}" for note in f["notes"]]
    skab = result["skab"]
    if skab is not None:
        fig = skab["figures"]
        lines.append(
            f"SKAB ({fig['detector']}): {fig['files']} labelled files, {fig['rows']:,} scored "
            f"rows: F1 {_show(fig['f1'])}, FAR {_show(fig['far'])} %, MAR {_show(fig['mar'])} %"
        )
        lines += [_target_line(t) for t in skab["targets"]]
        lines.append("  SKAB's published results on the full benchmark (F1 / FAR % / MAR %):")
        lines += [
            f"    {p['method']:<17} {p['f1']:.2f} / {p['far']:.2f} / {p['mar']:.2f}"
            for p in skab["published"]
        ]
    lines.append(f"targets: {result['passed']} passed, {result['failed']} failed")
    return "\n".join(lines)


def cmd_evaluate_real(args: argparse.Namespace) -> int:
    data = Path(args.data)
    if not data.is_dir():
        print(f"error: {data} is not a folder", file=sys.stderr)
        return 2

    def progress(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    result = evaluate_real(data, progress if not args.json else None, skab=not args.no_skab)
    print(json.dumps(result, ensure_ascii=False) if args.json else format_report(result))
    return 1 if args.strict and result["failed"] else 0


def add_evaluate_real_command(eval_sub: Any) -> None:
    """Add `evaluate real` under `facmon evaluate`."""
    parser = eval_sub.add_parser(
        "real",
        help="the production detectors on real recordings (backtest) and SKAB, each judged "
        "by its truth: PASS/FAIL per target",
    )
    parser.add_argument(
        "--data", required=True, help="a folder with real/*.csv (+ .truth.json) and skab/"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-skab", action="store_true", help="skip the SKAB folder")
    parser.add_argument("--strict", action="store_true", help="exit code 1 when any target fails")
    parser.set_defaults(func=cmd_evaluate_real)
