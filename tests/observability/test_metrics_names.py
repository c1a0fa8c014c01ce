"""Every metric the dashboards read is served at /metrics, by the API and by an ingest
worker, from the moment they start.

Grafana reads the `facmon_service` measurement, whose fields are the service's metrics
without `facmon_` and `_total` (quality.kpi.service_metrics writes them from the same
registry); a PromQL expression or an alert rule names a series, such as `x_total`,
`x_bucket` or `x_count`, which belongs to the family `x`. A metric renamed or dropped
would leave a panel empty without any error, so this fails instead.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from facmon.embedded_broker import free_port
from facmon.service import Stores
from facmon.settings import Settings
from quality.kpi.service_metrics import PREFIX
from quality.kpi.sources import SERVICE_MEASUREMENT
from tests.conftest import unique, wait_until
from tools.servers import InfluxServer, MosquittoServer

ROOT = Path(__file__).resolve().parents[2]
QUERY_KEYS = frozenset({"query", "expr", "rawSql"})
RULE_FILES = ("*.yml", "*.yaml", "*.rules", "*.json")

# The family a series belongs to, by its suffix (Prometheus' naming rules).
SUFFIX_TYPES: dict[str, frozenset[str]] = {
    "_total": frozenset({"counter"}),
    "_bucket": frozenset({"histogram"}),
    "_sum": frozenset({"histogram", "summary"}),
    "_count": frozenset({"histogram", "summary"}),
}
PLAIN_TYPES = frozenset({"gauge", "untyped"})


# -- what the dashboards ask for --------------------------------------------------------


def _strings(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in QUERY_KEYS and isinstance(value, str):
                yield value
            else:
                yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def dashboard_queries() -> list[str]:
    """Every query of the generated dashboards, and every `expr:` of an alert rule file."""
    queries = [
        query
        for path in sorted((ROOT / "dashboards" / "generated").glob("*.json"))
        for query in _strings(json.loads(path.read_text()))
    ]
    for folder in (ROOT / "deploy", ROOT / "dashboards"):
        for pattern in RULE_FILES:
            for path in sorted(folder.rglob(pattern)):
                if "generated" not in path.parts:
                    text = path.read_text(errors="replace")
                    queries += re.findall(r"^\s*-?\s*expr:\s*(.+)$", text, re.MULTILINE)
    return queries


def service_fields(query: str) -> set[str]:
    """Fields an InfluxQL query selects from the service measurement (aliases dropped)."""
    match = re.search(
        rf'SELECT\s+(.*?)\s+FROM\s+"?{SERVICE_MEASUREMENT}"?(?:\s|$)', query, re.I | re.S
    )
    if match is None:
        return set()
    selected = re.sub(r'\bAS\s+"[^"]*"', "", match.group(1), flags=re.I)
    return set(re.findall(r'"([A-Za-z0-9_]+)"', selected))


def series_names(query: str) -> set[str]:
    """`facmon_*` series a PromQL expression names (the measurement name is not one)."""
    return set(re.findall(r"\bfacmon_[a-zA-Z0-9_:]+", query)) - {SERVICE_MEASUREMENT}


def queried() -> tuple[set[str], set[str]]:
    fields: set[str] = set()
    names: set[str] = set()
    for query in dashboard_queries():
        fields |= service_fields(query)
        names |= series_names(query)
    return fields, names


# -- what /metrics serves ---------------------------------------------------------------


def families(text: str) -> dict[str, str]:
    """Family name -> type, as prometheus_client's parser reads the exposition."""
    return {family.name: family.type for family in text_string_to_metric_families(text)}


def family_of(series: str, served: dict[str, str]) -> str | None:
    """The family a series name belongs to, or None if `served` has none."""
    if served.get(series) in PLAIN_TYPES:
        return series
    for suffix, types in SUFFIX_TYPES.items():
        base = series.removesuffix(suffix)
        if base != series and served.get(base) in types:
            return base
    return None


def field_family(field: str, served: dict[str, str]) -> str | None:
    """The family a service-measurement field comes from: `facmon_` + field is a gauge or a
    histogram's `_sum`/`_count`, or `facmon_` + field + `_total` a counter. Never a bucket:
    the writer skips them."""
    name = PREFIX + field
    if name.endswith("_bucket"):
        return None
    return family_of(name, served) or (
        family_of(f"{name}_total", served) if not name.endswith("_total") else None
    )


