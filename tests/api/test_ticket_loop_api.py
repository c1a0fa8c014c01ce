"""The acknowledge step (接单) through the API, the party named by the dispatch, cards per
equipment, contractor and team, and the labels in zh-CN and en."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from contract.clock import ManualClock
from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from facmon.service import Stores
from facmon.settings import Settings

T0 = datetime(2027, 5, 1, 9, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def stores(tmp_path: Path, clock: ManualClock) -> Iterator[Stores]:
    settings = Settings(_env_file=None, data_dir=tmp_path, sla_major_acknowledge_s=600)  # type: ignore[call-arg]
    stores = Stores.open(settings)
    stores.tickets.clock = clock
    yield stores
    stores.close()


def client_for(stores: Stores, role: str) -> TestClient:
    token = stores.tokens.create(role, f"{role}-user")[1]
    return TestClient(create_app(stores), headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def client(stores: Stores) -> TestClient:
    return client_for(stores, "quality")


def open_ticket(stores: Stores, device: str = "lift-1") -> int:
    finding = Finding(
        DeviceRef("hq", "b1", "elevator", device),
        "door_slowing",
        Severity.MAJOR,
        "d",
        "1",
        1,
        "s",
        {},
    )
    return stores.tickets.record(finding).ticket_id


def test_dispatch_acknowledge_rectify_through_the_api(
    stores: Stores, client: TestClient, clock: ManualClock
) -> None:
    ticket_id = open_ticket(stores)
    dispatched = client.post(
        f"/api/tickets/{ticket_id}/assign",
        json={"assignee": "lift-team", "contractor": "Otis", "team": "A"},
    ).json()
    assert (dispatched["state"], dispatched["contractor"], dispatched["team"]) == (
        "dispatched",
        "Otis",
        "A",
    )
    assert dispatched["state_label"] == {"zh-CN": "已派单", "en": "dispatched"}
    # FACMON_SLA_MAJOR_ACKNOWLEDGE_S=600 in this service's settings.
    assert dispatched["acknowledge_due_at"] == iso(T0 + timedelta(seconds=600))
    engineer = client_for(stores, "engineer")
    viewer = client_for(stores, "viewer")
    assert viewer.post(f"/api/tickets/{ticket_id}/acknowledge").status_code == 403
    clock.advance(minutes=4)
    acknowledged = engineer.post(f"/api/tickets/{ticket_id}/acknowledge", json={"note": "omw"})
    assert acknowledged.status_code == 200, acknowledged.text
    body = acknowledged.json()
    assert body["state"] == "acknowledged" and body["state_label"]["zh-CN"] == "已接单"
    assert body["acknowledged_at"] == iso(T0 + timedelta(minutes=4))
    assert body["allowed_next"] == ["closed", "dispatched", "rectified"]
    again = engineer.post(f"/api/tickets/{ticket_id}/acknowledge")
    assert again.status_code == 409
    assert again.json()["detail"]["allowed"] == ["closed", "dispatched", "rectified"]
    rectified = engineer.post(
        f"/api/tickets/{ticket_id}/transitions", json={"to": "rectified", "note": "adjusted"}
    ).json()
    assert rectified["state"] == "rectified" and rectified["recheck_due_at"] is not None
    assert [(h["from_state"], h["to_state"]) for h in rectified["history"]][1:] == [
        ("open", "dispatched"),
        ("dispatched", "acknowledged"),
        ("acknowledged", "rectified"),
    ]
    assert rectified["acknowledged_at"] == iso(T0 + timedelta(minutes=4))


def test_acknowledge_errors_are_clear(stores: Stores, client: TestClient) -> None:
    ticket_id = open_ticket(stores)
    not_yet = client.post(f"/api/tickets/{ticket_id}/acknowledge")
    assert not_yet.status_code == 409
    assert not_yet.json()["detail"]["allowed"] == ["closed", "dispatched"]
    message = not_yet.json()["detail"]["message"]
    assert "cannot go from open to acknowledged" in message
    assert "工单不能从待派单 (open)转到已接单 (acknowledged)" in message
    assert "可转到：待派单 (open)" not in message and "已派单 (dispatched)" in message
    no_note = client.post(f"/api/tickets/{ticket_id}/transitions", json={"to": "closed"})
    assert no_note.status_code == 422 and "须填写备注" in no_note.json()["detail"]
    assert client.post("/api/tickets/999/acknowledge").status_code == 404
    long_team = client.post(
        f"/api/tickets/{ticket_id}/assign", json={"assignee": "x", "team": "t" * 129}
    )
    assert long_team.status_code == 422 and long_team.json()["detail"][0]["loc"] == [
        "body",
        "team",
    ]
    assert client.get(f"/api/tickets/{ticket_id}").json()["state"] == "open"  # nothing stored


def test_old_clients_rectify_a_dispatched_ticket_without_acknowledging(
    stores: Stores, client: TestClient
) -> None:
    ticket_id = open_ticket(stores)
    client.post(f"/api/tickets/{ticket_id}/assign", json={"assignee": "lift-team"})
    body = client.post(
        f"/api/tickets/{ticket_id}/transitions", json={"to": "rectified", "note": "fixed"}
    ).json()
    assert body["state"] == "rectified" and body["acknowledged_at"] is not None
    assert body["contractor"] is None and body["team"] is None


def test_cards_by_equipment_contractor_and_team(
    stores: Stores, client: TestClient, clock: ManualClock
) -> None:
    for contractor in ("Otis", "Otis", "Kone"):
        ticket_id = open_ticket(stores)
        client.post(
            f"/api/tickets/{ticket_id}/assign",
            json={"assignee": "lift-team", "contractor": contractor, "team": "A"},
        )
        for to in ("acknowledged", "rectified", "verified", "closed"):
            moved = client.post(
                f"/api/tickets/{ticket_id}/transitions", json={"to": to, "note": "ok"}
            )
            assert moved.status_code == 200, moved.text
        clock.advance(days=2)
    # A false alarm on the same lift earns nothing.
    false_alarm = open_ticket(stores)
    client.post(
        f"/api/tickets/{false_alarm}/transitions", json={"to": "closed", "note": "false alarm"}
    )
    detail = client.get(f"/api/tickets/{false_alarm}").json()
    assert (detail["false_alarm"], detail["card"]) == (True, "none")
    equipment = client.get("/api/cards").json()
    assert [(c["by"], c["site"], c["device_id"], c["yellow"], c["red"]) for c in equipment] == [
        ("equipment", "hq", "lift-1", 1, 1)
    ]
    contractors = client.get("/api/cards", params={"by": "contractor"}).json()
    assert [(c["contractor"], c["yellow"], c["red"]) for c in contractors] == [
        ("Kone", 0, 1),
        ("Otis", 1, 0),
    ]
    teams = client.get("/api/cards", params={"by": "team"}).json()
    assert [(c["team"], c["yellow"], c["red"], len(c["ticket_ids"])) for c in teams] == [
        ("A", 1, 1, 2)
    ]
    since = client.get(
        "/api/cards", params={"by": "team", "since": (T0 + timedelta(days=3)).isoformat()}
    ).json()
    assert [(c["yellow"], c["red"]) for c in since] == [(0, 1)]
    bad = client.get("/api/cards", params={"by": "site"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "by"]
    chronic = client.get("/api/equipment/chronic").json()  # unchanged shape
    assert [(c["device_id"], c["repeat_count"]) for c in chronic] == [("lift-1", 3)]


def test_a_contractor_sees_the_cards_and_chronic_equipment_of_its_own_tickets_only(
    stores: Stores, client: TestClient, clock: ManualClock
) -> None:
    ids: list[int] = []
    for contractor in ("Otis", "Otis", "Kone"):  # none, yellow (Otis), red (Kone)
        ticket_id = open_ticket(stores)
        ids.append(ticket_id)
        client.post(
            f"/api/tickets/{ticket_id}/assign",
            json={"assignee": "lift-team", "contractor": contractor, "team": "A"},
        )
        for to in ("acknowledged", "rectified", "verified", "closed"):
            client.post(f"/api/tickets/{ticket_id}/transitions", json={"to": to, "note": "ok"})
        clock.advance(days=2)

    def seen_by(contractor: str) -> TestClient:
        token = stores.tokens.create("engineer", f"{contractor}-tech", contractor)[1]
        return TestClient(create_app(stores), headers={"Authorization": f"Bearer {token}"})

    otis, kone = seen_by("Otis"), seen_by("Kone")
    equipment = otis.get("/api/cards").json()
    assert [(c["device_id"], c["yellow"], c["red"], c["ticket_ids"]) for c in equipment] == [
        ("lift-1", 1, 0, [ids[1]])
    ]
    assert [c["contractor"] for c in otis.get("/api/cards?by=contractor").json()] == ["Otis"]
    assert [c["contractor"] for c in kone.get("/api/cards?by=contractor").json()] == ["Kone"]
    assert otis.get("/api/equipment/chronic").json() == []  # the red card is Kone's
    chronic = kone.get("/api/equipment/chronic").json()
    assert [(c["device_id"], c["repeat_count"], c["ticket_ids"]) for c in chronic] == [
        ("lift-1", 3, [ids[2]])  # not Otis's earlier tickets
    ]
    # people without a contractor still see every card and ticket
    everything = client.get("/api/equipment/chronic").json()
    assert [c["ticket_ids"] for c in everything] == [ids]
    assert len(client.get("/api/cards?by=contractor").json()) == 2


def test_lifecycle_lists_acknowledge_and_every_label_in_both_languages(
    client: TestClient,
) -> None:
    lifecycle = client.get("/api/lifecycle").json()
    assert "acknowledged" in lifecycle["states"]
    moves = {(t["from"], t["to"]) for t in lifecycle["transitions"]}
    assert {("dispatched", "acknowledged"), ("acknowledged", "rectified")} <= moves
    labels = lifecycle["labels"]
    assert set(labels["states"]) == set(lifecycle["states"])
    words = {label["zh-CN"] for group in labels.values() for label in group.values()}
    assert {"派单", "接单", "整改", "复核", "销项", "黄牌", "红牌"} <= words
    assert all(
        set(label) == {"zh-CN", "en"} and all(label.values())
        for group in labels.values()
        for label in group.values()
    )
