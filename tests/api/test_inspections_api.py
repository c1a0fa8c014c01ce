"""Findings by people through the real app, on SQLite and PostgreSQL: manual tickets with
photos, photos served with their types, refusals that store nothing, inspection routes
and rounds, the completion KPI, and who may do what."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from api.app import MAX_BODY_BYTES, create_app
from facmon.service import Stores
from facmon.settings import Settings
from quality.inspections.models import InspectionAnswer
from quality.photos.models import Photo
from quality.tickets.models import Ticket
from tests.api.test_body_limit import BodyReads
from tests.conftest import unique
from tests.quality.inspections import samples
from tests.quality.inspections.test_photos import s3_endpoint
from tests.quality.tickets.conftest import POSTGRES_URL

PHOTO_LIMIT = 200_000  # bytes per photo in these tests
__all__ = ["s3_endpoint"]  # a real S3 server (moto), shared with the photo store's tests


@pytest.fixture(params=["sqlite", "postgresql"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    extra: dict[str, Any] = {}
    schema = None
    if request.param == "postgresql":
        schema = unique("insp").replace("-", "_")
        admin = create_engine(POSTGRES_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        extra["database_url"] = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path,
        photo_max_bytes=PHOTO_LIMIT,
        photo_max_count=3,
        **extra,
    )
    stores = Stores.open(settings)
    yield stores
    stores.close()
    if schema is not None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def client_for(stores: Stores, role: str, name: str | None = None) -> TestClient:
    token = stores.tokens.create(role, name or f"{role}-user")[1]
    return TestClient(create_app(stores), headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def inspector(stores: Stores) -> TestClient:
    return client_for(stores, "inspector", "wang")


def counts(stores: Stores) -> tuple[int, int, int, int]:
    """Tickets, photo rows, answers and photo files: what a refusal must leave untouched."""
    with Session(stores.engine) as session:
        tickets = session.scalar(select(func.count()).select_from(Ticket)) or 0
        photos = session.scalar(select(func.count()).select_from(Photo)) or 0
        answers = session.scalar(select(func.count()).select_from(InspectionAnswer)) or 0
    root = Path(stores.settings.data_dir) / "photos"
    files = len([p for p in root.rglob("*") if p.is_file()]) if root.exists() else 0
    return tickets, photos, answers, files


PLACE = {
    "site": "hq",
    "building": "B1",
    "floor": "F1",
    "place": "lobby",
    "category": "lamp_failure",
    "severity": "minor",
    "description": "two lamps out in the lobby",
}


def test_manual_ticket_with_jpeg_png_and_heic_photos(stores: Stores, inspector: TestClient) -> None:
    files = [
        ("photos", ("lamp.jpg", samples.jpeg(rotated=True, gps=True), "image/jpeg")),
        ("photos", ("wide.png", samples.png(), "image/png")),
        ("photos", ("phone.heic", samples.heic(), "image/heic")),
    ]
    response = inspector.post("/api/tickets/manual", data=PLACE, files=files)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["opened"], len(body["photos"])) == (True, 3)
    assert [p["upload_type"] for p in body["photos"]] == ["image/jpeg", "image/png", "image/heic"]

    ticket = inspector.get(f"/api/tickets/{body['ticket_id']}").json()
    assert (ticket["site"], ticket["building"], ticket["kind"]) == ("hq", "B1", "place")
    assert (ticket["fault_type"], ticket["severity"], ticket["state"]) == (
        "lamp_failure",
        "minor",
        "open",
    )
    assert ticket["detector"] == "manual:wang"
    assert ticket["dispatch_due_at"]  # the SLA clocks run as for a detector's ticket
    assert ticket["evidence"]["description"] == PLACE["description"]
    assert ticket["evidence"]["photos"] == [p["id"] for p in body["photos"]]

    viewer = client_for(stores, "viewer")
    served_types = ["image/jpeg", "image/png", "image/jpeg"]
    for photo, served_type in zip(body["photos"], served_types, strict=True):
        full = viewer.get(photo["url"])
        assert full.status_code == 200
        assert full.headers["content-type"] == served_type
        assert samples.opened(full.content).format == served_type.split("/")[1].upper()
        thumbnail = viewer.get(photo["thumbnail_url"])
        assert thumbnail.headers["content-type"] == "image/jpeg"
        assert max(samples.opened(thumbnail.content).size) == 320
    upright = samples.opened(viewer.get(body["photos"][0]["url"]).content)
    assert upright.size == (600, 800)
    assert samples.GPS_IFD not in upright.getexif()
    missing = viewer.get("/api/photos/" + "0" * 32)
    assert missing.status_code == 404 and "没有照片" in missing.json()["zh"]


@pytest.mark.parametrize(
    ("upload", "status", "field", "words"),
    [
        ([samples.jpeg(), samples.PDF], 415, "photos[1]", "not an image"),
        ([samples.jpeg(), samples.gif()], 415, "photos[1]", "GIF"),
        ([samples.png(), b"\xff\xd8\xff" + b"\0" * (PHOTO_LIMIT + 1)], 413, "photos[1]", "limit"),
        ([samples.jpeg()] * 4, 422, "photos", "at most 3"),
        ([samples.jpeg()[:500]], 422, "photos[0]", "damaged"),
    ],
)
def test_a_wrong_photo_is_refused_and_nothing_is_stored(
    stores: Stores,
    inspector: TestClient,
    upload: list[bytes],
    status: int,
    field: str,
    words: str,
) -> None:
    # Every file is named .jpg and announced as image/jpeg: only the bytes count.
    files = [("photos", (f"p{i}.jpg", data, "image/jpeg")) for i, data in enumerate(upload)]
    response = inspector.post("/api/tickets/manual", data=PLACE, files=files)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["field"] == field
    assert words in body["en"]
    assert body["zh"] and body["zh"] in body["detail"]
    assert counts(stores) == (0, 0, 0, 0)


def test_a_body_over_the_upload_cap_is_413_and_other_routes_keep_theirs(
    stores: Stores, inspector: TestClient
) -> None:
    cap = 3 * PHOTO_LIMIT + 1024 * 1024
    files = [("photos", ("big.jpg", b"\0" * (cap + 1), "image/jpeg"))]
    response = inspector.post("/api/tickets/manual", data=PLACE, files=files)
    assert response.status_code == 413
    assert str(cap) in response.json()["detail"]
    quality = client_for(stores, "quality")
    route = quality.post("/api/inspections/routes", content=b"{" + b" " * MAX_BODY_BYTES + b"}")
    assert response.status_code == 413 and route.status_code == 413
    assert str(MAX_BODY_BYTES) in route.json()["detail"]
    assert counts(stores) == (0, 0, 0, 0)


def test_where_and_category_are_checked(stores: Stores, inspector: TestClient) -> None:
    cases = [
        ({**PLACE, "category": "broken_vibes"}, "category"),
        ({k: v for k, v in PLACE.items() if k != "place"}, "place"),
        ({**PLACE, "device_id": "ghost-9"}, "device_id"),
        ({**PLACE, "observed_at": "0001-01-01T00:00:00+08:00"}, "observed_at"),
        ({**PLACE, "observed_at": "2999-01-01T00:00:00Z"}, "observed_at"),
    ]
    for form, field in cases:
        response = inspector.post("/api/tickets/manual", data=form)
        assert response.status_code == 422, response.text
        assert response.json()["field"] == field
    missing = inspector.post("/api/tickets/manual", data={"site": "hq"})
    assert missing.status_code == 422
    assert {e["loc"][-1] for e in missing.json()["detail"]} >= {"category", "description"}
    assert counts(stores) == (0, 0, 0, 0)


def test_an_unknown_caller_is_refused_before_the_upload_is_read(stores: Stores) -> None:
    watched = BodyReads(stores)
    client = TestClient(watched)
    for path in ("/api/tickets/manual", "/api/inspections/rounds/1/answers"):
        watched.read = False
        files = [("photos", ("p.jpg", samples.jpeg(), "image/jpeg"))]
        response = client.post(path, data=PLACE, files=files)
        assert response.status_code == 401
        assert not watched.read, path


ROUTE = {
    "name": "B1 daily round",
    "site": "hq",
    "stops": [
        {
            "device_id": "pump-1",
            "building": "B1",
            "kind": "pump",
            "items": [
                {
                    "question": "Outlet pressure",
                    "kind": "number",
                    "minimum": 0.2,
                    "maximum": 0.6,
                    "unit": "MPa",
                    "category": "leakage",
                    "severity": "major",
                },
                {"question": "Seal dry", "kind": "pass_fail", "category": "leakage"},
            ],
        },
        {
            "building": "B1",
            "floor": "B1",
            "place": "stairwell",
            "items": [{"question": "Exit sign lit", "kind": "pass_fail"}],
        },
        {
            "device_id": "lift-2",
            "building": "B1",
            "kind": "elevator",
            "items": [{"question": "Car remarks", "kind": "text"}],
        },
    ],
}


def test_a_round_with_a_failed_item_and_a_skipped_stop(
    stores: Stores, inspector: TestClient
) -> None:
    quality = client_for(stores, "quality")
    created = quality.post("/api/inspections/routes", json=ROUTE)
    assert created.status_code == 201, created.text
    route = created.json()
    assert [len(stop["items"]) for stop in route["stops"]] == [2, 1, 1]
    assert inspector.get("/api/inspections/routes").json()[0]["id"] == route["id"]

    started = inspector.post("/api/inspections/rounds", json={"route_id": route["id"]})
    assert started.status_code == 201, started.text
    round_id = started.json()["id"]
    answers = f"/api/inspections/rounds/{round_id}/answers"

    passed = inspector.post(answers, data={"stop": 0, "item": 1, "value": "pass"})
    assert passed.status_code == 201 and passed.json()["ticket_id"] is None
    failed = inspector.post(
        answers,
        data={
            "stop": 0,
            "item": 0,
            "value": "0.82",
            "note": "needle past the red line",
            "answered_at": "2026-01-05T09:30:00+08:00",
        },
        files=[("photos", ("gauge.jpg", samples.jpeg(), "image/jpeg"))],
    )
    assert failed.status_code == 201, failed.text
    answer = failed.json()
    assert answer["passed"] is False
    assert answer["answered_at"].startswith("2026-01-05T01:30:00")
    ticket = inspector.get(f"/api/tickets/{answer['ticket_id']}").json()
    assert (ticket["device_id"], ticket["fault_type"], ticket["severity"]) == (
        "pump-1",
        "leakage",
        "major",
    )
    evidence = ticket["evidence"]
    assert evidence["photos"] == answer["photos"]
    assert evidence["inspection"]["answer"] == "0.82"
    assert evidence["inspection"]["question"] == "Outlet pressure"
    assert evidence["inspection"]["note"] == "needle past the red line"
    photo = inspector.get(f"/api/photos/{answer['photos'][0]}")
    assert photo.headers["content-type"] == "image/jpeg"

    again = inspector.post(answers, data={"stop": 0, "item": 0, "value": "0.3"})
    assert again.status_code == 409 and "已有回答" in again.json()["zh"]
    wrong = inspector.post(answers, data={"stop": 2, "item": 0, "value": " "})
    assert (wrong.status_code, wrong.json()["field"]) == (422, "value")
    odd_time = {"stop": 2, "item": 0, "value": "ok", "answered_at": "0001-01-01T00:00:00+08:00"}
    refused = inspector.post(answers, data=odd_time)
    assert (refused.status_code, refused.json()["field"]) == (422, "answered_at")
    text_answer = inspector.post(answers, data={"stop": 2, "item": 0, "value": "clean"})
    assert text_answer.status_code == 201

    finished = inspector.post(f"/api/inspections/rounds/{round_id}/finish")
    assert finished.status_code == 200, finished.text
    result = finished.json()
    assert (result["stops_answered"], result["stops_skipped"]) == (2, [1])
    assert result["completion"] == pytest.approx(2 / 3)
    late = inspector.post(answers, data={"stop": 1, "item": 0, "value": "pass"})
    assert late.status_code == 409
    kpi = inspector.get("/api/inspections/completion", params={"site": "hq"}).json()
    assert (kpi["rounds"], kpi["stops_planned"], kpi["stops_done"]) == (1, 3, 2)
    assert kpi["completion"] == pytest.approx(2 / 3)
    assert kpi["label"]["zh-CN"] == "巡检完成率"
    early = inspector.get("/api/inspections/completion", params={"until": "0001-01-02T00:00:00Z"})
    assert early.status_code == 200 and early.json()["completion"] is None
    shifted = inspector.get(
        "/api/inspections/completion", params={"until": "0001-01-01T01:00:00+08:00"}
    )
    assert (shifted.status_code, shifted.json()["field"]) == (422, "until")
    assert quality.delete(f"/api/inspections/routes/{route['id']}").status_code == 409


def test_roles(stores: Stores, inspector: TestClient) -> None:
    viewer = client_for(stores, "viewer")
    quality = client_for(stores, "quality")
    opened = inspector.post("/api/tickets/manual", data=PLACE)
    assert opened.status_code == 201
    ticket_id = opened.json()["ticket_id"]
    # An inspector reports but does not dispatch, and does not write routes.
    assign = inspector.post(f"/api/tickets/{ticket_id}/assign", json={"assignee": "team-a"})
    assert assign.status_code == 403
    move = inspector.post(f"/api/tickets/{ticket_id}/transitions", json={"to": "dispatched"})
    assert move.status_code == 403
    assert inspector.post("/api/inspections/routes", json=ROUTE).status_code == 403
    # A viewer reads, but opens no ticket and runs no round.
    assert viewer.post("/api/tickets/manual", data=PLACE).status_code == 403
    route_id = quality.post("/api/inspections/routes", json=ROUTE).json()["id"]
    assert viewer.post("/api/inspections/rounds", json={"route_id": route_id}).status_code == 403
    assert viewer.get(f"/api/inspections/routes/{route_id}").status_code == 200
    assert viewer.get("/api/inspections/categories").json()["other"]["zh-CN"] == "其他问题"
    # Engineers and above may do what an inspector may.
    engineer = client_for(stores, "engineer")
    assert engineer.post("/api/inspections/rounds", json={"route_id": route_id}).status_code == 201
    assert counts(stores)[0] == 1


def test_facmon_token_create_makes_an_inspector_token(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FACMON_")}
    clean["FACMON_DATA_DIR"] = str(tmp_path)
    run = [sys.executable, "-m", "facmon.cli", "token", "create", "--role", "inspector"]
    made = subprocess.run(run, capture_output=True, text=True, env=clean, check=False)
    assert made.returncode == 0, made.stderr
    assert "(inspector)" in made.stderr
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    stores = Stores.open(settings)
    try:
        principal = stores.tokens.authenticate(made.stdout.strip())
        assert principal is not None and principal.role.value == "inspector"
    finally:
        stores.close()


def test_photos_go_to_the_s3_bucket_the_settings_name(tmp_path: Path, s3_endpoint: str) -> None:
    bucket = unique("facmon-photos")
    keys = {"aws_access_key_id": "test-key", "aws_secret_access_key": "test-secret"}
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", **keys)
    s3.create_bucket(Bucket=bucket)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path,
        photo_store="s3",
        s3_endpoint=s3_endpoint,
        s3_bucket=bucket,
        s3_access_key="test-key",
        s3_secret_key="test-secret",
    )
    stores = Stores.open(settings)
    try:
        inspector = client_for(stores, "inspector")
        files = [("photos", ("p.png", samples.png(), "image/png"))]
        response = inspector.post("/api/tickets/manual", data=PLACE, files=files)
        assert response.status_code == 201, response.text
        (photo,) = response.json()["photos"]
        listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
        assert sorted(o["Key"] for o in listed) == [
            f"photos/{photo['id'][:2]}/{photo['id']}.png",
            f"photos/{photo['id'][:2]}/{photo['id']}.thumbnail.jpg",
        ]
        served = inspector.get(photo["url"])
        key = f"photos/{photo['id'][:2]}/{photo['id']}.png"
        assert served.content == s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert served.headers["content-type"] == "image/png"
        assert not (tmp_path / "photos").exists()  # nothing went to the folder instead
    finally:
        stores.close()
