"""GET /api/tickets/page on SQLite and PostgreSQL: the page shape, filters and sorts through
HTTP, a cursor walk that reaches every ticket once, bad parameters as 422 naming the
parameter and its allowed values in English and Chinese, and the board's list unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from contract.clock import ManualClock
from facmon.service import Stores
from facmon.settings import Settings
from tests.databases import BACKENDS, fresh_settings
from tests.quality.tickets.test_listing import NOW, insert, overdue, ticket_fields

TICKETS = 60


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    with fresh_settings(request.param, tmp_path, "l") as chosen:
        yield chosen


@pytest.fixture
def rows(settings: Settings) -> Iterator[tuple[Stores, dict[int, dict[str, Any]]]]:
    stores = Stores.open(settings)
    stores.tickets.clock = ManualClock(NOW)
    fields = [ticket_fields(i) for i in range(TICKETS)]
    ids = insert(stores.engine, fields)
    yield stores, dict(zip(ids, fields, strict=True))
    stores.close()


@pytest.fixture
def client(rows: tuple[Stores, dict[int, dict[str, Any]]]) -> TestClient:
    stores, _rows = rows
    _id, token = stores.tokens.create("viewer", "list-viewer")
    return TestClient(create_app(stores), headers={"Authorization": f"Bearer {token}"})


def walk(client: TestClient, params: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = client.get(
            "/api/tickets/page", params={**params, **({"cursor": cursor} if cursor else {})}
        )
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def test_a_page_has_items_a_cursor_and_a_bounded_total(client: TestClient) -> None:
    page = client.get("/api/tickets/page", params={"limit": 10}).json()
    assert set(page) == {"items", "next_cursor", "total", "total_is_lower_bound"}
    assert len(page["items"]) == 10 and page["next_cursor"]
    assert (page["total"], page["total_is_lower_bound"]) == (TICKETS, False)
    first = page["items"][0]
    assert first["state_label"]["zh-CN"] and first["allowed_next"] is not None
    opened = [item["opened_at"] for item in page["items"]]
    assert opened == sorted(opened, reverse=True)


def test_the_cursor_walks_every_ticket_once(
    client: TestClient, rows: tuple[Stores, dict[int, dict[str, Any]]]
) -> None:
    _stores, by_id = rows
    for sort in ("opened_at", "severity", "due", "updated"):
        for order in ("asc", "desc"):
            ids = [item["id"] for item in walk(client, {"sort": sort, "order": order, "limit": 7})]
            assert sorted(ids) == sorted(by_id), f"{sort} {order}"


def test_filters_search_and_multi_values_through_http(
    client: TestClient, rows: tuple[Stores, dict[int, dict[str, Any]]]
) -> None:
    _stores, by_id = rows

    def listed(params: dict[str, Any]) -> set[int]:
        return {item["id"] for item in walk(client, {**params, "limit": 500})}

    def expected(keep: Any) -> set[int]:
        return {i for i, row in by_id.items() if keep(row)}

    repeated = listed({"state": ["open", "reopened"], "site": "north"})
    assert repeated == listed({"state": "open,reopened", "site": "north"})
    assert repeated == expected(
        lambda r: r["state"] in ("open", "reopened") and r["site"] == "north"
    )
    assert listed({"overdue": "true", "kind": "pump"}) == expected(
        lambda r: overdue(r) and r["kind"] == "pump"
    )
    assert listed({"q": "Vibration", "severity": "major,minor"}) == expected(
        lambda r: "vibration" in r["summary"] and r["severity"] in ("major", "minor")
    )
    assert listed({"contractor": "HVAC Co", "assignee": "li"}) == expected(
        lambda r: r["contractor"] == "HVAC Co" and r["assignee"] == "li"
    )
    window = {"opened_from": "2027-03-02T00:00:00+08:00", "opened_to": "2027-03-03T00:00:00Z"}
    assert listed(window)
    assert all(
        "2027-03-01T16:00:00" <= item["opened_at"] < "2027-03-03" for item in walk(client, window)
    )


@pytest.mark.parametrize(
    ("params", "param", "allowed"),
    [
        ({"kind": "boiler"}, "kind", ["elevator", "lighting", "pump", "access"]),
        ({"severity": "urgent"}, "severity", ["critical", "major", "minor"]),
        ({"state": ["open", "done"]}, "state", None),
        ({"sort": "id"}, "sort", ["opened_at", "severity", "due", "updated"]),
        ({"order": "sideways"}, "order", ["asc", "desc"]),
        ({"limit": "501"}, "limit", ["1..500"]),
        ({"limit": "-1"}, "limit", ["1..500"]),
        ({"overdue": "perhaps"}, "overdue", ["true", "false"]),
        ({"opened_from": "2027-03-01"}, "opened_from", []),
        ({"cursor": "%%%"}, "cursor", []),
        ({"q": "\x01"}, "q", []),
    ],
)
def test_a_bad_parameter_is_422_naming_it_and_its_allowed_values(
    client: TestClient, params: dict[str, Any], param: str, allowed: list[str] | None
) -> None:
    response = client.get("/api/tickets/page", params=params)
    assert response.status_code == 422, response.text
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["query", param] and problem["field"] == param
    if allowed is not None:
        assert problem["allowed"] == allowed
    else:
        assert "closed" in problem["allowed"]
    assert problem["en"] and problem["zh"] and problem["en"] != problem["zh"]


def test_a_cursor_from_another_query_is_422(client: TestClient) -> None:
    cursor = client.get("/api/tickets/page", params={"site": "north", "limit": 2}).json()[
        "next_cursor"
    ]
    response = client.get("/api/tickets/page", params={"site": "south", "cursor": cursor})
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "cursor"


def test_the_board_list_keeps_its_shape(client: TestClient) -> None:
    response = client.get("/api/tickets", params={"limit": 300})
    assert response.status_code == 200
    assert isinstance(response.json(), list) and len(response.json()) == TICKETS
    assert response.headers["X-Total-Count"] == str(TICKETS)


def test_the_list_needs_a_token(rows: tuple[Stores, dict[int, dict[str, Any]]]) -> None:
    stores, _rows = rows
    response = TestClient(create_app(stores)).get("/api/tickets/page")
    assert response.status_code == 401
