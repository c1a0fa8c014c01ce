"""Reloading the detector configuration: running detectors keep what they learnt and judge
with the new parameters; a bad file changes nothing; findings carry the version."""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from contract.finding import Finding
from contract.payload import Sample
from contract.topics import DeviceRef
from detectors.base import Detector
from detectors.config_file import parse_detector_config
from detectors.config_watch import DetectorConfigSource
from detectors.lighting_lamp import LampFailureDetector
from detectors.registry import DetectorBank
from detectors.retune import _fields, same
from facmon.service import Stores
from facmon.settings import Settings
from tests.detectors.series import (
    T0,
    Clock,
    Metrics,
    access_rows,
    elevator_rows,
    lighting_rows,
    pump_rows,
    samples,
)

CIRCUIT = DeviceRef("ims", "test2", "lighting", "c1")


def lamp_file(version: str, **params: float) -> str:
    inner = ", ".join(f"{k}: {v}" for k, v in params.items())
    return f"version: {version}\nkinds: {{lighting: {{lighting_lamp_failure: {{{inner}}}}}}}\n"


def on(i: int, current_a: float) -> Sample:
    return Sample(CIRCUIT, T0 + i * 2000, i, {"on": True, "current_a": current_a})


def lamp_of(bank: DetectorBank) -> LampFailureDetector:
    found = bank.detector(CIRCUIT, "lamp_failure")
    assert isinstance(found, LampFailureDetector)
    return found


def feed(bank: DetectorBank, start: int, currents: list[float]) -> list[Finding]:
    return [f for i, a in enumerate(currents, start) for f in bank.on_sample(on(i, a))]


def test_a_learnt_baseline_survives_a_reload_and_is_judged_with_the_new_parameters() -> None:
    bank = DetectorBank(config=parse_detector_config(lamp_file("v1"), "lamps.yaml"))
    assert feed(bank, 0, [10.0] * 30) == []  # warm-up: the circuit draws 10 A
    lamp = lamp_of(bank)
    assert lamp.expected_a == 10.0
    # 6.5 A is 65 % of normal: above the default 60 % limit, so nothing in 20 samples
    assert feed(bank, 30, [6.5] * 20) == []

    v2 = lamp_file("v2", min_ratio=0.7, persist=2, hold_s=0)
    bank.configure(parse_detector_config(v2, "l.yaml"))
    assert lamp.config.min_ratio == 0.6  # staged: applied at the bank's next call
    found = feed(bank, 50, [6.5] * 2)
    assert lamp_of(bank) is lamp and lamp.config.min_ratio == 0.7
    assert lamp.expected_a == 10.0  # learnt before the reload, kept
    # A fresh detector would need 30 samples of warm-up; this one fires at once, after the
    # new persistence of 2 samples
    assert [(f.fault_type, f.config_version, f.evidence["expected"]) for f in found] == [
        ("lamp_failure", "v2", 10.0)
    ]
    assert found[0].evidence["threshold"] == 0.7


def test_a_detector_mid_warm_up_keeps_its_samples_under_a_new_window() -> None:
    bank = DetectorBank(config=parse_detector_config(lamp_file("v1"), "lamps.yaml"))
    feed(bank, 0, [4.0] * 20)  # 40 s of the 60 s learning, 2 s apart
    lamp = lamp_of(bank)
    assert lamp.expected_a is None and len(lamp.warmup.values) == 20
    bank.configure(parse_detector_config(lamp_file("v2", learn_s=50), "lamps.yaml"))
    feed(bank, 20, [4.0] * 4)
    assert lamp.warmup.span_ms == 50_000 and lamp.expected_a is None
    feed(bank, 24, [4.0])  # the 25th: 50 s learnt
    assert lamp.expected_a == 4.0
    # A shorter window keeps the latest values
    v3 = lamp_file("v3", window_s=6, min_window_samples=3)
    bank.configure(parse_detector_config(v3, "lamps.yaml"))
    feed(bank, 25, [4.1, 4.2, 4.3, 4.4])
    assert list(lamp.recent.values) == [4.2, 4.3, 4.4]


