"""GET /api/tickets/{id}/evidence: the telemetry around a ticket's onset, read from the real
time-series store (InfluxDB, or the embedded SQLite store), with the chart's marks worked
out from what the detector stored; on SQLite and PostgreSQL ticket stores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from contract.clock import to_ms
from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from facmon.service import Stores
from quality.evidence.chart import MIN_HALF_SPAN_MS
from quality.evidence.telemetry import MAX_POINTS
from quality.tickets.lifecycle import Role
from tests.api.kpi_page_data import HOUR_MS, bearing_ticket, held_open_ticket
from tests.conftest import unique
from tests.databases import fresh_stores
from tools.servers import InfluxServer

STORES = [("sqlite", "influx"), ("postgresql", "influx"), ("sqlite", "embedded")]


@pytest.fixture(params=STORES, ids=["-".join(p) for p in STORES])
def stores(
    request: pytest.FixtureRequest, tmp_path: Path, influx: InfluxServer
) -> Iterator[Stores]:
    backend, series = request.param
    options = {}
    if series == "influx":
        options = {"influx_url": influx.url, "influx_database": unique("ev").replace("-", "_")}
    with fresh_stores(backend, tmp_path, "evidence", **options) as made:
        yield made


def client(stores: Stores, role: str = "viewer", contractor: str | None = None) -> TestClient:
    token = stores.tokens.create(role, unique("ev"), contractor=contractor)[1]
    return TestClient(create_app(stores), headers={"Authorization": f"Bearer {token}"})


def now_ms() -> int:
    return to_ms(datetime.now(UTC))


def test_the_time_around_the_onset_not_the_latest_samples(stores: Stores) -> None:
    made = held_open_ticket(stores, unique("site"), now_ms())
    body = client(stores).get(f"/api/tickets/{made.ticket_id}/evidence").json()
    assert body["onset_ms"] == made.onset_ms
    assert body["from_ms"] == made.onset_ms - MIN_HALF_SPAN_MS
    assert body["to_ms"] == made.onset_ms + MIN_HALF_SPAN_MS
    [series] = body["series"]
    assert (series["metric"], series["unit"], series["averaged_ms"]) == ("held_open_s", "s", None)
    times = [t for t, _ in series["points"]]
    # every stored sample of the span, one each 10 s, and none of the last two hours
    assert times == sorted(times) and times[0] >= body["from_ms"] and times[-1] < body["to_ms"]
    assert len(times) == 2 * MIN_HALF_SPAN_MS // 10_000
    assert made.last_ms - times[-1] > HOUR_MS
    assert max(v for _, v in series["points"]) == 170.0
    assert body["lines"] == [{"role": "threshold", "metric": "held_open_s", "value": 60.0}]
    assert body["verification"] is None and body["projection"] is None
    fields = {f["key"]: f for f in body["fields"]}
    assert fields["value"]["kind"] == "measured" and fields["value"]["unit"] == "s"
    assert fields["metric"] == {
        "key": "metric",
        "kind": "metric",
        "value": "held_open_s",
        "unit": None,
        "children": [],
    }
    assert fields["detector"]["value"] == "access_door_held_open"


def test_the_span_can_be_chosen_and_a_long_one_is_averaged_by_the_store(stores: Stores) -> None:
    made = held_open_ticket(stores, unique("site"), now_ms())
    api = client(stores)
    wide = api.get(
        f"/api/tickets/{made.ticket_id}/evidence", params={"before_s": 7200, "after_s": 7200}
    ).json()
    [series] = wide["series"]
    assert wide["from_ms"] == made.onset_ms - 7_200_000
    assert wide["to_ms"] <= wide["now_ms"]
    # 3 h of samples every 10 s is 1,080 points: under the cap, read as they are
    assert series["averaged_ms"] is None and len(series["points"]) == 1080
    assert (
        api.get(f"/api/tickets/{made.ticket_id}/evidence", params={"before_s": 0}).status_code
        == 422
    )


def test_a_predictive_finding_projects_its_crossing_with_a_band(stores: Stores) -> None:
    made, finding = bearing_ticket(stores, unique("site"), now_ms())
    body = client(stores).get(f"/api/tickets/{made.ticket_id}/evidence").json()
    evidence = finding.evidence
    projection = body["projection"]
    assert projection["metric"] == "accelerometer1_rms_g"
    assert projection["threshold"] == evidence["threshold"]
    # drawn from the detector's latest stored bucket, along its slope and 95 % bounds
    assert [projection["from_ms"], projection["from_value"]] == evidence["window"][-1]
    low, high = evidence["slope_95"]
    rise = evidence["threshold"] - evidence["window"][-1][1]
    assert rise > 0
    assert projection["crossing_ms"] - projection["from_ms"] == round(
        rise / evidence["slope_per_h"] * HOUR_MS
    )
    assert projection["earliest_ms"] - projection["from_ms"] == round(rise / high * HOUR_MS)
    assert projection["latest_ms"] - projection["from_ms"] == round(rise / low * HOUR_MS)
    assert projection["earliest_ms"] <= projection["crossing_ms"] <= projection["latest_ms"]
    # the detector's stored buckets are charted, and the span reaches back to the first
    assert body["stored_window"] == [list(p) for p in evidence["window"]]
    assert body["from_ms"] < evidence["window"][0][0]
    roles = {(line["role"], line["value"]) for line in body["lines"]}
    assert roles == {("threshold", evidence["threshold"]), ("baseline", evidence["baseline"])}
    [series] = body["series"]
    assert series["unit"] == "g" and len(series["points"]) > 100
    assert all(body["from_ms"] <= t < body["to_ms"] for t, _ in series["points"])
    kinds = {f["key"]: f["kind"] for f in body["fields"]}
    assert kinds["hours_to_limit_95"] == "hours_range" and kinds["slope_95"] == "per_hour_range"
    assert kinds["window"] == "window"


def test_the_verification_window_waits_then_shows_what_telemetry_saw(stores: Stores) -> None:
    made = held_open_ticket(stores, unique("site"), now_ms())
    tickets = stores.tickets
    tickets.assign(made.ticket_id, "tech", "e", Role.ENGINEER, None)
    tickets.transition(made.ticket_id, "rectified", "e", Role.ENGINEER, "closer fixed")
    api = client(stores)
    waiting = api.get(f"/api/tickets/{made.ticket_id}/evidence").json()
    window_ms = int(tickets.policy.verification_window.total_seconds() * 1000)
    span = waiting["verification"]
    assert span["status"] == "waiting"
    assert span["end_ms"] - span["start_ms"] == window_ms
    assert waiting["rectified_ms"] == span["start_ms"]
    # the chart runs on to the rectification, never past now
    assert waiting["to_ms"] == waiting["now_ms"]

    start, end = made.onset_ms + 600_000, made.onset_ms + 900_000
    verified = tickets.verify_by_telemetry(
        made.ticket_id,
        {
            "detector": "access_door_held_open",
            "version": "1",
            "window_start_ms": start,
            "window_end_ms": end,
            "window_s": 300.0,
            "normal_samples": 30,
        },
    )
    assert verified is not None
    body = api.get(f"/api/tickets/{made.ticket_id}/evidence").json()
    assert body["verification"] == {"start_ms": start, "end_ms": end, "status": "passed"}
    shown = {f["key"]: (f["kind"], f["value"]) for f in body["verification_fields"]}
    assert shown["method"] == ("text", "telemetry")
    assert shown["window_start_ms"] == ("time_ms", start)


def test_a_ticket_without_telemetry_still_shows_its_fields(stores: Stores) -> None:
    made = held_open_ticket(stores, unique("site"), now_ms())
    detail = client(stores).get(f"/api/tickets/{made.ticket_id}").json()
    # another device of another site: nothing stored for it
    ghost_site = unique("site")
    ticket_id = stores.tickets.record(
        Finding(
            DeviceRef(ghost_site, "b", "pump", "p9"),
            "offline",
            Severity.MAJOR,
            "offline",
            "1",
            detail["onset_ms"],
            "silent",
            {"cause": "silence", "gone_ms": 3_600_000, "last_heard_ms": detail["onset_ms"]},
        )
    ).ticket_id
    body = client(stores).get(f"/api/tickets/{ticket_id}/evidence").json()
    # offline names no metric: the kind's main one is charted, over twice the silence
    assert [s["metric"] for s in body["series"]] == ["current_a"]
    assert body["series"][0]["points"] == []
    assert body["from_ms"] == detail["onset_ms"] - 2 * 3_600_000
    fields = {f["key"]: f["kind"] for f in body["fields"]}
    assert fields["gone_ms"] == "duration_ms" and fields["last_heard_ms"] == "time_ms"


def test_unknown_ticket_and_another_contractors_ticket_answer_404(stores: Stores) -> None:
    made = held_open_ticket(stores, unique("site"), now_ms())
    assert client(stores).get("/api/tickets/999999/evidence").status_code == 404
    stranger = client(stores, "engineer", contractor="Kone")
    assert stranger.get(f"/api/tickets/{made.ticket_id}/evidence").status_code == 404
    assert (
        TestClient(create_app(stores)).get(f"/api/tickets/{made.ticket_id}/evidence").status_code
        == 401
    )


def test_a_long_span_is_averaged_by_the_store(stores: Stores) -> None:
    made, _finding = bearing_ticket(stores, unique("site"), now_ms())
    samples = (made.last_ms - made.first_ms) // 2_000 + 1  # one every 2 s
    assert samples > MAX_POINTS
    body = (
        client(stores)
        .get(
            f"/api/tickets/{made.ticket_id}/evidence",
            params={"before_s": 4 * 3600, "after_s": 4 * 3600},
        )
        .json()
    )
    [series] = body["series"]
    width = series["averaged_ms"]
    assert width == -(-(body["to_ms"] - body["from_ms"]) // MAX_POINTS)
    points = series["points"]
    assert 0 < len(points) <= MAX_POINTS
    # buckets of equal width, each the mean of its samples: the ramp keeps rising
    assert all((b[0] - a[0]) % width == 0 for a, b in pairwise(points))
    assert points[-1][1] > points[0][1] * 1.5
