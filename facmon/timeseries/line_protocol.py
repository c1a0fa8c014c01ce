"""InfluxDB line protocol encoding with millisecond timestamps.

>>> encode_point(Point("pump", {"device_id": "p1"}, {"running": True, "seq": 3}, 1000))
'pump,device_id=p1 running=true,seq=3i 1000'
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from facmon.timeseries.base import FieldValue, Point


def _escape_key(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _escape_measurement(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace(" ", "\\ ")


def _field_value(value: FieldValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("line protocol cannot carry NaN or infinity")
        return repr(value)
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def encode_point(point: Point) -> str:
    head = _escape_measurement(point.measurement)
    for key in sorted(point.tags):
        value = point.tags[key]
        if value:
            head += f",{_escape_key(key)}={_escape_key(value)}"
    body = ",".join(
        f"{_escape_key(key)}={_field_value(value)}" for key, value in point.fields.items()
    )
    return f"{head} {body} {point.ts_ms}"


def encode_points(points: Iterable[Point]) -> bytes:
    return "\n".join(encode_point(point) for point in points).encode()
