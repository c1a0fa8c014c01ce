"""When each changed device's registry row is written.

A device heard steadily is rewritten at most every `refresh_s`; a new device, one
whose liveness changed, or one heard again after its refresh time goes with the
next batch. Batches leave several times a second, so choosing the rows must not
walk every changed device each time (at 5,000 devices a worker, that walk was a
seventh of its CPU): devices are sorted out when they change, and held-back ones
wait in a queue ordered by when they are due.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Mapping
from typing import Generic, TypeVar

from ingest.device_registry import DeviceState

K = TypeVar("K", bound=Hashable)  # a device's key: (site, device_id) in ingest


class RowSchedule(Generic[K]):
    def __init__(self, refresh_s: float, clock_s: Callable[[], float]) -> None:
        self.refresh_s = refresh_s
        self._clock_s = clock_s
        self._dirty: set[K] = set()  # changed since their row was written
        self._urgent: set[K] = set()  # among those, due with the next batch
        self._saved: dict[K, tuple[float, bool]] = {}  # device -> (next due, online written)
        self._queue: deque[tuple[float, K]] = deque()  # (due at, device), in time order

    def __len__(self) -> int:
        return len(self._dirty)

    def changed(self, device_id: K) -> None:
        """Called for every message, so the common case (already changed) is one lookup."""
        if device_id in self._dirty:
            return
        self._dirty.add(device_id)
        saved = self._saved.get(device_id)
        if saved is None or self._clock_s() >= saved[0]:
            self._urgent.add(device_id)

    def liveness_changed(self, device_id: K) -> None:
        self.changed(device_id)
        self._urgent.add(device_id)

    @property
    def next_due(self) -> float | None:
        """When the first held-back row is due (None: nothing held back)."""
        return self._queue[0][0] if self._queue and self._dirty else None

    def take_due(
        self, states: Mapping[K, DeviceState], everything: bool = False
    ) -> list[DeviceState]:
        """Snapshots of the rows to write now, marked written. `everything`: every
        changed device, due or not (when stopping)."""
        now = self._clock_s()
        chosen = list(self._dirty) if everything else self._due_now(states, now)
        self._urgent.clear()
        rows: list[DeviceState] = []
        for device_id in chosen:
            self._dirty.discard(device_id)
            state = states.get(device_id)
            if state is None:
                continue
            rows.append(state.snapshot())
            due_at = now + self.refresh_s
            self._saved[device_id] = (due_at, state.online)
            self._queue.append((due_at, device_id))
        return rows

    def _due_now(self, states: Mapping[K, DeviceState], now: float) -> list[K]:
        chosen: set[K] = set()
        for device_id in self._urgent:
            if device_id not in self._dirty:
                continue
            saved = self._saved.get(device_id)
            state = states.get(device_id)
            if saved is None or state is None or saved[1] != state.online or now >= saved[0]:
                chosen.add(device_id)
            # else: its liveness changed back; its queued refresh brings it
        queue = self._queue
        while queue and queue[0][0] <= now:
            due_at, device_id = queue.popleft()
            saved = self._saved.get(device_id)
            if device_id in self._dirty and saved is not None and saved[0] == due_at:
                chosen.add(device_id)  # else unchanged, or written since (a newer entry follows)
        return list(chosen)
