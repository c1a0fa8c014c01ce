"""Durations and start times as scenario authors write them: '90s', '5m', '-1h', RFC 3339.

The checks raise `ValueError` with the problem alone, so the scenario schema can place it
at the value's path; `parse_duration_s` is the stand-alone form that names `what`.

>>> seconds("1.5h")
5400.0
>>> parse_start("2027-01-15T08:00:00Z")
'2027-01-15T08:00:00Z'
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

from simulators.scenario_errors import ScenarioError, show

DURATION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
MAX_DURATION_S = 1e10  # about 300 years: anything longer is a typo, and overflows ms
START_EXAMPLE = "a duration like -1h or an RFC 3339 time like 2027-01-15T08:00:00Z"


def seconds(value: Any) -> float:
    """'90s', '5m', '2h', '1d' or a number of seconds; ValueError says what is wrong."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            result = float(value)
        except OverflowError:  # an int too large for a float
            result = math.inf
    else:
        match = DURATION.match(value) if isinstance(value, str) else None
        if not match:
            raise ValueError(f"{show(value)} is not a duration like 30s, 5m, 2h or 1d")
        result = float(match.group(1)) * _UNIT_S[match.group(2) or "s"]
    if math.isnan(result):
        raise ValueError(f"{show(value)} is not a duration like 30s, 5m, 2h or 1d")
    if abs(result) > MAX_DURATION_S:
        raise ValueError(f"{show(value)} is out of range; use at most {MAX_DURATION_S:g} s")
    return result


def parse_duration_s(value: Any, what: str) -> float:
    """`seconds`, with a ScenarioError naming `what` (a path like faults[2].at)."""
    try:
        return seconds(value)
    except ValueError as exc:
        raise ScenarioError(f"{what}: {exc}") from None


def seconds_from_start(value: Any) -> float:
    """An offset into the run: 0 (the start) or later."""
    result = seconds(value)
    if result < 0:
        raise ValueError(f"{show(value)} is negative; use 0 (the start) or later, like 5m")
    return result


def positive_seconds(value: Any) -> float:
    """A length of time: more than zero."""
    result = seconds(value)
    if result <= 0:
        raise ValueError(f"{show(value)} must be longer than zero, like 30s or 5m")
    return result


def parse_start(value: Any) -> str | float:
    """A relative duration ('-1h', -3600) or an absolute RFC 3339 time with an offset.

    YAML turns an unquoted timestamp into a `datetime`; it is kept as its ISO text.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{value} has no time zone; add Z or an offset like +01:00")
        return value.isoformat()
    if isinstance(value, date):
        raise ValueError(f"{value} is a date, not a time; write {START_EXAMPLE}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return seconds(value)
    if not isinstance(value, str):
        raise ValueError(f"{show(value)} is not a start time; write {START_EXAMPLE}")
    if DURATION.match(value):
        seconds(value)
        return value
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{show(value)} is not a start time; write {START_EXAMPLE}") from None
    if moment.tzinfo is None:
        raise ValueError(f"{show(value)} has no time zone; add Z or an offset like +01:00")
    return value


def start_ms(start: Any, now_ms: int) -> int:
    """The simulated start in epoch ms; ScenarioError if `start` is not one."""
    try:
        parsed = parse_start(start)
    except ValueError as exc:
        raise ScenarioError(f"start: {exc}") from None
    if isinstance(parsed, str) and not DURATION.match(parsed):
        return int(datetime.fromisoformat(parsed.strip().replace("Z", "+00:00")).timestamp() * 1000)
    return now_ms + int(seconds(parsed) * 1000)


DURATION_SCHEMA: dict[str, list[Any]] = {
    "anyOf": [
        {"type": "number", "description": "seconds"},
        {"type": "string", "pattern": DURATION.pattern, "examples": ["90s", "5m", "2h", "1d"]},
    ]
}
# A point in the run (0: the start) and a length of time: '90s', '5m', '2h', '1d' or seconds.
Offset = Annotated[
    float,
    BeforeValidator(seconds_from_start),
    WithJsonSchema(DURATION_SCHEMA, mode="validation"),
]
Length = Annotated[
    float,
    BeforeValidator(positive_seconds),
    WithJsonSchema(DURATION_SCHEMA, mode="validation"),
]
