"""GET /api/kpis/contractors: each contractor's scorecard, figures worked out by hand,
through the real app on SQLite and PostgreSQL; a contractor's token sees its own card."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from contract.clock import ManualClock
from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from facmon.service import Stores
from facmon.settings import Settings
from quality.tickets.lifecycle import Role
from tests.conftest import unique
from tests.quality.tickets.conftest import POSTGRES_URL

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    values: dict[str, object] = {"data_dir": tmp_path}
    if request.param == "postgresql":
        values["database_url"] = POSTGRES_URL
    opened = Stores.open(Settings(_env_file=None, **values))  # type: ignore[arg-type, call-arg]
    opened.tickets.clock = ManualClock(T0)
    yield opened
    opened.close()


def _client(stores: Stores, role: str, contractor: str | None = None) -> TestClient:
    token = stores.tokens.create(role, unique(role), contractor)[1]
    return TestClient(create_app(stores), headers={"Authorization": f"Bearer {token}"})


def test_scorecards_worked_out_by_hand(stores: Stores) -> None:
    site = unique("site")
    lifts, pumps = unique("lifts"), unique("pumps")
    clock = stores.tickets.clock
    assert isinstance(clock, ManualClock)
    tickets = stores.tickets

    def opened(device: str) -> int:
        finding = Finding(
            DeviceRef(site, "b1", "pump", device), "leakage", Severity.MAJOR, "d", "1", 1, "s", {}
        )
        return tickets.record(finding).ticket_id

    def acknowledge(ticket_id: int) -> None:
        tickets.transition(ticket_id, "acknowledged", "tech", Role.ENGINEER)

    # pumps, ticket 1: dispatched at 08:10, acknowledged 08:16 (360 s), rectified 08:40
    # (deadline 72 h: on time), verified and closed: a first-time fix.
    first = opened("p1")
    clock.advance(minutes=10)
    tickets.assign(first, "wang", "qa", Role.QUALITY, None, contractor=pumps)
    clock.advance(minutes=6)
    acknowledge(first)
    clock.advance(minutes=24)
    tickets.transition(first, "rectified", "wang", Role.ENGINEER, "seal replaced")
    tickets.transition(first, "verified", "qa", Role.QUALITY, "checked")
    tickets.transition(first, "closed", "qa", Role.QUALITY)
    # pumps, ticket 2: opened 08:40, dispatched at once, acknowledged 2 h later (7,200 s),
    # rectified 4 days after opening: past the 72 h deadline.
    second = opened("p2")
    tickets.assign(second, "wang", "qa", Role.QUALITY, None, contractor=pumps)
    clock.advance(hours=2)
    acknowledge(second)
    clock.advance(days=4)
    tickets.transition(second, "rectified", "wang", Role.ENGINEER, "impeller replaced")
    # lifts: one ticket acknowledged 30 min after its dispatch (1,800 s), not rectified.
    third = opened("p3")
    tickets.assign(third, "li", "qa", Role.QUALITY, None, contractor=lifts)
    clock.advance(minutes=30)
    acknowledge(third)
    # a ticket never dispatched to a contractor counts for nobody
    opened("p4")

    period = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-08T00:00:00Z", "site": site}
    quality = _client(stores, "quality")
    response = quality.get("/api/kpis/contractors", params=period)
    assert response.status_code == 200, response.text
    body = response.json()
    cards = {c["contractor"]: c for c in body["contractors"]}
    assert set(cards) == {lifts, pumps}
    assert cards[pumps] | {"contractor": None} == {
        "contractor": None,
        "tickets": 2,
        "response_time_s": pytest.approx((360 + 7200) / 2),
        "on_time_rectification_pct": pytest.approx(50.0),
        "first_time_fix_pct": pytest.approx(100.0),
        "repeats": 0,
        "yellow_cards": 0,
        "red_cards": 0,
    }
    assert cards[lifts]["tickets"] == 1
    assert cards[lifts]["response_time_s"] == pytest.approx(1800)
    assert cards[lifts]["on_time_rectification_pct"] is None
    assert body["labels"]["on_time_rectification_pct"]["zh-CN"] == "按时整改率"

    own = _client(stores, "engineer", lifts).get("/api/kpis/contractors", params=period).json()
    assert [c["contractor"] for c in own["contractors"]] == [lifts]
    bad = quality.get("/api/kpis/contractors", params={"from": "yesterday"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "from"
