"""GET /api/kpis/heatmap (热力分析图) and /api/kpis/targets on SQLite and PostgreSQL: tickets
opened in the period counted per building × floor (the ledger's) × kind, false alarms left
out, an inspector's place on its reported floor, a contractor's token counting its own
tickets; bad parameters answer 422 naming the parameter in English and Chinese."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from facmon.service import Stores
from tests.api.kpi_page_data import SeededSite, seed_site
from tests.conftest import unique
from tests.databases import BACKENDS, fresh_stores


@pytest.fixture(params=BACKENDS)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    with fresh_stores(request.param, tmp_path, "heatmap") as made:
        yield made


def client(stores: Stores, role: str = "viewer", contractor: str | None = None) -> TestClient:
    token = stores.tokens.create(role, unique("heat"), contractor=contractor)[1]
    return TestClient(create_app(stores), headers={"Authorization": f"Bearer {token}"})


def cells(body: dict[str, object]) -> dict[tuple[str, str | None, str], tuple[int, ...]]:
    rows = body["cells"]
    assert isinstance(rows, list)
    return {
        (c["building"], c["floor"], c["kind"]): (
            c["tickets"],
            c["active"],
            c["critical"],
            c["repeats"],
        )
        for c in rows
    }


def test_tickets_are_counted_per_building_floor_and_kind(stores: Stores) -> None:
    seeded: SeededSite = seed_site(stores, "plaza")
    seed_site_elsewhere = seed_site(stores, "harbour")
    api = client(stores)

    body = api.get("/api/kpis/heatmap", params={"site": "plaza"}).json()
    assert cells(body) == seeded.expected_cells
    assert body["tickets"] == sum(v[0] for v in seeded.expected_cells.values()) == 6
    assert {c["site"] for c in body["cells"]} == {"plaza"}
    # floors in the building's order: A's floor 1 before floor 3
    order = [(c["building"], c["floor"]) for c in body["cells"]]
    assert order.index(("A", "1")) < order.index(("A", "3"))

    everything = api.get("/api/kpis/heatmap").json()
    assert everything["tickets"] == 12
    assert {c["site"] for c in everything["cells"]} == {"plaza", seed_site_elsewhere.site}

    only_a = api.get("/api/kpis/heatmap", params={"site": "plaza", "building": "A"}).json()
    assert set(cells(only_a)) == {("A", "3", "access"), ("A", "1", "elevator")}
    lifts = api.get("/api/kpis/heatmap", params={"site": "plaza", "kind": "elevator"}).json()
    assert cells(lifts) == {("A", "1", "elevator"): (1, 1, 1, 0)}


def test_the_period_bounds_the_openings(stores: Stores) -> None:
    seeded = seed_site(stores, "plaza")
    api = client(stores)
    # the first two door tickets opened at the start and two days later
    early = {
        "site": "plaza",
        "from": (seeded.start - timedelta(hours=1)).isoformat(),
        "to": (seeded.start + timedelta(days=3)).isoformat(),
    }
    assert cells(api.get("/api/kpis/heatmap", params=early).json()) == {
        ("A", "3", "access"): (2, 0, 0, 1)
    }
    before = {
        "from": (seeded.start - timedelta(days=3)).isoformat(),
        "to": (seeded.start - timedelta(days=1)).isoformat(),
    }
    assert api.get("/api/kpis/heatmap", params=before).json()["cells"] == []


def test_a_contractors_token_counts_its_own_tickets(stores: Stores) -> None:
    seed_site(stores, "plaza")
    otis = client(stores, "engineer", contractor="Otis").get(
        "/api/kpis/heatmap", params={"site": "plaza"}
    )
    # Otis was dispatched the first two door tickets; the third is not dispatched yet
    assert otis.status_code == 200
    assert cells(otis.json()) == {("A", "3", "access"): (2, 0, 0, 1)}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"kind": "escalator"}, "kind"),
        ({"from": "yesterday"}, "from"),
        ({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "to"),
        ({"site": "x" * 65}, "site"),
    ],
)
def test_bad_parameters_name_the_field_in_both_languages(
    stores: Stores, params: dict[str, str], field: str
) -> None:
    answer = client(stores).get("/api/kpis/heatmap", params=params)
    assert answer.status_code == 422
    [problem] = answer.json()["detail"]
    assert problem["field"] == field and problem["en"] and problem["zh"]


def test_targets_and_sign_in(stores: Stores) -> None:
    assert client(stores).get("/api/kpis/targets").json() == {
        "integrity_pct": 98.0,
        "integrity_pct_by_kind": {"elevator": 100.0},
    }
    anonymous = TestClient(create_app(stores))
    assert anonymous.get("/api/kpis/heatmap").status_code == 401
    assert anonymous.get("/api/kpis/targets").status_code == 401


def test_a_future_period_is_refused(stores: Stores) -> None:
    later = datetime.now(UTC) + timedelta(days=2)
    answer = client(stores).get(
        "/api/kpis/heatmap",
        params={"from": later.isoformat(), "to": (later + timedelta(days=1)).isoformat()},
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["field"] == "from"
