"""The MQTT contract, version 1: topics, identifiers and per-kind metric schemas.

Devices, simulators and the ingestor all import this one module, so that a
payload a simulator can publish is, by construction, one the ingestor accepts.

>>> topic = telemetry_topic(DeviceRef("hq", "tower-a", "pump", "pump-01"))
>>> topic
'facility/v1/hq/tower-a/pump/pump-01/telemetry'
>>> parse_topic(topic).device.device_id
'pump-01'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Final

CONTRACT_VERSION: Final = "v1"
TOPIC_ROOT: Final = "facility"
# Ingest subscribes to the whole root so that malformed topics become dead
# letters instead of vanishing; the service's own outbound topics are skipped.
SUBSCRIPTION: Final = f"{TOPIC_ROOT}/#"
SERVICE_TOPIC_PREFIXES: Final = (f"{TOPIC_ROOT}/{CONTRACT_VERSION}/tickets/",)

# Identifiers also become InfluxDB tag values and SQL keys: a conservative
# alphabet keeps them safe everywhere without escaping games.
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}")


class ContractError(ValueError):
    """A message breaks the contract; the text is the dead-letter reason."""


class Kind(StrEnum):
    ELEVATOR = "elevator"
    LIGHTING = "lighting"
    PUMP = "pump"
    ACCESS = "access"


class Channel(StrEnum):
    TELEMETRY = "telemetry"
    EVENT = "event"
    STATUS = "status"


@dataclass(frozen=True, slots=True)
class DeviceRef:
    site: str
    building: str
    kind: str
    device_id: str


@dataclass(frozen=True, slots=True)
class TopicParts:
    device: DeviceRef
    channel: Channel


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One reading: its type, SI unit (or count) and physically valid range."""

    type: type
    unit: str
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""


def _f(unit: str, lo: float, hi: float, description: str = "") -> MetricSpec:
    return MetricSpec(float, unit, lo, hi, description)


def _i(unit: str, lo: int, hi: int, description: str = "") -> MetricSpec:
    return MetricSpec(int, unit, lo, hi, description)


def _b(description: str = "") -> MetricSpec:
    return MetricSpec(bool, "bool", None, None, description)


TELEMETRY_SCHEMAS: Final[dict[Kind, dict[str, MetricSpec]]] = {
    Kind.ELEVATOR: {
        "door_open_time_s": _f("s", 0, 120, "time for the doors to open fully"),
        "door_close_time_s": _f("s", 0, 120, "time for the doors to close fully"),
        "door_reversals": _i("count", 0, 10_000, "door reversals since the last sample"),
        "levelling_error_mm": _f("mm", -500, 500, "car floor minus landing floor"),
        "motor_current_a": _f("A", 0, 1_000),
        "car_vibration_rms_ms2": _f("m/s2", 0, 50),
        "trips": _i("count", 0, 10_000, "trips since the last sample"),
        "position_floor": _f("floor", -10, 200),
        "speed_ms": _f("m/s", -20, 20),
        "doors_closed": _b("doors fully closed"),
        "fault_code": _i("code", 0, 65_535, "0 = no fault"),
    },
    Kind.LIGHTING: {
        "current_a": _f("A", 0, 200),
        "voltage_v": _f("V", 0, 500),
        "power_w": _f("W", 0, 100_000),
        "on": _b("circuit switched on"),
        "illuminance_lux": _f("lx", 0, 200_000),
    },
    Kind.PUMP: {
        "accelerometer1_rms_g": _f("g", 0, 50),
        "accelerometer2_rms_g": _f("g", 0, 50),
        "current_a": _f("A", 0, 500),
        "voltage_v": _f("V", 0, 1_000),
        "pressure_bar": _f("bar", -1, 100),
        "motor_temperature_c": _f("degC", -40, 200),
        "fluid_temperature_c": _f("degC", -40, 150),
        "flow_rate_lpm": _f("l/min", 0, 100_000),
        "running": _b("motor running"),
        "run_hours_h": _f("h", 0, 1_000_000),
    },
    Kind.ACCESS: {
        "door_open": _b("door leaf open"),
        "held_open_s": _f("s", 0, 86_400, "how long the door has been open"),
        "valid_credentials": _i("count", 0, 100_000, "accepted badges since the last sample"),
        "invalid_credentials": _i("count", 0, 100_000, "refused badges since the last sample"),
        "lock_actuation_ms": _f("ms", 0, 60_000),
        "reader_ok": _b("card reader heartbeat received"),
    },
}

