"""The ledger's endpoints on SQLite and PostgreSQL: CRUD, filters and paging, import and
export, 4xx naming the field in English and Chinese, and who may do what."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from api.app import create_app
from api.routes.ledger import IMPORT_MAX_BYTES
from facmon.service import Stores
from tests.databases import BACKENDS, fresh_stores

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LEDGER = (
    "项目,楼栋,楼层,设备类型,设备编号,设备名称,维保单位\n"
    "hq,tower-a,1,门禁,door-1,大堂门禁,安盾智能\n"
    "riverside,block-1,1,access,door-1,单元门,安盾智能\n"
    "hq,plant,B2,水泵,pump-01,1号给水泵,清源水务\n"
)


@pytest.fixture(params=BACKENDS)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    with fresh_stores(request.param, tmp_path, "ledger_api") as opened:
        yield opened


def client_as(stores: Stores, role: str) -> TestClient:
    token = stores.tokens.create(role, f"{role}-test")[1]
    return TestClient(create_app(stores), headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def quality(stores: Stores) -> TestClient:
    return client_as(stores, "quality")


@pytest.fixture
def viewer(stores: Stores) -> TestClient:
    return client_as(stores, "viewer")


def upload(client: TestClient, data: bytes, name: str, **params: Any) -> Any:
    content_type = XLSX if name.endswith(".xlsx") else "text/csv"
    return client.post(
        "/api/ledger/import", files={"file": (name, data, content_type)}, params=params
    )


def problems(response: Any) -> dict[str, dict[str, str]]:
    assert response.status_code == 422, response.text
    return {entry["field"]: entry for entry in response.json()["detail"]}


def test_equipment_crud_and_two_sites_with_door_1(quality: TestClient) -> None:
    made = quality.post("/api/ledger/contractors", json={"name": "安盾智能", "kinds": ["门禁"]})
    assert made.status_code == 201 and made.json()["kinds"] == ["access"]
    for site, location in (("hq", "大堂"), ("riverside", "北门")):
        created = quality.post(
            "/api/ledger/equipment",
            json={
                "site": site,
                "building": "b1",
                "kind": "access",
                "device_id": "door-1",
                "name": "门禁",
                "location": location,
                "contractor": "安盾智能",
                "install_date": "2021-04-12",
                "reporting_interval_s": 30,
                "criticality": "A",
            },
        )
        assert created.status_code == 201, created.text
        assert created.json()["contractor_id"] == made.json()["id"]
    assert quality.get("/api/ledger/equipment/riverside/door-1").json()["location"] == "北门"
    again = quality.post(
        "/api/ledger/equipment",
        json={"site": "hq", "building": "b1", "kind": "access", "device_id": "door-1", "name": "x"},
    )
    assert again.status_code == 409 and "PATCH" in again.json()["detail"]

    changed = quality.patch(
        "/api/ledger/equipment/hq/door-1", json={"status": "under_maintenance", "floor": "2"}
    )
    assert changed.status_code == 200
    assert (changed.json()["status"], changed.json()["floor"]) == ("under_maintenance", "2")
    assert quality.get("/api/ledger/equipment/riverside/door-1").json()["status"] == "in_service"

    gone = quality.post("/api/ledger/equipment/hq/door-1/decommission", json={"reason": "换新"})
    assert gone.status_code == 200
    assert gone.json()["status"] == "decommissioned" and gone.json()["decommissioned_at"]
    twice = quality.post("/api/ledger/equipment/hq/door-1/decommission")
    assert twice.status_code == 409 and "已经报废" in twice.json()["detail"]
    assert quality.get("/api/ledger/equipment/hq/door-1").status_code == 200  # never deleted
    assert quality.get("/api/ledger/equipment/hq/door-9").status_code == 404
    assert quality.patch("/api/ledger/equipment/hq/door-9", json={"name": "x"}).status_code == 404


def test_list_filters_and_pages_with_total(quality: TestClient) -> None:
    assert upload(quality, LEDGER.encode(), "ledger.csv").status_code == 200
    page = quality.get("/api/ledger/equipment", params={"limit": 2}).json()
    assert (page["total"], len(page["items"]), page["limit"], page["offset"]) == (3, 2, 2, 0)
    rest = quality.get("/api/ledger/equipment", params={"limit": 2, "offset": 2}).json()
    assert len(rest["items"]) == 1 and rest["total"] == 3
    seen = [(d["site"], d["device_id"]) for d in page["items"] + rest["items"]]
    assert sorted(seen) == [("hq", "door-1"), ("hq", "pump-01"), ("riverside", "door-1")]

    def total(**params: str) -> int:
        response = quality.get("/api/ledger/equipment", params=params)
        assert response.status_code == 200, response.text
        return int(response.json()["total"])

    assert total(site="hq") == 2
    assert total(kind="access") == 2
    assert total(kind="access", site="riverside", building="block-1", floor="1") == 1
    assert total(contractor="清源水务") == 1
    assert total(status="pending") == 0
    assert total(q="给水") == 1 and total(q="DOOR") == 2


def test_contractors_list_create_update(quality: TestClient, viewer: TestClient) -> None:
    made = quality.post(
        "/api/ledger/contractors",
        json={"name": "Otis", "phone": "021-5555 0101", "email": "a@otis.example.com"},
    ).json()
    assert quality.post("/api/ledger/contractors", json={"name": "Otis"}).status_code == 409
    changed = quality.patch(f"/api/ledger/contractors/{made['id']}", json={"active": False})
    assert changed.status_code == 200 and changed.json()["active"] is False
    assert [c["name"] for c in viewer.get("/api/ledger/contractors").json()] == ["Otis"]
    assert viewer.get("/api/ledger/contractors", params={"active": True}).json() == []
    assert quality.patch("/api/ledger/contractors/999", json={"active": True}).status_code == 404


def test_bad_bodies_are_422_naming_the_field_in_both_languages(quality: TestClient) -> None:
    refused = quality.post(
        "/api/ledger/equipment",
        json={
            "site": "hq",
            "building": "b/1",
            "kind": "lift",
            "device_id": "",
            "reporting_interval_s": 0,
            "install_date": "yesterday",
            "colour": "red",
        },
    )
    found = problems(refused)
    assert set(found) == {
        "building",
        "kind",
        "device_id",
        "name",
        "reporting_interval_s",
        "install_date",
        "colour",
    }
    assert "elevator, lighting, pump, access" in found["kind"]["en"]
    assert "设备类型" in found["kind"]["zh"] and "设备编号" in found["device_id"]["zh"]
    assert "YYYY-MM-DD" in found["install_date"]["en"]
    assert found["colour"]["en"].endswith("remove it")

    unknown = problems(
        quality.post(
            "/api/ledger/equipment",
            json={
                "site": "hq",
                "building": "b",
                "kind": "pump",
                "device_id": "p",
                "name": "P",
                "contractor": "Nobody",
            },
        )
    )
    assert "POST /api/ledger/contractors" in unknown["contractor"]["en"]

    quality.post(
        "/api/ledger/equipment",
        json={"site": "hq", "building": "b", "kind": "pump", "device_id": "p", "name": "P"},
    )
    patch = problems(
        quality.patch(
            "/api/ledger/equipment/hq/p",
            json={"site": "elsewhere", "status": "decommissioned", "name": None},
        )
    )
    assert "identity" in patch["site"]["en"] and "身份标识" in patch["site"]["zh"]
    assert "/decommission" in patch["status"]["en"]
    assert "required" in patch["name"]["en"]

    assert "email" in problems(
        quality.post("/api/ledger/contractors", json={"name": "X", "email": "not-mail"})
    )
    broken = problems(
        quality.post(
            "/api/ledger/equipment", content=b"{oops", headers={"Content-Type": "application/json"}
        )
    )
    assert "not valid JSON" in broken["body"]["en"] and "请求体" in broken["body"]["zh"]
    bad_query = problems(quality.get("/api/ledger/equipment", params={"kind": "lift", "limit": 0}))
    assert set(bad_query) == {"kind", "limit"}
    assert quality.get("/api/ledger/equipment/h%20q/p").status_code == 422


def test_import_reports_rows_and_imports_nothing_unless_skip_errors(
    quality: TestClient,
) -> None:
    data = (LEDGER + "hq,tower-a,1,电梯,lift/1,1号梯,\n").encode()
    refused = upload(quality, data, "ledger.csv")
    assert refused.status_code == 422
    report = refused.json()["detail"]["report"]
    assert (report["applied"], report["imported"], report["skipped"]) == (False, 0, 1)
    assert [(p["line"], p["column"]) for p in report["problems"]] == [(5, "设备编号")]
    assert "未导入任何数据" in refused.json()["detail"]["message"]
    assert quality.get("/api/ledger/equipment").json()["total"] == 0

    accepted = upload(quality, data, "ledger.csv", skip_errors="true")
    assert accepted.status_code == 200
    body = accepted.json()
    assert (body["applied"], body["imported"], body["created"], body["skipped"]) == (True, 3, 3, 1)
    assert sorted(body["contractors_created"]) == ["安盾智能", "清源水务"]
    assert quality.get("/api/ledger/equipment").json()["total"] == 3


def test_export_as_csv_and_xlsx_and_import_back(quality: TestClient, viewer: TestClient) -> None:
    upload(quality, LEDGER.encode(), "ledger.csv")
    csv_answer = viewer.get("/api/ledger/export")
    assert csv_answer.status_code == 200 and csv_answer.headers["content-type"].startswith(
        "text/csv"
    )
    assert 'filename="ledger.csv"' in csv_answer.headers["content-disposition"]
    assert csv_answer.content.decode("utf-8-sig").splitlines()[0].startswith("site,building,floor")

    xlsx_answer = viewer.get("/api/ledger/export", params={"format": "xlsx", "site": "hq"})
    assert xlsx_answer.headers["content-type"] == XLSX
    assert 'filename="ledger-hq.xlsx"' in xlsx_answer.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(xlsx_answer.content)).active
    assert sheet is not None and sheet.max_row == 3  # header and the two hq devices

    back = upload(quality, xlsx_answer.content, "ledger-hq.xlsx")
    assert back.status_code == 200 and (back.json()["updated"], back.json()["created"]) == (2, 0)
    assert viewer.get("/api/ledger/export", params={"format": "pdf"}).status_code == 422


@pytest.mark.parametrize(
    ("data", "name", "content_type", "status", "words"),
    [
        (b"%PDF-1.4", "ledger.pdf", "application/pdf", 415, ".csv or .xlsx"),
        (b"", "ledger.csv", "text/csv", 422, "no header row"),
        (b"site,building\nhq,b\n", "ledger.xlsx", XLSX, 422, "not a zip archive"),
        (b"PK\x03\x04junk", "ledger.xlsx", XLSX, 422, "not an Excel .xlsx workbook"),
        (b"site,kind\nhq,pump\n", "ledger.csv", "text/csv", 422, "lacks required columns"),
        (b"old", "ledger.xls", "application/vnd.ms-excel", 415, "save the sheet as Excel .xlsx"),
    ],
)
def test_bad_files_are_4xx_saying_what_to_do(
    quality: TestClient, data: bytes, name: str, content_type: str, status: int, words: str
) -> None:
    response = quality.post("/api/ledger/import", files={"file": (name, data, content_type)})
    assert response.status_code == status, response.text
    assert words in response.json()["detail"] and " / " in response.json()["detail"]


def test_an_upload_without_a_file_or_a_file_name_with_a_known_type(quality: TestClient) -> None:
    assert "file" in problems(quality.post("/api/ledger/import"))
    unnamed = quality.post(
        "/api/ledger/import", files={"file": ("blob", LEDGER.encode(), "text/csv")}
    )
    assert unnamed.status_code == 200 and unnamed.json()["imported"] == 3


def test_roles_viewers_read_quality_and_admin_write(stores: Stores) -> None:
    anonymous = TestClient(create_app(stores))
    assert anonymous.get("/api/ledger/equipment").status_code == 401
    body = {"site": "hq", "building": "b", "kind": "pump", "device_id": "p1", "name": "P"}
    for role, may_write in (
        ("viewer", False),
        ("engineer", False),
        ("quality", True),
        ("admin", True),
    ):
        client = client_as(stores, role)
        assert client.get("/api/ledger/equipment").status_code == 200
        assert client.get("/api/ledger/contractors").status_code == 200
        assert client.get("/api/ledger/export").status_code == 200
        attempts = [
            client.post("/api/ledger/equipment", json={**body, "device_id": f"p-{role}"}),
            client.post("/api/ledger/contractors", json={"name": f"c-{role}"}),
            upload(client, LEDGER.encode(), "ledger.csv"),
        ]
        for attempt in attempts:
            assert (attempt.status_code < 300) == may_write, (role, attempt.text)
            if not may_write:
                assert attempt.status_code == 403
    viewer = client_as(stores, "viewer")
    assert viewer.patch("/api/ledger/equipment/hq/p-quality", json={"name": "x"}).status_code == 403
    assert viewer.post("/api/ledger/equipment/hq/p-quality/decommission").status_code == 403
    assert viewer.patch("/api/ledger/contractors/1", json={"active": False}).status_code == 403


def test_a_ledger_file_has_its_own_body_cap(quality: TestClient) -> None:
    """Over the API's 64 KiB cap for other bodies, a ledger file is read; over its own
    cap it is refused with 413 and nothing is imported."""
    rows = "".join(f"hq,b1,,pump,p-{i:05d},Pump {i},\n" for i in range(3000))
    data = "site,building,floor,kind,device_id,name,contractor\n" + rows
    assert len(data) > 64 * 1024
    response = upload(quality, data.encode(), "ledger.csv")
    assert response.status_code == 200, response.text
    assert quality.get("/api/ledger/equipment").json()["total"] == 3000
    huge = data.encode() + b"#" * (IMPORT_MAX_BYTES + 1)
    refused = upload(quality, huge, "ledger.csv")
    assert refused.status_code == 413 and "limit" in refused.json()["detail"]
    assert quality.get("/api/ledger/equipment").json()["total"] == 3000
