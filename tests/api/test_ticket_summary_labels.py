"""A ticket's summary in both languages: a detector's finding is shown in Chinese and in
English on every ticket answer (list, page, kanban columns, detail), on SQLite and
PostgreSQL; a ticket whose finding has no message (reported by hand, or opened before
messages) shows its own text in both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from detectors.access_held_open import DoorHeldOpenDetector
from facmon.service import Stores
from tests.databases import BACKENDS, fresh_stores
from tests.detectors.test_contract_all_detectors import SPECS, run


@pytest.fixture(params=BACKENDS)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    with fresh_stores(request.param, tmp_path) as made:
        yield made


@pytest.fixture
def client(stores: Stores) -> TestClient:
    token = stores.tokens.create("quality", "qa")[1]
    return TestClient(create_app(stores), headers={"Authorization": f"Bearer {token}"})


def held_open_finding() -> Finding:
    """The door-held-open detector's own finding, from the series that makes it fire."""
    _, finding = run(DoorHeldOpenDetector, SPECS[DoorHeldOpenDetector].fault())[0]
    return finding


def test_every_ticket_answer_carries_the_summary_in_both_languages(
    stores: Stores, client: TestClient
) -> None:
    finding = held_open_finding()
    held, limit = finding.summary_params["held_s"], finding.summary_params["limit_s"]
    ticket_id = stores.tickets.record(finding).ticket_id
    wanted = {
        "zh-CN": f"门保持开启 {held:.0f} 秒（上限 {limit:.0f} 秒）",
        "en": f"door held open for {held:.0f} s (limit {limit:.0f} s)",
    }
    detail = client.get(f"/api/tickets/{ticket_id}").json()
    assert detail["summary"] == finding.summary == wanted["en"]  # older clients: English
    assert detail["summary_labels"] == wanted
    listed = client.get("/api/tickets").json()
    assert [t["summary_labels"] for t in listed] == [wanted]
    page = client.get("/api/tickets/page").json()
    assert [t["summary_labels"] for t in page["items"]] == [wanted]
    columns = client.get("/api/tickets/columns", params={"state": "open"}).json()
    assert [t["summary_labels"] for c in columns["columns"] for t in c["items"]] == [wanted]


def test_a_summary_without_a_message_is_its_own_text_in_both_languages(
    stores: Stores, client: TestClient
) -> None:
    """A person's words are never translated; a ticket from before messages keeps its text."""
    pump = DeviceRef("hq", "b1", "pump", "p1")
    own = Finding(pump, "leakage", Severity.MAJOR, "manual", "1", 1, "泵房地面有积水", {})
    ticket_id = stores.tickets.record(own).ticket_id
    detail = client.get(f"/api/tickets/{ticket_id}").json()
    assert detail["summary_labels"] == {"zh-CN": "泵房地面有积水", "en": "泵房地面有积水"}
