"""Reports and PDCA actions through the API, and `facmon report` on the command line:
made on demand, listed, downloaded; bad input answers with the field in both languages."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from facmon.service import Stores
from tests.databases import fresh_stores
from tests.quality.kpi import scenario

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[TestClient, Stores, dict[str, str]]]:
    with fresh_stores("sqlite", tmp_path, "api") as stores:
        scenario.make_ledger(stores.engine)
        scenario.make_tickets(stores.engine)
        _id, token = stores.tokens.create("quality", "qa-lead")
        with TestClient(create_app(stores)) as client:
            yield client, stores, {"Authorization": f"Bearer {token}"}


def test_make_list_and_download_a_report(
    served: tuple[TestClient, Stores, dict[str, str]],
) -> None:
    client, _stores, auth = served
    answer = client.post(
        "/api/reports",
        json={"kind": "weekly", "site": "hq", "period": "2024-W18", "language": "zh-CN"},
        headers=auth,
    )
    assert answer.status_code == 201, answer.text
    made = answer.json()
    assert (made["kind"], made["site"], made["period"], made["status"]) == (
        "weekly",
        "hq",
        "2024-W18",
        "ready",
    )
    assert made["trigger"] == "on_demand" and made["created_by"] == "qa-lead"

    listed = client.get("/api/reports", headers=auth).json()
    assert [r["id"] for r in listed] == [made["id"]]

    pdf = client.get(made["pdf_url"], headers=auth)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    assert len(pdf.content) == made["pdf_bytes"]
    html = client.get(made["html_url"], headers=auth)
    assert "设备完好率" in html.text and "echarts" in html.text
    assert 'src="http' not in html.text  # ECharts inline: the file works offline

    assert client.get("/api/reports", headers={}).status_code == 401
    missing = client.get("/api/reports/999.pdf", headers=auth)
    assert missing.status_code == 404 and missing.json()["field"] == "id"


@pytest.mark.parametrize(
    ("body", "field", "zh"),
    [
        ({"kind": "daily"}, "kind", "weekly（周报）"),
        ({"kind": "weekly", "period": "2024-13"}, "period", "不是有效的统计期"),
        ({"kind": "monthly", "period": "2999-01"}, "period", "尚未开始"),
        ({"kind": "weekly", "language": "fr"}, "language", "zh-CN 或 en"),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(
    served: tuple[TestClient, Stores, dict[str, str]], body: dict[str, str], field: str, zh: str
) -> None:
    client, _stores, auth = served
    answer = client.post("/api/reports", json=body, headers=auth)
    assert answer.status_code == 422
    assert answer.json()["field"] == field and zh in answer.json()["zh"]
    assert client.get("/api/reports", headers=auth).json() == []


def test_pdca_actions_are_created_listed_and_updated(
    served: tuple[TestClient, Stores, dict[str, str]],
) -> None:
    client, _stores, auth = served
    created = client.post(
        "/api/pdca",
        json={
            "title": "电梯门专项整改",
            "site": "hq",
            "target_kpi": "integrity_pct",
            "plan": "排查门机",
            "owner": "qa-lead",
            "started_at": "2024-05-01T10:00:00+00:00",
        },
        headers=auth,
    )
    assert created.status_code == 201, created.text
    action = created.json()
    assert action["status"] == "doing" and action["finished_at"] is None
    updated = client.patch(
        f"/api/pdca/{action['id']}",
        json={"finished_at": "2024-05-01T11:00:00+00:00", "status": "done", "act": "标准化"},
        headers=auth,
    ).json()
    assert updated["status"] == "done" and updated["act"] == "标准化"
    assert updated["finished_at"].startswith("2024-05-01T11:00")
    assert [a["id"] for a in client.get("/api/pdca?site=hq", headers=auth).json()] == [action["id"]]
    bad = client.patch(
        f"/api/pdca/{action['id']}",
        json={"finished_at": "2024-05-01T09:00:00+00:00"},
        headers=auth,
    )
    assert bad.status_code == 422 and bad.json()["field"] == "finished_at"
    assert (
        client.get(f"/api/pdca/{action['id']}", headers=auth)
        .json()["finished_at"]
        .startswith("2024-05-01T11:00")
    )  # nothing partial stored
    refused = client.post(
        "/api/pdca",
        json={
            "title": "x",
            "target_kpi": "smiles",
            "owner": "qa",
            "started_at": "2024-05-01T10:00:00Z",
        },
        headers=auth,
    )
    assert refused.status_code == 422 and refused.json()["field"] == "target_kpi"


def test_cli_makes_and_lists_a_report(tmp_path: Path) -> None:
    env = {**os.environ, "FACMON_DATA_DIR": str(tmp_path), "FACMON_REPORT_TIME_ZONE": "UTC"}
    env.pop("FACMON_DATABASE_URL", None)
    facmon = [sys.executable, "-m", "facmon.cli"]
    out, html = tmp_path / "out" / "hq.pdf", tmp_path / "out" / "hq.html"
    made = subprocess.run(
        [
            *facmon,
            "report",
            "weekly",
            "--site",
            "hq",
            "--lang",
            "en",
            "--period",
            "2024-W18",
            "--out",
            str(out),
            "--html",
            str(html),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert made.returncode == 0, made.stderr
    assert out.read_bytes().startswith(b"%PDF") and "Weekly quality report" in html.read_text()
    listed = subprocess.run(
        [*facmon, "report", "list"], env=env, capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert listed.returncode == 0 and "2024-W18" in listed.stdout and "ready" in listed.stdout
    bad = subprocess.run(
        [*facmon, "report", "monthly", "--period", "2024-W18", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert bad.returncode == 2 and "--period" in bad.stderr


def test_a_contractors_token_sees_no_report(
    served: tuple[TestClient, Stores, dict[str, str]],
) -> None:
    client, stores, _auth = served
    _id, token = stores.tokens.create("engineer", "lift-tech", contractor="Lift Co")
    answer = client.get("/api/reports", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 403 and "维保单位" in answer.json()["zh"]


def test_pdca_text_that_cannot_be_stored_is_refused(
    served: tuple[TestClient, Stores, dict[str, str]],
) -> None:
    client, _stores, auth = served
    body = (
        '{"title": "\\ud800", "target_kpi": "integrity_pct", "owner": "qa",'
        ' "started_at": "2024-05-01T10:00:00Z"}'
    )
    answer = client.post(
        "/api/pdca", content=body, headers={**auth, "Content-Type": "application/json"}
    )
    assert answer.status_code == 422 and answer.json()["field"] == "title"
    assert client.get("/api/pdca", headers=auth).json() == []