def test_the_same_configuration_again_changes_no_detector_state() -> None:
    """Every detector of every kind, fed ordinary data, then reconfigured with its own
    config: nothing it learnt (nor anything else) may change."""
    rng = np.random.default_rng(19)
    rows: dict[str, Callable[[], list[Metrics]]] = {
        "elevator": lambda: elevator_rows(rng, 400),
        "lighting": lambda: lighting_rows(rng, 400),
        "pump": lambda: pump_rows(rng, 400),
        "access": lambda: access_rows(rng, 400),
    }
    clock = Clock()
    bank = DetectorBank(clock_ms=clock, config=parse_detector_config("", "empty.yaml"))
    checked = 0
    for kind, make in rows.items():
        device = DeviceRef("s", "b", kind, f"{kind}-1")
        for sample in samples(device, make()):
            clock.now_ms = sample.ts_ms
            bank.on_sample(sample)
        for detector in bank.detectors_for(device):
            before = copy.deepcopy(_fields(detector), {id(clock): clock})
            config = detector.config
            detector.reconfigure(type(config).model_validate(config.model_dump()))
            after = _fields(detector)
            changed = [k for k in before if k != "config" and not same(before[k], after[k])]
            assert changed == [], f"{detector.name}: {changed}"
            checked += 1
    assert checked >= 24


def test_every_detector_takes_each_changed_parameter() -> None:
    """Whatever a detector derives from its config ends up as a fresh detector with the
    new config would have it: a doubled number parameter reaches every copy of it."""
    for kind in ("elevator", "lighting", "pump", "access"):
        device = DeviceRef("s", "b", kind, f"{kind}-1")
        for detector in DetectorBank(clock_ms=Clock()).detectors_for(device):
            for name, value in detector.config.model_dump().items():
                if isinstance(value, bool) or not isinstance(value, int | float) or not value:
                    continue
                try:
                    new = type(detector.config).model_validate(
                        {**detector.config.model_dump(), name: value * 2}
                    )
                except ValueError:
                    continue  # a cross-field rule: not every doubling is a valid config
                live = copy.deepcopy(detector)
                live.reconfigure(new)
                fresh = live._twin(*live._made_with, new)
                fields, expected = _fields(live), _fields(fresh)
                differing = [
                    k
                    for k in expected
                    if k not in ("_made_with",) and not same(fields[k], expected[k])
                ]
                assert differing == [], f"{detector.name}.{name}: {differing}"


def test_configure_from_another_thread_applies_on_the_feeding_thread() -> None:
    bank = DetectorBank(config=parse_detector_config(lamp_file("v1"), "lamps.yaml"))
    feed(bank, 0, [10.0])
    staged = parse_detector_config(lamp_file("v2", persist=9), "lamps.yaml")
    thread = threading.Thread(target=bank.configure, args=(staged,))
    thread.start()
    thread.join()
    assert bank.config_version == "v1" and lamp_of(bank).config.persist == 5
    bank.tick()
    assert bank.config_version == "v2" and lamp_of(bank).config.persist == 9


def write(path: Path, text: str) -> None:
    path.write_text(text)


def test_a_bad_reload_is_refused_and_the_configuration_in_force_stays(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "detectors.yaml"
    write(path, lamp_file("v1", persist=3))
    source = DetectorConfigSource(path)
    bank = DetectorBank(config=source.current)
    source.subscribe(bank.configure)
    feed(bank, 0, [10.0] * 31)
    lamp = lamp_of(bank)

    write(path, lamp_file("v2", persist="many"))  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR, "detectors.config_watch"):
        assert source.poll() is False
        assert source.poll() is False  # the same bad file: logged once
    [record] = caplog.records
    assert "refused, version v1 stays in force" in record.getMessage()
    assert "lighting_lamp_failure.persist: input should be a valid integer" in record.getMessage()
    assert "(line 2)" in record.getMessage()
    assert source.error is not None and "(line 2)" in source.error
    feed(bank, 31, [10.0])
    assert bank.config_version == "v1" and lamp.config.persist == 3 and lamp.expected_a == 10.0

    path.unlink()  # gone: refused as well
    assert source.poll() is False and "cannot read" in (source.error or "")

    write(path, lamp_file("v3", persist=4))
    assert source.poll() is True and source.error is None
    feed(bank, 32, [10.0])
    assert bank.config_version == "v3" and lamp.config.persist == 4 and lamp.expected_a == 10.0