def missing(text: str) -> list[str]:
    served = families(text)
    fields, names = queried()
    assert fields | names, "no metric found in the dashboards: the query reader is broken"
    gone = [f"field {f}" for f in sorted(fields) if field_family(f, served) is None]
    return gone + [f"series {n}" for n in sorted(names) if family_of(n, served) is None]


# -- the suffix rules themselves ----------------------------------------------------------

EXPOSITION = """\
# HELP facmon_a_total A.
# TYPE facmon_a_total counter
facmon_a_total{kind="pump"} 1.0
# HELP facmon_b_seconds B.
# TYPE facmon_b_seconds histogram
facmon_b_seconds_bucket{le="+Inf"} 1.0
facmon_b_seconds_count 1.0
facmon_b_seconds_sum 0.5
# HELP facmon_c C.
# TYPE facmon_c gauge
facmon_c 2.0
"""


@pytest.mark.parametrize(
    ("series", "family"),
    [
        ("facmon_a_total", "facmon_a"),
        ("facmon_a", None),  # a counter is queried by its _total series
        ("facmon_b_seconds_bucket", "facmon_b_seconds"),
        ("facmon_b_seconds_count", "facmon_b_seconds"),
        ("facmon_b_seconds", None),
        ("facmon_c", "facmon_c"),
        ("facmon_c_total", None),  # a gauge has no _total series
        ("facmon_d", None),
    ],
)
def test_a_series_name_belongs_to_its_family_by_suffix(series: str, family: str | None) -> None:
    assert family_of(series, families(EXPOSITION)) == family


def test_a_service_field_maps_back_to_its_metric() -> None:
    served = families(EXPOSITION)
    assert field_family("a", served) == "facmon_a"
    assert field_family("b_seconds_count", served) == "facmon_b_seconds"
    assert field_family("b_seconds_bucket", served) is None
    assert field_family("c", served) == "facmon_c"
    assert field_family("d", served) is None


def test_the_queries_are_read_from_influxql_and_promql() -> None:
    influxql = 'SELECT max("ingest_lag_max_s") AS "max", last("spool_points") FROM "facmon_service"'
    assert service_fields(influxql) == {"ingest_lag_max_s", "spool_points"}
    assert service_fields('SELECT sum("dead_letters") FROM "kpi"') == set()
    promql = "sum(rate(facmon_dead_letters_total[5m])) / facmon_x_bucket{le='1.0'}"
    assert series_names(promql) == {"facmon_dead_letters_total", "facmon_x_bucket"}
    fields, _ = queried()
    assert {"messages_ingested", "dead_letters", "ingest_pending_messages"} <= fields


# -- served for real ---------------------------------------------------------------------


def test_the_api_serves_every_metric_the_dashboards_read(tmp_path: Path) -> None:
    stores = Stores.open(Settings(_env_file=None, data_dir=tmp_path))  # type: ignore[call-arg]
    try:
        response = TestClient(create_app(stores)).get("/metrics")
        assert response.status_code == 200
        assert missing(response.text) == []
    finally:
        stores.close()


def test_an_ingest_worker_serves_every_metric_the_dashboards_read(
    mosquitto: MosquittoServer, influx: InfluxServer, tmp_path: Path
) -> None:
    port = free_port()
    site = unique("names")
    env = {key: value for key, value in os.environ.items() if not key.startswith("FACMON_")}
    env |= {
        "FACMON_MQTT_URL": mosquitto.url,
        "FACMON_INFLUX_URL": influx.url,
        "FACMON_INFLUX_DATABASE": site.replace("-", "_"),
        "FACMON_DATA_DIR": str(tmp_path),
        "FACMON_MQTT_CLIENT_ID": unique("names-ingest"),
        "FACMON_INGEST_SITES": site,
        "FACMON_METRICS_PORT": str(port),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "facmon.cli", "ingest"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def scrape() -> str | None:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).text
        except httpx.HTTPError:
            return None

    try:
        text = wait_until(lambda: scrape() or worker.poll() is not None, 60, "/metrics")
        assert worker.poll() is None, worker.stdout.read() if worker.stdout else ""
        assert isinstance(text, str)
        assert missing(text) == []
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
