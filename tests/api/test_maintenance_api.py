"""The maintenance endpoints on SQLite and PostgreSQL: plans (CRUD, the quality role
writes, viewers read), refusals naming the field and the fix in English and Chinese,
work orders with their overrun flag, windows, suppressed findings, the execution rate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from facmon.service import Stores
from quality.ledger.store import LedgerStore
from quality.ledger.validation import EquipmentCreate
from tests.databases import BACKENDS, fresh_stores


@pytest.fixture(params=BACKENDS)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    with fresh_stores(request.param, tmp_path, "maint_api") as opened:
        yield opened


def client_as(stores: Stores, role: str) -> TestClient:
    token = stores.tokens.create(role, f"{role}-test")[1]
    return TestClient(create_app(stores), headers={"Authorization": f"Bearer {token}"})


def _device(stores: Stores, site: str, device_id: str, kind: str = "pump") -> None:
    LedgerStore(stores.engine).create(
        EquipmentCreate.model_validate(
            {"site": site, "building": "b1", "kind": kind, "device_id": device_id, "name": "x"}
        )
    )


def _cjk(value: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in value)


def test_plan_crud_and_who_may_write(stores: Stores, site: str) -> None:
    _device(stores, site, "pump-1")
    quality, viewer = client_as(stores, "quality"), client_as(stores, "viewer")
    body: dict[str, Any] = {
        "name": "pump quarterly",
        "site": site,
        "device_id": "pump-1",
        "rrule": "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=1",
        "start": "2027-01-01",
        "lead_days": 7,
        "checklist": "bearings; seals",
    }
    assert viewer.post("/api/maintenance/plans", json=body).status_code == 403
    created = quality.post("/api/maintenance/plans", json=body)
    assert created.status_code == 201, created.text
    plan = created.json()
    assert (plan["scope"], plan["rrule"], plan["created_by"]) == (
        "device",
        body["rrule"],
        "quality-test",
    )
    assert viewer.get(f"/api/maintenance/plans/{plan['id']}").json()["lead_days"] == 7
    replaced = quality.put(
        f"/api/maintenance/plans/{plan['id']}",
        json={"name": "pump monthly", "kind": "pump", "site": site, "monthly_day": 5},
    )
    assert replaced.status_code == 200
    assert (replaced.json()["scope"], replaced.json()["rrule"]) == (
        "kind",
        "FREQ=MONTHLY;BYMONTHDAY=5",
    )
    assert quality.delete(f"/api/maintenance/plans/{plan['id']}").json()["active"] is False
    assert [p["id"] for p in viewer.get("/api/maintenance/plans?active=false").json()] == [
        plan["id"]
    ]
    assert viewer.get("/api/maintenance/plans?active=true").json() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "kind": "pump"}, "every_days"),
        ({"name": "x", "kind": "boiler", "every_days": 7}, "kind"),
        ({"name": "x", "kind": "pump", "every_days": 7, "rrule": "FREQ=DAILY"}, "rrule"),
        ({"name": "x", "kind": "pump", "rrule": "every tuesday"}, "rrule"),
        ({"name": "x", "site": "s", "device_id": "ghost", "every_days": 7}, "device_id"),
        ({"kind": "pump", "every_days": 7}, "name"),
        ([1, 2], "body"),
    ],
)
def test_a_refused_plan_names_the_field_and_the_fix(stores: Stores, body: Any, field: str) -> None:
    refused = client_as(stores, "quality").post("/api/maintenance/plans", json=body)
    assert refused.status_code == 422
    answer = refused.json()
    assert answer["field"] == field and _cjk(answer["zh"]) and answer["en"]
    assert client_as(stores, "viewer").get("/api/maintenance/plans").json() == []


def test_missing_plans_answer_404(stores: Stores) -> None:
    quality = client_as(stores, "quality")
    for response in (
        quality.get("/api/maintenance/plans/99"),
        quality.put("/api/maintenance/plans/99", json={"name": "x", "kind": "pump"}),
        quality.delete("/api/maintenance/plans/99"),
    ):
        assert response.status_code == 404
        assert response.json()["field"] == "plan_id" and _cjk(response.json()["zh"])


def test_work_orders_windows_suppressed_and_execution_rate(stores: Stores, site: str) -> None:
    _device(stores, site, "pump-1")
    _device(stores, site, "door-1", kind="access")
    quality, viewer = client_as(stores, "quality"), client_as(stores, "viewer")
    assert (
        quality.post(
            "/api/maintenance/plans",
            json={"name": "pumps", "site": site, "kind": "pump", "every_days": 30},
        ).status_code
        == 201
    )
    assert viewer.post("/api/maintenance/run").status_code == 403
    run = quality.post("/api/maintenance/run").json()
    assert run["opened"] == 1
    assert quality.post("/api/maintenance/run").json()["opened"] == 0
    (order,) = viewer.get("/api/maintenance/work-orders", params={"site": site}).json()
    assert (order["device_id"], order["state"], order["overrun"]) == ("pump-1", "open", False)
    assert order["ticket_id"] == run["ticket_ids"][0]

    window = {
        "site": site,
        "device_id": "door-1",
        "from": "2027-03-01T08:00:00+08:00",
        "to": "2027-03-01T12:00:00+08:00",
        "reason": "lock replacement",
    }
    assert viewer.post("/api/maintenance/windows", json=window).status_code == 403
    created = quality.post("/api/maintenance/windows", json=window)
    assert created.status_code == 201
    assert created.json()["overrun"] is False and created.json()["to"].startswith("2027-03-01T04")
    refused = quality.post("/api/maintenance/windows", json={**window, "to": window["from"]})
    assert refused.status_code == 422 and refused.json()["field"] == "to"
    listed = viewer.get("/api/maintenance/windows", params={"site": site}).json()
    assert [w["reason"] for w in listed] == ["lock replacement"]
    assert (
        viewer.get(
            "/api/maintenance/suppressed", params={"site": site, "device_id": "door-1"}
        ).json()
        == []
    )
    assert viewer.get("/api/maintenance/suppressed").status_code == 422  # site is required

    rate = viewer.get(
        "/api/maintenance/execution-rate",
        params={"start": "2000-01-01T00:00:00Z", "end": "2100-01-01T00:00:00Z", "by": "kind"},
    )
    assert rate.status_code == 200 and rate.json() == []  # nothing past its planned end yet
    bad = viewer.get(
        "/api/maintenance/execution-rate",
        params={"start": "2027-02-01T00:00:00Z", "end": "2027-01-01T00:00:00Z"},
    )
    assert bad.status_code == 422 and bad.json()["field"] == "end"


def test_a_malformed_body_or_parameter_is_a_bilingual_422(stores: Stores) -> None:
    quality = client_as(stores, "quality")
    broken = quality.post(
        "/api/maintenance/plans",
        content=b'{"name": "x",',
        headers={"Content-Type": "application/json"},
    )
    assert broken.status_code == 422
    assert all(_cjk(entry["zh"]) and entry["en"] for entry in broken.json()["detail"])
    for response in (
        quality.get("/api/maintenance/work-orders", params={"limit": 0}),
        quality.get("/api/maintenance/execution-rate", params={"start": "soon", "end": "x"}),
        quality.get("/api/maintenance/plans/0"),
    ):
        assert response.status_code == 422
        fields = {entry["field"] for entry in response.json()["detail"]}
        assert fields & {"limit", "start", "end", "plan_id"}
        assert all(_cjk(entry["zh"]) for entry in response.json()["detail"])
