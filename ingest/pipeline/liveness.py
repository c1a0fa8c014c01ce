"""Liveness: which devices are online, when each was last heard, and which registry
rows are due to be saved.

The KPI job reads liveness from the `device_status` measurement only, so every change
is written there as a point: a device heard while offline, or first heard by this
process, is online; one silent for too long is offline.
"""

from __future__ import annotations

from collections.abc import Callable

from contract.finding import Finding
from contract.payload import Event, Sample, StatusChange
from contract.topics import DeviceRef
from ingest.device_registry import DeviceState
from ingest.pipeline.batching import Batch
from ingest.pipeline.points import status_point
from ingest.row_schedule import RowSchedule


class Liveness:
    def __init__(self, refresh_s: float, monotonic_s: Callable[[], float]) -> None:
        # keyed by (site, device_id): the same id in two sites is two devices
        self.states: dict[tuple[str, str], DeviceState] = {}
        self.rows: RowSchedule[tuple[str, str]] = RowSchedule(refresh_s, monotonic_s)

    def _state(self, device: DeviceRef) -> DeviceState:
        key = (device.site, device.device_id)
        state = self.states.get(key)
        if state is None:
            state = DeviceState(device.device_id, device.site, device.building, device.kind)
            self.states[key] = state
        self.rows.changed(key)
        return state

    def _heard(self, device: DeviceRef, received_ms: int, batch: Batch) -> DeviceState:
        state = self._state(device)
        if not state.online or state.last_seen_ms is None:
            batch.points.append(status_point(StatusChange(device, True), received_ms))
        if not state.online:
            self.rows.liveness_changed((device.site, device.device_id))
        state.online = True
        state.last_seen_ms = received_ms
        return state

    def sample(self, sample: Sample, received_ms: int, batch: Batch) -> None:
        state = self._heard(sample.device, received_ms, batch)
        state.last_sample_ts_ms = max(state.last_sample_ts_ms or 0, sample.ts_ms)
        state.last_seq = sample.seq
        state.samples += 1

    def event(self, event: Event, received_ms: int, batch: Batch) -> None:
        self._heard(event.device, received_ms, batch)

    def status(self, status: StatusChange, received_ms: int, batch: Batch) -> None:
        state = self._state(status.device)
        if state.online != status.online:
            self.rows.liveness_changed((status.device.site, status.device.device_id))
        state.online = status.online
        state.last_seen_ms = received_ms
        batch.points.append(status_point(status, received_ms))

    def silent(self, findings: list[Finding], now_ms: int, batch: Batch) -> bool:
        """Devices found offline by silence: record the change as the status channel would
        have. True if anything was added to `batch`."""
        added = False
        for finding in findings:
            key = (finding.device.site, finding.device.device_id)
            state = self.states.get(key)
            if state is not None and finding.fault_type == "offline" and state.online:
                state.online = False
                self.rows.liveness_changed(key)
                batch.points.append(status_point(StatusChange(finding.device, False), now_ms))
                added = True
        return added

    def online(self) -> int:
        return sum(1 for state in self.states.values() if state.online)

    @property
    def next_due(self) -> float | None:
        """When device rows are next due to be saved (monotonic seconds), if any wait."""
        return self.rows.next_due

    @property
    def unsaved(self) -> int:
        return len(self.rows)

    def take_due(self, everything: bool) -> list[DeviceState]:
        return self.rows.take_due(self.states, everything)
