"""Render the dashboards to the JSON files Grafana provisions, and read queries back.

The generated files are committed and Grafana loads them from disk. CI
rebuilds them and compares bytes, so editing a panel function without
rebuilding fails the build. After editing a dashboard, run::

    python -m dashboards.build          # rewrite dashboards/generated/
    python -m dashboards.build --check  # exit 1 if they are out of date

`panel_queries` and `expand_variables` let tests run every panel query
against a real InfluxDB, substituting template variables as Grafana would.

>>> expand_variables('SELECT 1 FROM "pump" WHERE $timeFilter AND "site" =~ /^$site$/')
'SELECT 1 FROM "pump" WHERE time > now() - 1h AND "site" =~ /^.*$/'
>>> regex_value(["hq", "plant.2"])
'(hq|plant\\\\.2)'
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Final

from contract.topics import Kind
from dashboards.kinds import kind_dashboard
from dashboards.model import Dashboard
from dashboards.overview import facility_overview
from dashboards.quality import quality_loop
from dashboards.service_health import service_health

DASHBOARDS: Final[tuple[Callable[[], Dashboard], ...]] = (
    facility_overview,
    quality_loop,
    service_health,
    *(partial(kind_dashboard, kind) for kind in Kind),
)
"""Every dashboard facmon ships, built with its default parameters."""

GENERATED_DIR: Final = Path(__file__).resolve().parent / "generated"

_VARIABLE: Final = re.compile(r"\$\{(\w+)\}|\[\[(\w+)\]\]|\$(\w+)")
_REGEX_SPECIAL: Final = re.compile(r"[\\^$*+?.()|\[\]{}/]")


def render(dashboard: Dashboard) -> str:
    """Sorted, indented JSON with a final newline: stable bytes for a stable diff."""
    return json.dumps(dashboard.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def build_all(out_dir: Path = GENERATED_DIR) -> list[Path]:
    """Write `<uid>.json` for every dashboard into `out_dir`; return the paths, sorted."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for make_dashboard in DASHBOARDS:
        dashboard = make_dashboard()
        path = out_dir / f"{dashboard.uid}.json"
        if path in paths:
            raise ValueError(f"two dashboards share the uid {dashboard.uid!r}")
        path.write_bytes(render(dashboard).encode("utf-8"))
        paths.append(path)
    return sorted(paths)


def out_of_date(out_dir: Path = GENERATED_DIR) -> list[str]:
    """Names of files in `out_dir` that a fresh build would add, change or not produce."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = {path.name: path.read_bytes() for path in build_all(Path(tmp))}
    current = {path.name: path.read_bytes() for path in out_dir.glob("*.json")}
    return sorted(
        name for name in fresh.keys() | current.keys() if fresh.get(name) != current.get(name)
    )


def _panels(panels: Sequence[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", ()))  # panels inside collapsed rows


def panel_queries(dashboard_json: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(panel title, query text) for every target of every panel, in dashboard order."""
    return [
        (panel["title"], target["query"])
        for panel in _panels(dashboard_json.get("panels", ()))
        for target in panel.get("targets", ())
    ]


def all_queries(dashboard_json: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Panel queries plus annotation and template-variable queries, labelled by origin.

    Annotations and variables are InfluxQL too, and fail just as silently.
    """
    queries = panel_queries(dashboard_json)
    queries += [
        (f"annotation: {annotation['name']}", annotation["query"])
        for annotation in dashboard_json.get("annotations", {}).get("list", ())
        if annotation.get("query")
    ]
    queries += [
        (f"variable: {variable['name']}", variable["query"])
        for variable in dashboard_json.get("templating", {}).get("list", ())
        if variable.get("type") == "query"
    ]
    return queries


def regex_value(values: Sequence[str]) -> str:
    """Selected values of a multi-value variable, formatted as Grafana puts them in a regex.

    One value is regex-escaped; several become an escaped alternation `(a|b)`.
    All is not formatted: it is the variable's `allValue`, `.*`.
    """
    if not values:
        raise ValueError("a variable needs at least one value")
    escaped = [_REGEX_SPECIAL.sub(r"\\\g<0>", value) for value in values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def expand_variables(
    query: str,
    *,
    site: str = ".*",
    building: str = ".*",
    kind: str = ".*",
    device: str = ".*",
    interval: str = "10s",
    time_filter: str = "time > now() - 1h",
) -> str:
    """Substitute Grafana's variables so the query can run on InfluxDB directly.

    `site`, `building`, `kind` and `device` are inserted verbatim, as regex fragments:
    the default `.*` is what Grafana inserts for All; use `regex_value` for
    specific values. `$var`, `${var}` and `[[var]]` are all recognised, and an
    unknown variable raises ValueError rather than reaching InfluxDB.
    """
    values = {
        "timeFilter": time_filter,
        "__interval": interval,
        "site": site,
        "building": building,
        "kind": kind,
        "device": device,
    }

    def substitute(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group is not None)
        if name not in values:
            raise ValueError(f"unknown Grafana variable ${name} in query: {query}")
        return values[name]

    return _VARIABLE.sub(substitute, query)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dashboards.build", description="Write the Grafana dashboard JSON."
    )
    parser.add_argument(
        "out_dir",
        nargs="?",
        type=Path,
        default=GENERATED_DIR,
        help="where to write (default: dashboards/generated)",
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the files are out of date"
    )
    args = parser.parse_args(argv)
    if args.check:
        stale = out_of_date(args.out_dir)
        for name in stale:
            print(f"out of date: {args.out_dir / name}", file=sys.stderr)
        if stale:
            print("run: python -m dashboards.build", file=sys.stderr)
        return 1 if stale else 0
    for path in build_all(args.out_dir):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
