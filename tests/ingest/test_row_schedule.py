"""Which registry rows go with a batch: new devices, liveness changes and devices
whose refresh time passed, and no walk over every changed device per batch."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from ingest.device_registry import DeviceState
from ingest.row_schedule import RowSchedule


class CountedStates(Mapping[str, DeviceState]):
    """The device states, counting lookups: a batch must not look at every device."""

    def __init__(self, ids: list[str]) -> None:
        self.states = {i: DeviceState(i, "north", "b1", "pump") for i in ids}
        self.lookups = 0

    def __getitem__(self, key: str) -> DeviceState:
        self.lookups += 1
        return self.states[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.states)

    def __len__(self) -> int:
        return len(self.states)


def written(schedule: RowSchedule, states: CountedStates) -> list[str]:
    return sorted(row.device_id for row in schedule.take_due(states))


def test_steady_devices_are_not_looked_at_until_their_refresh_is_due() -> None:
    now = [0.0]
    ids = [f"pump-{n}" for n in range(1_000)]
    states = CountedStates(ids)
    schedule = RowSchedule(5.0, lambda: now[0])
    for device_id in ids:
        schedule.changed(device_id)
    assert written(schedule, states) == sorted(ids)  # new: all at once
    for step in range(1, 10):  # heard every 0.5 s, batches in between
        now[0] = step * 0.5
        for device_id in ids:
            schedule.changed(device_id)
        states.lookups = 0
        assert written(schedule, states) == []
        assert states.lookups == 0
        assert schedule.next_due == 5.0 and len(schedule) == 1_000
    now[0] = 5.0
    assert written(schedule, states) == sorted(ids)
    assert states.lookups == 1_000  # one per row written


def test_a_device_heard_after_its_refresh_time_goes_with_the_next_batch() -> None:
    now = [0.0]
    states = CountedStates(["pump-1"])
    schedule = RowSchedule(5.0, lambda: now[0])
    schedule.changed("pump-1")
    assert written(schedule, states) == ["pump-1"]
    now[0] = 6.0  # silent meanwhile: its queued refresh found nothing to write
    assert written(schedule, states) == [] and schedule.next_due is None
    now[0] = 8.0
    schedule.changed("pump-1")
    assert written(schedule, states) == ["pump-1"]


def test_liveness_changes_go_at_once_unless_changed_back() -> None:
    now = [0.0]
    states = CountedStates(["pump-1"])
    schedule = RowSchedule(5.0, lambda: now[0])
    schedule.changed("pump-1")
    assert written(schedule, states) == ["pump-1"]
    now[0] = 1.0
    states.states["pump-1"].online = False
    schedule.liveness_changed("pump-1")
    assert written(schedule, states) == ["pump-1"]  # offline: at once
    now[0] = 2.0
    states.states["pump-1"].online = True
    schedule.liveness_changed("pump-1")
    states.states["pump-1"].online = False
    schedule.liveness_changed("pump-1")
    assert written(schedule, states) == []  # back as written: waits for its refresh
    now[0] = 5.0  # the refresh queued by the first write is stale: written again at 1 s
    assert written(schedule, states) == []
    now[0] = 6.0
    assert written(schedule, states) == ["pump-1"]


def test_stopping_writes_every_changed_device() -> None:
    now = [0.0]
    states = CountedStates(["pump-1", "pump-2"])
    schedule = RowSchedule(5.0, lambda: now[0])
    schedule.changed("pump-1")
    schedule.changed("pump-2")
    schedule.take_due(states)
    now[0] = 1.0
    schedule.changed("pump-2")
    assert sorted(r.device_id for r in schedule.take_due(states, everything=True)) == ["pump-2"]
    assert len(schedule) == 0