def test_the_reload_thread_follows_the_file(tmp_path: Path) -> None:
    path = tmp_path / "detectors.yaml"
    write(path, lamp_file("v1"))
    source = DetectorConfigSource(path, interval_s=0.05)
    seen: list[str | None] = []
    arrived = threading.Event()

    def listener(file: object) -> None:
        seen.append(source.current.version)
        arrived.set()

    source.subscribe(listener)
    source.start()
    try:
        assert source.running
        write(path, lamp_file("v2"))
        assert arrived.wait(10), "the reload thread did not pick up the new file"
    finally:
        source.stop()
    assert seen == ["v2"] and not source.running


def test_a_bad_file_at_start_stops_the_service_stores(tmp_path: Path) -> None:
    path = tmp_path / "detectors.yaml"
    write(path, "kinds: {lighting: {lighting_lamp: {}}}\n")
    settings = Settings(_env_file=None, data_dir=tmp_path, detectors_config=path)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match=r"detectors.yaml: kinds.lighting.lighting_lamp: unknown"):
        Stores.open(settings)


def test_findings_carry_the_version_into_the_ticket_evidence(tmp_path: Path) -> None:
    path = tmp_path / "detectors.yaml"
    write(path, lamp_file("2026-12-a", persist=2, hold_s=0))
    stores = Stores.open(
        Settings(_env_file=None, data_dir=tmp_path, detectors_config=path)  # type: ignore[call-arg]
    )
    try:
        bank = DetectorBank(config=stores.detector_config.current)
        found = feed(bank, 0, [10.0] * 30 + [2.0] * 7)
        assert [f.config_version for f in found] == ["2026-12-a"]
        opened = stores.tickets.record(found[0])
        again = stores.tickets.record(found[0])  # the same fault again: an occurrence
        assert again.ticket_id == opened.ticket_id
        got = stores.tickets.get(opened.ticket_id)
        assert got is not None
        ticket, occurrences = got
        assert ticket.evidence["config_version"] == "2026-12-a"
        assert [o.evidence["config_version"] for o in occurrences] == ["2026-12-a"]
        # without a file: the built-in defaults, and the evidence says so
        plain = feed(DetectorBank(), 0, [10.0] * 30 + [2.0] * 12)
        assert [f.config_version for f in plain] == [None]
    finally:
        stores.close()


def test_detectors_keep_their_constructor_for_twins() -> None:
    """`reconfigure` rebuilds a twin from the constructor's own arguments: a detector with
    extra ones (the offline detector's clock) is made like itself."""
    bank = DetectorBank(offline_after_ms=60_000, clock_ms=Clock())
    offline: Detector | None = bank.detector(CIRCUIT, "offline")
    assert offline is not None
    new = type(offline.config).model_validate({"offline_after_ms": 5_000})
    offline.reconfigure(new)
    assert offline.offline_after_ms == 5_000 and offline.wall_clock_ms is bank.clock_ms  # type: ignore[attr-defined]


def test_a_generic_detector_is_retuned_for_its_own_kind_and_keeps_its_windows() -> None:
    """The out-of-range detector keeps a window per metric of the device's kind: a reload
    resizes each window, keeping its latest readings, and never swaps in another kind's."""
    clock = Clock()
    bank = DetectorBank(clock_ms=clock)
    lift = DeviceRef("s", "b", "elevator", "lift-1")
    circuit = DeviceRef("s", "b", "lighting", "c-1")
    windows = {}
    for device, rows in ((lift, elevator_rows), (circuit, lighting_rows)):
        for sample in samples(device, rows(np.random.default_rng(3), 20)):
            bank.on_sample(sample)
        detector = bank.detector(device, "out_of_range")
        assert detector is not None
        windows[device.kind] = detector
    before = {kind: {m: list(w) for m, w in d.recent.items()} for kind, d in windows.items()}  # type: ignore[attr-defined]
    assert all(any(w for w in by_metric.values()) for by_metric in before.values())
    for kind, detector in windows.items():
        smaller = type(detector.config).model_validate(
            {**detector.config.model_dump(), "window": 3}
        )
        detector.reconfigure(smaller)
        recent = detector.recent  # type: ignore[attr-defined]
        assert set(recent) == set(before[kind])
        for metric, window in recent.items():
            assert window.maxlen == 3 and list(window) == before[kind][metric][-3:]
