"""InfluxDB's refusals sorted as Telegraf's InfluxDB output sorts them, against a real
influxd: a refused point is named with InfluxDB's own message while the rest of its
batch lands, a point no line can carry is set aside before sending, and a database
that went missing is created again."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from storage.timeseries.base import Point
from storage.timeseries.influx import InfluxStore, PointsRefused
from tools.servers import InfluxServer

TS = 1_700_000_000_000


@pytest.fixture
def store(influx: InfluxServer) -> Iterator[InfluxStore]:
    store = InfluxStore(influx.url, f"refusals_{uuid.uuid4().hex[:8]}")
    yield store
    store.close()


def good(count: int, ts_ms: int = TS) -> list[Point]:
    return [
        Point("pump", {"device_id": f"p{i}"}, {"seq": i, "x": 1.5}, ts_ms) for i in range(count)
    ]


def test_a_type_conflict_refuses_that_point_alone(store: InfluxStore) -> None:
    store.write(good(3))  # fixes x as a float
    clash = Point("pump", {"device_id": "clash"}, {"seq": 99, "x": 7}, TS + 1)
    batch = good(10, TS + 1)
    batch.insert(4, clash)
    with pytest.raises(PointsRefused) as caught:
        store.write(batch)
    [(point, reason)] = caught.value.refused
    assert point is clash
    assert "field type conflict" in reason and '"x"' in reason
    assert store.count("pump") == 3 + 10
    assert store.count("pump", "clash") == 0


@pytest.mark.parametrize(
    ("fields", "tags", "says"),
    [
        ({"\ud800x": 1.0}, {}, "lone surrogate"),
        ({"a\nb": 1.0}, {}, "line break"),
        ({"": 1.0}, {}, "field key is empty"),
        ({"x\\": 1.0}, {}, "ends with a backslash"),
        ({"s": "\udfff"}, {}, "lone surrogate"),
        ({"seq": 1}, {"building": "b\\"}, "ends with a backslash"),
        ({}, {}, "no fields"),
    ],
)
def test_a_point_no_line_can_carry_is_refused_and_the_rest_lands(
    store: InfluxStore, fields: dict[str, float], tags: dict[str, str], says: str
) -> None:
    bad = Point("pump", {"device_id": "bad", **tags}, fields, TS)
    batch = [*good(5), bad, *good(5, TS + 1)]
    with pytest.raises(PointsRefused) as caught:
        store.write(batch)
    [(point, reason)] = caught.value.refused
    assert point is bad and says in reason
    assert store.count("pump") == 10


def test_a_dropped_database_is_created_again(store: InfluxStore) -> None:
    store.write(good(2))
    store.query(f'DROP DATABASE "{store.database}"')
    store.write(good(4, TS + 1))
    assert store.count("pump") == 4


def test_several_refused_points_among_many_each_named(store: InfluxStore) -> None:
    store.write(good(1))
    batch = good(200, TS + 1)
    clashes = {17, 18, 150}
    for i in clashes:
        batch[i] = Point("pump", {"device_id": f"p{i}"}, {"seq": i, "x": True}, TS + 1)
    with pytest.raises(PointsRefused) as caught:
        store.write(batch)
    assert sorted(batch.index(point) for point, _ in caught.value.refused) == sorted(clashes)
    assert store.count("pump") == 1 + 200 - len(clashes)
