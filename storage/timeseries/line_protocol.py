"""InfluxDB line protocol encoding with millisecond timestamps.

>>> encode_point(Point("pump", {"device_id": "p1"}, {"running": True, "seq": 3}, 1000))
'pump,device_id=p1 running=true,seq=3i 1000'

A point that no escaping can carry (a line break or trailing backslash in a name,
a lone surrogate anywhere) raises `ValueError` naming the part, instead of
corrupting the lines around it; `encode_valid` sets such points aside:

>>> bad = Point("pump", {"device_id": "p1"}, {"x\\n": 1.0}, 1000)
>>> body, kept, refused = encode_valid([bad, Point("pump", {}, {"seq": 1}, 2000)])
>>> body, kept, refused[0][0]
(b'pump seq=1i 2000', [1], 0)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from math import isfinite

from storage.timeseries.base import FieldValue, Point


def _check_name(text: str, what: str) -> None:
    """Refuse what no escaping carries through InfluxDB 1.x's parser: an empty name,
    a line break, a trailing backslash (it escapes the `=`, `,` or space after it)
    or a lone surrogate (not UTF-8)."""
    if not text:
        raise ValueError(f"{what} is empty")
    if "\n" in text or "\r" in text:
        raise ValueError(f"{what} {text[:60]!r} holds a line break")
    if text.endswith("\\"):
        raise ValueError(f"{what} {text[:60]!r} ends with a backslash")
    _check_utf8(text, what)


def _check_utf8(text: str, what: str) -> None:
    try:
        text.encode()
    except UnicodeEncodeError:
        raise ValueError(f"{what} {text[:60]!r} is not valid UTF-8 (lone surrogate)") from None


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
    _check_utf8(value, "string field value")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


@lru_cache(maxsize=32_768)
def _series_key(measurement: str, tags: tuple[tuple[str, str], ...]) -> str:
    """Measurement and sorted tags: the same few per device, so they are checked and
    escaped once."""
    _check_name(measurement, "measurement")
    head = _escape_measurement(measurement)
    for key, value in sorted(tags):
        if value:
            _check_name(key, "tag key")
            _check_name(value, f"tag {key!r} value")
            head += f",{_escape_key(key)}={_escape_key(value)}"
    return head


@lru_cache(maxsize=4_096)
def _field_key(key: str) -> str:
    _check_name(key, "field key")
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
    if not body:
        raise ValueError(f"point of {point.measurement!r} has no fields")
    return f"{head} {','.join(body)} {point.ts_ms}"


def encode_points(points: Iterable[Point]) -> bytes:
    """Every point as one body; raises `ValueError` if any point cannot be encoded."""
    return "\n".join([encode_point(point) for point in points]).encode()


def encode_valid(points: Sequence[Point]) -> tuple[bytes, list[int], list[tuple[int, str]]]:
    """The body of the points that encode, their indices, and (index, reason) of the rest.

    The whole batch is tried first, so a clean batch costs what `encode_points` does."""
    try:
        return encode_points(points), list(range(len(points))), []
    except Exception:  # ValueError, UnicodeEncodeError, or a bug: find the point(s) to blame
        pass
    lines: list[bytes] = []
    kept: list[int] = []
    refused: list[tuple[int, str]] = []
    for index, point in enumerate(points):
        try:
            lines.append(encode_point(point).encode())
        except Exception as exc:  # one point must never hold back its batch
            refused.append((index, f"cannot be written as line protocol: {exc}"))
        else:
            kept.append(index)
    return b"\n".join(lines), kept, refused
