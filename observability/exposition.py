"""Serving a registry over HTTP and reading another process's /metrics back.

Both sides are prometheus_client's: the handler is its `MetricsHandler` (content
negotiation, gzip) and the reader its text parser.

>>> list(parse_samples('facmon_x_total{kind="pump"} 3\\nfacmon_y 1\\n', "facmon_x_total"))
[({'kind': 'pump'}, 3.0)]
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from urllib.parse import urlparse

from prometheus_client.exposition import MetricsHandler
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from observability.histogram import HistogramSnapshot


def parse_samples(text: str, name: str) -> Iterator[tuple[dict[str, str], float]]:
    """The (labels, value) samples named `name` in Prometheus text."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                yield dict(sample.labels), float(sample.value)


def parse_histogram(text: str, name: str, **labels: str) -> HistogramSnapshot | None:
    """Read one histogram back from Prometheus text (another process's /metrics);
    None if `text` does not have it."""
    cumulative: dict[float, float] = {}
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found = dict(sample.labels)
            le = found.pop("le", None)
            if found != labels:
                continue
            if sample.name == f"{name}_bucket" and le is not None:
                cumulative[float(le)] = float(sample.value)
            elif sample.name == f"{name}_sum":
                total = float(sample.value)
    if not cumulative:
        return None
    counts, before = [], 0.0
    for bound in sorted(cumulative):
        counts.append(round(cumulative[bound] - before))
        before = cumulative[bound]
    finite = tuple(b for b in sorted(cumulative) if math.isfinite(b))
    if len(finite) == len(cumulative):  # no +Inf line: nothing above the highest bound
        counts.append(0)
    return HistogramSnapshot(finite, tuple(counts), total)


class _MetricsOnly(MetricsHandler):
    """prometheus_client's handler, at /metrics only (it answers on every path)."""

    def do_GET(self) -> None:
        if urlparse(self.path).path != "/metrics":
            self.send_error(404, "only /metrics here")
            return
        super().do_GET()


def serve_metrics(registry: Collector, host: str, port: int) -> ThreadingHTTPServer:
    """Serve `registry` (a `MetricsRegistry` or any collector) at http://host:port/metrics
    from a daemon thread.

    Ingest worker processes have no API; this lets Prometheus (or the soak bench)
    read their histograms. `shutdown()` on the returned server stops it.
    """
    handler = _MetricsOnly.factory(registry)
    try:
        server = ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        raise OSError(
            f"cannot serve metrics on {host}:{port} ({exc}): choose a free FACMON_METRICS_PORT"
        ) from exc
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="facmon-metrics", daemon=True).start()
    return server