EVENT_TYPES: Final[dict[Kind, frozenset[str]]] = {
    Kind.ELEVATOR: frozenset({"entrapment", "fault_code", "door_obstructed"}),
    Kind.LIGHTING: frozenset({"breaker_trip", "fault_code"}),
    Kind.PUMP: frozenset({"dry_run", "fault_code", "start", "stop"}),
    Kind.ACCESS: frozenset({"door_forced", "fault_code", "tamper"}),
}

STATUS_VALUES: Final = frozenset({"online", "offline"})

# Event `data` keys become InfluxDB field keys next to the point's own fields and
# tags: a plain identifier needs no escaping anywhere (no newline, backslash, comma,
# space, quote or lone surrogate), and the point's own names may not be reused.
EVENT_DATA_KEY: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")
RESERVED_EVENT_DATA_KEYS: Final = frozenset(
    {"time", "event", "seq", "site", "building", "device_id", "kind"}
)


def validate_event_data_key(key: str) -> str:
    """Refuse a `data` key that would corrupt or collide in the stored event point.

    >>> validate_event_data_key("code")
    'code'
    >>> try:
    ...     validate_event_data_key("seq")
    ... except ContractError as exc:
    ...     print(str(exc)[:32])
    event data key 'seq' is reserved
    """
    if not EVENT_DATA_KEY.fullmatch(key):
        raise ContractError(
            f"event data key {key[:60]!a} is not a valid identifier: use 1-40 characters "
            "from A-Z a-z 0-9 _ starting with a letter"
        )
    if key.lower() in RESERVED_EVENT_DATA_KEYS:
        raise ContractError(
            f"event data key {key!r} is reserved (the event's own fields and tags: "
            f"{', '.join(sorted(RESERVED_EVENT_DATA_KEYS))}): rename it"
        )
    return key


def validate_identifier(value: str, what: str) -> str:
    """Reject identifiers that would break topics, tags or keys (`+`, `#`, `/`, ...)."""
    if not value:
        raise ContractError(f"{what} is empty")
    if not _IDENTIFIER.fullmatch(value):
        shown = value.encode("unicode_escape").decode("ascii")[:80]
        raise ContractError(
            f"{what} {shown!r} is not a valid identifier: use 1-64 characters "
            "from A-Z a-z 0-9 _ . : - starting with a letter or digit"
        )
    return value


def topic_for(device: DeviceRef, channel: Channel) -> str:
    for what, value in (
        ("site", device.site),
        ("building", device.building),
        ("device_id", device.device_id),
    ):
        validate_identifier(value, what)
    if device.kind not in Kind.__members__.values():
        raise ContractError(f"unknown device kind {device.kind!r}")
    return "/".join(
        (
            TOPIC_ROOT,
            CONTRACT_VERSION,
            device.site,
            device.building,
            device.kind,
            device.device_id,
            channel.value,
        )
    )


def telemetry_topic(device: DeviceRef) -> str:
    return topic_for(device, Channel.TELEMETRY)


def status_topic(device: DeviceRef) -> str:
    return topic_for(device, Channel.STATUS)


def event_topic(device: DeviceRef) -> str:
    return topic_for(device, Channel.EVENT)


@lru_cache(maxsize=65_536)
def parse_topic(topic: str) -> TopicParts:
    """Split and check a topic; cached, since every device repeats its few topics."""
    parts = topic.split("/")
    if len(parts) != 7:
        raise ContractError(
            f"topic has {len(parts)} levels, expected 7: "
            "facility/v1/{site}/{building}/{kind}/{device_id}/{channel}"
        )
    root, version, site, building, kind, device_id, channel = parts
    if root != TOPIC_ROOT:
        raise ContractError(f"topic root {root!r} is not {TOPIC_ROOT!r}")
    if version != CONTRACT_VERSION:
        raise ContractError(f"contract version {version!r} is not supported (only v1)")
    validate_identifier(site, "site")
    validate_identifier(building, "building")
    validate_identifier(device_id, "device_id")
    try:
        kind_value = Kind(kind)
    except ValueError:
        raise ContractError(
            f"unknown device kind {kind[:40]!r}: expected one of {', '.join(Kind)}"
        ) from None
    try:
        channel_value = Channel(channel)
    except ValueError:
        raise ContractError(
            f"unknown channel {channel[:40]!r}: expected one of {', '.join(Channel)}"
        ) from None
    return TopicParts(DeviceRef(site, building, kind_value.value, device_id), channel_value)
