"""InfluxDB line protocol encoding with millisecond timestamps.

>>> encode_point(Point("pump", {"device_id": "p1"}, {"running": True, "seq": 3}, 1000))
'pump,device_id=p1 running=true,seq=3i 1000'
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from math import isfinite

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
        if not isfinite(value):
            raise ValueError("line protocol cannot carry NaN or infinity")
        return repr(value)
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


@lru_cache(maxsize=32_768)
def _series_key(measurement: str, tags: tuple[tuple[str, str], ...]) -> str:
    """Measurement and sorted tags: the same few per device, so they are escaped once."""
    head = _escape_measurement(measurement)
    for key, value in sorted(tags):
        if value:
            head += f",{_escape_key(key)}={_escape_key(value)}"
    return head


@lru_cache(maxsize=4_096)
def _field_key(key: str) -> str:
    return _escape_key(key) + "="


def encode_point(point: Point) -> str:
    head = _series_key(point.measurement, tuple(point.tags.items()))
    body = []
    for key, value in point.fields.items():
        # Finite floats and plain ints inline (most fields); the rest as `_field_value` says.
        if isinstance(value, float) and isfinite(value):
            body.append(_field_key(key) + repr(value))
        elif type(value) is int:
            body.append(f"{_field_key(key)}{value}i")
        else:
            body.append(_field_key(key) + _field_value(value))
    return f"{head} {','.join(body)} {point.ts_ms}"


def encode_points(points: Iterable[Point]) -> bytes:
    return "\n".join([encode_point(point) for point in points]).encode()
