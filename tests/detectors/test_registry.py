"""DetectorBank: per-device detector sets, routing, the device cap and the injected clock."""

from __future__ import annotations

import pytest

from contract.payload import StatusChange
from contract.topics import DeviceRef, Kind
from detectors.offline import OfflineDetector
from detectors.registry import KIND_DETECTORS, DetectorBank
from tests.detectors.series import PERIOD_MS, T0, Clock, device, lamp, samples


@pytest.mark.parametrize("kind", [k.value for k in Kind])
def test_each_device_gets_its_kinds_detectors_and_offline(kind: str) -> None:
    bank = DetectorBank(clock_ms=Clock())
    classes = [type(d) for d in bank.detectors_for(device(kind))]
    assert classes == [*KIND_DETECTORS[kind], OfflineDetector]
    assert bank.detectors_for(device(kind)) is bank.detectors_for(device(kind))


@pytest.mark.parametrize("kind", [k.value for k in Kind])
def test_detector_by_fault_type_is_the_instance_the_bank_feeds(kind: str) -> None:
    bank = DetectorBank(clock_ms=Clock())
    ref = device(kind)
    for detector in bank.detectors_for(ref):
        assert bank.detector(ref, detector.fault_type) is detector
    assert isinstance(bank.detector(ref, "offline"), OfflineDetector)
    assert bank.detector(ref, "no_such_fault") is None
    other = "lamp_failure" if kind != "lighting" else "bearing_wear"
    assert bank.detector(ref, other) is None  # another kind's fault
    assert len(bank) == 1


def test_detector_lookup_follows_the_state_fed_through_the_bank() -> None:
    bank = DetectorBank(clock_ms=Clock())
    ref = device("lighting")
    created = bank.detector(ref, "lamp_failure")  # the device's set is created on lookup
    assert created is not None and created.fault_active() is None
    found = []
    for sample in samples(ref, lamp([4.0] * 60) + lamp([0.5] * 20)):
        found += bank.on_sample(sample)
    assert [f.fault_type for f in found] == ["lamp_failure"]
    assert bank.detector(ref, "lamp_failure") is created
    assert created.fault_active() is True


def test_samples_are_routed_to_the_devices_detectors() -> None:
    bank = DetectorBank(clock_ms=Clock())
    failing, healthy = device("lighting", "lamp-a"), device("lighting", "lamp-b")
    rows = lamp([4.0] * 60) + lamp([0.5] * 20)
    found = []
    for a, b in zip(samples(failing, rows), samples(healthy, lamp([4.0] * 80)), strict=True):
        found += bank.on_sample(a) + bank.on_sample(b)
    assert [(f.device, f.fault_type) for f in found] == [(failing, "lamp_failure")]


def test_device_cap_drops_the_least_recently_seen() -> None:
    bank = DetectorBank(clock_ms=Clock(), max_devices=3)
    refs = [device("pump", f"p{i}") for i in range(4)]
    sets = [bank.detectors_for(ref) for ref in refs[:3]]
    assert bank.detectors_for(refs[0]) is sets[0]  # p0 is fresh again, p1 is now the oldest
    sets.append(bank.detectors_for(refs[3]))
    assert len(bank) == 3
    for index in (0, 2, 3):
        assert bank.detectors_for(refs[index]) is sets[index]
    assert bank.detectors_for(refs[1]) is not sets[1]  # p1's state was dropped
    assert len(bank) == 3


def test_only_kept_devices_are_ticked() -> None:
    clock = Clock()
    bank = DetectorBank(offline_after_ms=60_000, clock_ms=clock, max_devices=1)
    dropped, kept = device("access", "door-a"), device("access", "door-b")
    for ref in (dropped, kept):  # two samples each: the reporting interval is known
        for sample in samples(ref, [{"door_open": False, "held_open_s": 0.0}] * 2):
            clock.now_ms = sample.ts_ms
            bank.on_sample(sample)
    clock.now_ms += 60_000
    assert [(f.device, f.fault_type) for f in bank.tick()] == [(kept, "offline")]


def test_offline_through_the_bank_follows_the_injected_clock() -> None:
    clock = Clock()
    bank = DetectorBank(offline_after_ms=60_000, clock_ms=clock)
    ref = device("access")
    for sample in samples(ref, [{"door_open": False, "held_open_s": 0.0}] * 10):
        clock.now_ms = sample.ts_ms
        assert bank.on_sample(sample) == []
    last = T0 + 9 * PERIOD_MS
    clock.now_ms = last + 59_999
    assert bank.tick() == []
    clock.now_ms = last + 60_000
    [finding] = bank.tick()
    assert finding.fault_type == "offline" and finding.onset_ms == last
    assert bank.tick() == []
    # a last will is timed by the bank's clock too
    clock.now_ms += 1
    assert bank.on_status(StatusChange(ref, True)) == []
    assert bank.on_status(StatusChange(ref, False)) == []
    will_ms = clock.now_ms
    clock.now_ms = will_ms + 60_000
    [finding] = bank.tick()
    assert finding.evidence["cause"] == "last will received"
    assert finding.onset_ms == will_ms


def test_same_device_id_in_two_sites_is_two_devices() -> None:
    clock = Clock()
    bank = DetectorBank(clock_ms=clock)
    quiet = DeviceRef("site-a", "b1", "pump", "pump-01")
    talking = DeviceRef("site-b", "b1", "pump", "pump-01")
    for sample in samples(quiet, [{"running": True, "accelerometer1_rms_g": 0.2}] * 2):
        bank.on_sample(sample)  # two samples: its reporting interval is known
    found = []
    for sample in samples(talking, [{"running": True, "accelerometer1_rms_g": 0.2}] * 300):
        clock.now_ms = sample.ts_ms
        found += bank.on_sample(sample) + bank.tick()
    # site-a's pump has been silent for 10 minutes
    assert [f.device for f in found] == [quiet]


def test_held_open_doors_with_one_id_in_two_sites_each_find_their_own() -> None:
    bank = DetectorBank(clock_ms=Clock())
    doors = [DeviceRef(site, "b1", "access", "door-1") for site in ("site-a", "site-b")]
    assert bank.detectors_for(doors[0]) is not bank.detectors_for(doors[1])
    assert len(bank) == 2
    closed = {"door_open": False, "held_open_s": 0.0}
    held = [{"door_open": True, "held_open_s": float(s)} for s in range(0, 600, 10)]
    found = []
    for a, b in zip(
        samples(doors[0], [closed] * 5 + held), samples(doors[1], [closed] * 5 + held), strict=True
    ):
        found += bank.on_sample(a) + bank.on_sample(b)
    held_open = [f.device for f in found if f.fault_type == "door_held_open"]
    assert sorted(held_open, key=lambda d: d.site) == doors
