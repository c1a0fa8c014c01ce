"""Measure, on the shared corpus, the figures behind the simulators' nuisance defaults.

`simulators/nuisance_params.py` takes its defaults from real recordings; this program
prints them again from the files, so that each default can be checked and re-derived:

    .venv/bin/python -m tools.nuisance_defaults --data ../shared/datasets

- street lighting (`real/streetlight-nights-1-3.csv`): the warm-up after each switch-on
  as a share of the settled current, each dimming step (time and share of full current),
  the voltage range and the hour it peaks;
- NASA IMS test 2 (`real/ims-test2.csv`), first half: each bearing's relative
  snapshot-to-snapshot wobble (against a 6 h running median) and how it correlates
  between bearings on the shaft;
- SKAB anomaly-free (`skab/anomaly-free/anomaly-free.csv`): accelerometer 1's relative
  noise per minute, quiet and noisy.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def streetlight(path: Path) -> dict[str, Any]:
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    nights: list[dict[str, Any]] = []
    night: dict[str, Any] | None = None
    for row in rows:
        current, on = float(row["current_a"]), row["on"] == "true"
        if on and night is None:
            night = {"on": row["ts"], "currents": [], "hours": []}
        if not on and night is not None:
            nights.append(night)
            night = None
        if night is not None:
            night["currents"].append(current)
            night["hours"].append(_ts(row["ts"]).hour + _ts(row["ts"]).minute / 60)
    result: dict[str, Any] = {"nights": []}
    for n in nights:
        currents = np.array(n["currents"])
        full = float(np.median(currents[10:60]))  # settled, before the first dimming step
        ramp = [round(float(c) / full, 3) for c in currents[:10]]
        steps = []
        i = 60
        while i < len(currents) - 30:  # a step: down 1.5 % in 2 min, still down 5 min later
            if currents[i + 2] < currents[i] * 0.985 and currents[i + 5] < currents[i] * 0.985:
                level = float(np.median(currents[i + 3 : i + 30])) / full
                steps.append((round(n["hours"][i + 1], 2), round(level, 3)))
                i += 5
            i += 1
        result["nights"].append(
            {"switch_on": n["on"], "full_a": round(full, 2), "ramp": ramp, "steps": steps}
        )
    volts = np.array([float(r["voltage_v"]) for r in rows])
    hours = np.array([_ts(r["ts"]).hour for r in rows])
    by_hour = [float(np.mean(volts[hours == h])) for h in range(24)]
    result["voltage"] = {
        "min": float(volts.min()),
        "max": float(volts.max()),
        "mean": round(float(volts.mean()), 2),
        "peak_hour": int(np.argmax(by_hour)),
        "half_range_relative": round(float((volts.max() - volts.min()) / 2 / volts.mean()), 4),
    }
    return result


def _running_median(x: np.ndarray, width: int) -> np.ndarray:
    padded = np.pad(x, (width // 2, width // 2), mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, width)
    return np.asarray(np.median(windows, axis=1))


def ims(path: Path) -> dict[str, Any]:
    series: dict[str, list[float]] = defaultdict(list)
    for row in csv.DictReader(path.open(encoding="utf-8")):
        series[row["device_id"]].append(float(row["accelerometer1_rms_g"]))
    names = sorted(series)
    half = len(series[names[0]]) // 2
    wobble = []
    for name in names:
        x = np.array(series[name][:half])
        wobble.append(x / _running_median(x, 37) - 1)  # 37 snapshots: about 6 h
    corr = np.corrcoef(np.array(wobble))
    pairs = [float(corr[i, j]) for i in range(len(names)) for j in range(i + 1, len(names))]
    return {
        "bearings": names,
        "snapshots_first_half": half,
        "relative_sd": {n: round(float(np.std(w)), 4) for n, w in zip(names, wobble, strict=True)},
        "correlation_min": round(min(pairs), 2),
        "correlation_max": round(max(pairs), 2),
        "correlation_mean": round(float(np.mean(pairs)), 2),
    }


def skab(path: Path) -> dict[str, Any]:
    lines = path.read_text(encoding="utf-8").splitlines()
    column = lines[0].split(";").index("Accelerometer1RMS")
    x = np.array([float(line.split(";")[column]) for line in lines[1:]])
    per_minute = [
        float(np.std(x[i : i + 60]) / np.mean(x[i : i + 60])) for i in range(0, len(x) - 60, 60)
    ]
    ordered = sorted(per_minute)
    return {
        "minutes": len(per_minute),
        "relative_sd_median": round(float(np.median(per_minute)), 4),
        "relative_sd_p10": round(ordered[len(ordered) // 10], 4),
        "minutes_over_1_percent": sum(v > 0.01 for v in per_minute),
        "relative_sd_over_1_percent": [round(v, 4) for v in per_minute if v > 0.01],
    }


def measure(data: Path) -> dict[str, Any]:
    return {
        "streetlight": streetlight(data / "real" / "streetlight-nights-1-3.csv"),
        "ims": ims(data / "real" / "ims-test2.csv"),
        "skab": skab(data / "skab" / "anomaly-free" / "anomaly-free.csv"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.nuisance_defaults", description=__doc__)
    parser.add_argument("--data", default="../shared/datasets", help="the corpus folder")
    args = parser.parse_args(argv)
    try:
        report = measure(Path(args.data))
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for section, figures in report.items():
        print(f"{section}:")
        for name, value in figures.items():
            if isinstance(value, list) and value and isinstance(value[0], dict):
                for item in value:
                    print(f"  {name}: {item}")
            else:
                print(f"  {name}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
