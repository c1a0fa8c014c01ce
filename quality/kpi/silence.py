"""Silence past a device's expected reporting interval: when it counts as not intact.

The ledger says how often a device should report (`reporting_interval_s`). A device
without a telemetry sample for longer than `SILENCE_FACTOR` of those intervals is silent
from the moment the limit passed until its next sample, whatever its last status message
said. The series store is asked only for what that needs, per device: its last sample
before the period, its first and last in it, and the gaps in it longer than a limit, so a
month of samples is never read into memory.

>>> heard = Heard(before_ms=None, first_ms=40, last_ms=70, gaps=((70, 30),))
>>> silent_intervals(heard, 0, 100, limit_ms=10)
[(0, 40), (50, 70), (80, 100)]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

Interval = tuple[int, int]
DeviceKey = tuple[str, str]  # (site, device_id)


@dataclass(frozen=True, slots=True)
class Heard:
    """What the series store knows of one device's samples around a period (epoch ms)."""

    before_ms: int | None
    """The last sample before the period, within the look-back; None if none."""
    first_ms: int | None
    last_ms: int | None
    gaps: tuple[tuple[int, int], ...] = ()
    """(sample time, ms since the previous sample) for gaps in the period over a limit."""


NEVER_HEARD = Heard(None, None, None)


class SilenceSource(Protocol):
    def heard(
        self, devices: Mapping[DeviceKey, str], start_ms: int, end_ms: int, min_gap_ms: int
    ) -> dict[DeviceKey, Heard]:
        """For each device (mapped to its kind, the measurement of its samples): its
        samples around [start, end), with the gaps longer than `min_gap_ms`. Samples are
        looked for back to `start - min_gap_ms` at most (older ones cannot matter)."""
        ...


def silent_intervals(heard: Heard, start_ms: int, end_ms: int, limit_ms: int) -> list[Interval]:
    """When, within [start, end), the device had been silent for longer than `limit_ms`."""
    silent: list[Interval] = []

    def add(since: int | None, until: int) -> None:
        begin = start_ms if since is None else max(start_ms, since + limit_ms)
        until = min(until, end_ms)
        if begin < until:
            silent.append((begin, until))

    if heard.first_ms is not None:
        add(heard.before_ms, heard.first_ms)
    for at_ms, gap_ms in heard.gaps:
        if gap_ms > limit_ms:
            add(at_ms - gap_ms, at_ms)
    last = heard.last_ms if heard.last_ms is not None else heard.before_ms
    add(last, end_ms)
    return sorted(silent)
