"""The ledger store: create, read, change and decommission equipment; contractors; filters
and paging; the same device id at two sites."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contract.clock import ManualClock
from quality.ledger import (
    Conflict,
    ContractorCreate,
    ContractorUpdate,
    Decommission,
    EquipmentCreate,
    EquipmentFilter,
    EquipmentUpdate,
    Invalid,
    LedgerStore,
    NotFound,
)
from tests.quality.ledger.conftest import T0


def device(site: str, device_id: str, kind: str = "access", **more: object) -> EquipmentCreate:
    return EquipmentCreate.model_validate(
        {
            "site": site,
            "building": "b1",
            "kind": kind,
            "device_id": device_id,
            "name": f"{kind} {device_id}",
            **more,
        }
    )


def test_create_get_update_keep_every_field(
    store: LedgerStore, contractors: dict[str, int], clock: ManualClock
) -> None:
    created = store.create(
        device(
            "hq",
            "lift-1",
            "elevator",
            floor="B1",
            location="东侧电梯厅",
            model="GeN2",
            manufacturer="奥的斯",
            serial="OT-1",
            install_date="2019-06-18",
            contractor="申安电梯维保",
            reporting_interval_s=10,
            criticality="A",
        )
    )
    assert (created.contractor, created.contractor_id) == ("申安电梯维保", contractors["elevator"])
    assert (created.status, created.criticality, created.created_at) == ("in_service", "A", T0)
    assert str(created.install_date) == "2019-06-18" and created.location == "东侧电梯厅"
    assert store.get("hq", "lift-1") == created

    clock.advance(minutes=5)
    changed = store.update(
        "hq",
        "lift-1",
        EquipmentUpdate(status="under_maintenance", contractor=None, location=None, floor="1"),
    )
    assert (changed.status, changed.contractor, changed.location, changed.floor) == (
        "under_maintenance",
        None,
        None,
        "1",
    )
    assert changed.model == "GeN2"  # untouched fields keep their value
    assert changed.updated_at == T0 + timedelta(minutes=5) and changed.created_at == T0


def test_decommission_keeps_the_record_with_time_and_reason(
    store: LedgerStore, clock: ManualClock
) -> None:
    store.create(device("hq", "door-1"))
    clock.advance(hours=1)
    gone = store.decommission("hq", "door-1", Decommission(reason="replaced by door-2"))
    assert (gone.status, gone.decommissioned_at, gone.decommission_reason) == (
        "decommissioned",
        T0 + timedelta(hours=1),
        "replaced by door-2",
    )
    assert store.get("hq", "door-1") == gone
    with pytest.raises(Conflict):
        store.decommission("hq", "door-1", Decommission())
    # Back in service: the decommissioning is cleared.
    back = store.update("hq", "door-1", EquipmentUpdate(status="in_service"))
    assert (back.status, back.decommissioned_at, back.decommission_reason) == (
        "in_service",
        None,
        None,
    )


def test_the_same_device_id_at_two_sites_is_two_devices(store: LedgerStore) -> None:
    store.create(device("hq", "door-1", location="lobby"))
    store.create(device("riverside", "door-1", location="gate"))
    assert store.get("hq", "door-1").location == "lobby"  # type: ignore[union-attr]
    assert store.get("riverside", "door-1").location == "gate"  # type: ignore[union-attr]
    store.decommission("riverside", "door-1", Decommission())
    assert store.get("hq", "door-1").status == "in_service"  # type: ignore[union-attr]
    with pytest.raises(Conflict) as taken:
        store.create(device("hq", "door-1"))
    assert "PATCH" in taken.value.message.en and "已在台账中" in taken.value.message.zh


def test_missing_devices_and_unknown_contractors_are_refused(store: LedgerStore) -> None:
    with pytest.raises(NotFound):
        store.update("hq", "nope", EquipmentUpdate(name="x"))
    with pytest.raises(NotFound):
        store.decommission("hq", "nope", Decommission())
    assert store.get("hq", "nope") is None
    with pytest.raises(Invalid) as unknown:
        store.create(device("hq", "door-9", contractor="Nobody Ltd"))
    assert unknown.value.field == "contractor" and "Nobody Ltd" in unknown.value.message.zh
    assert store.get("hq", "door-9") is None


def test_filters_and_paging_with_total(store: LedgerStore, contractors: dict[str, int]) -> None:
    for i in range(7):
        store.create(device("hq", f"door-{i}", floor=str(i % 2), contractor="Secure Doors"))
    for i in range(3):
        store.create(device("hq", f"pump-{i}", "pump", location=f"泵房 {i}", contractor="清源水务"))
    store.create(device("riverside", "door-1", location="North gate"))
    store.decommission("hq", "door-6", Decommission())

    def ids(flt: EquipmentFilter, limit: int = 100, offset: int = 0) -> tuple[list[str], int]:
        items, total = store.search(flt, limit, offset)
        return [f"{d.site}/{d.device_id}" for d in items], total

    assert ids(EquipmentFilter())[1] == 11
    assert ids(EquipmentFilter(site="riverside")) == (["riverside/door-1"], 1)
    assert ids(EquipmentFilter(kind="pump"))[1] == 3
    assert ids(EquipmentFilter(contractor="清源水务"))[1] == 3
    assert ids(EquipmentFilter(site="hq", floor="1", kind="access")) == (
        ["hq/door-1", "hq/door-3", "hq/door-5"],
        3,
    )
    assert ids(EquipmentFilter(status="decommissioned")) == (["hq/door-6"], 1)
    assert ids(EquipmentFilter(building="b2")) == ([], 0)
    # Text search: name, location or device id, case-insensitive, wildcards taken literally.
    assert ids(EquipmentFilter(text="泵房"))[1] == 3
    assert ids(EquipmentFilter(text="NORTH")) == (["riverside/door-1"], 1)
    assert ids(EquipmentFilter(text="PUMP-2")) == (["hq/pump-2"], 1)
    assert ids(EquipmentFilter(text="%"))[1] == 0
    # Paging: stable order, the total over all pages.
    first, total = ids(EquipmentFilter(site="hq"), limit=4)
    second, _ = ids(EquipmentFilter(site="hq"), limit=4, offset=4)
    last, _ = ids(EquipmentFilter(site="hq"), limit=4, offset=8)
    assert total == 10 and len(first) == 4 and len(second) == 4 and len(last) == 2
    assert first + second + last == sorted(first + second + last)
    assert ids(EquipmentFilter(site="hq"), limit=4, offset=40) == ([], 10)


def test_contractor_crud(store: LedgerStore, clock: ManualClock) -> None:
    made = store.create_contractor(
        ContractorCreate(
            name="Otis Service",
            contact_person="Wang",
            phone="021-5555 0100",
            email="svc@otis.example.com",
            kinds=["电梯", "elevator"],
        )
    )
    assert (made.kinds, made.active) == (["elevator"], True)
    with pytest.raises(Conflict):
        store.create_contractor(ContractorCreate(name="Otis Service"))
    other = store.create_contractor(ContractorCreate(name="Other"))
    with pytest.raises(Conflict):
        store.update_contractor(other.id, ContractorUpdate(name="Otis Service"))
    clock.advance(days=1)
    changed = store.update_contractor(
        made.id, ContractorUpdate(active=False, kinds=["pump", "elevator"], phone=None)
    )
    assert (changed.active, changed.kinds, changed.phone, changed.contact_person) == (
        False,
        ["elevator", "pump"],
        None,
        "Wang",
    )
    assert changed.updated_at == T0 + timedelta(days=1)
    assert [c.name for c in store.contractors()] == ["Other", "Otis Service"]
    assert [c.name for c in store.contractors(active=True)] == ["Other"]
    assert [c.name for c in store.contractors(active=False)] == ["Otis Service"]
    assert store.contractor(made.id) == changed and store.contractor(9999) is None
    with pytest.raises(NotFound):
        store.update_contractor(9999, ContractorUpdate(active=True))


def test_a_decommission_time_without_offset_is_utc(store: LedgerStore) -> None:
    store.create(device("hq", "door-2"))
    gone = store.decommission(
        "hq", "door-2", Decommission.model_validate({"at": "2027-02-01T10:00:00"})
    )
    assert gone.decommissioned_at == datetime(2027, 2, 1, 10, tzinfo=UTC)
    store.create(device("hq", "door-3"))
    east = store.decommission(
        "hq", "door-3", Decommission.model_validate({"at": "2027-02-01T18:00:00+08:00"})
    )
    assert east.decommissioned_at == datetime(2027, 2, 1, 10, tzinfo=UTC)
