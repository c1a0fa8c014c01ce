"""What a history source yields: a validated `Sample`, or a `BadRow` that says why not.

Every source judges a reading with the contract's own decoder: the topic through
`parse_topic`, the metrics through the telemetry decoder that `decode_message` runs on a
live payload (`contract.payload.telemetry_sample`), so a replayed row is accepted or
refused exactly as the same reading sent live would be. The JSON layer of the live path
is skipped: a CSV cell or an InfluxDB value is already a number or a boolean, and a
non-finite number is refused by the same metric check. The time limits of the live path
do not apply: a replayed reading arrives at its own time.

>>> from contract.topics import ContractError
>>> judge = RowJudge()
>>> device = judge.device("hq", "b1", "access", "door-1")
>>> judge.sample(device, 1_700_000_000_000, {"door_open": True}).metrics
{'door_open': True}
>>> try:
...     judge.sample(device, 1_700_000_000_000, {"held_open_s": -1.0})
... except ContractError as exc:
...     print(str(exc)[:50])
metric held_open_s=-1.0 s is below the valid range
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contract.payload import Sample, telemetry_sample
from contract.topics import DeviceRef, parse_topic, telemetry_topic


@dataclass(frozen=True, slots=True)
class BadRow:
    """A row that was not replayed: `line` is its 1-based line in the file (0 if none)."""

    line: int
    reason: str


class RowJudge:
    """Turns one reading into a contract `Sample`, numbering each device's samples as a
    device would (`seq`), and refuses what the live decoder refuses (`ContractError`)."""

    def __init__(self) -> None:
        self._devices: dict[tuple[str, str, str, str], DeviceRef] = {}
        # By the identity of the one `DeviceRef` made per device: hashing the dataclass
        # was a tenth of the reader's time.
        self._seq: dict[int, int] = {}

    def device(self, site: str, building: str, kind: str, device_id: str) -> DeviceRef:
        """The device as its telemetry topic names it (`ContractError` for a bad
        identifier or kind); checked once per device."""
        key = (site, building, kind, device_id)
        device = self._devices.get(key)
        if device is None:
            topic = telemetry_topic(DeviceRef(site, building, kind, device_id))
            device = parse_topic(topic).device
            self._devices[key] = device
        return device

    def sample(self, device: DeviceRef, ts_ms: int, metrics: dict[str, Any]) -> Sample:
        key = id(device)
        seq = self._seq.get(key, 0)
        sample = telemetry_sample(device, ts_ms, seq, metrics)
        self._seq[key] = seq + 1
        return sample

    def checked_sample(self, device: DeviceRef, ts_ms: int, metrics: dict[str, Any]) -> Sample:
        """`sample` for metrics the caller has already checked against the same contract
        bounds (`contract.payload.finite_float_bounds`): one pass over a row, not two."""
        key = id(device)
        seq = self._seq.get(key, 0)
        self._seq[key] = seq + 1
        return Sample(device, ts_ms, seq, metrics)


Record = Sample | BadRow
