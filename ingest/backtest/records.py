"""What a history source yields: a validated `Sample`, or a `BadRow` that says why not.

Every source judges a reading with the contract's own decoder (`decode_message`), so a
replayed row is accepted or refused exactly as the same reading sent live would be.

>>> judge = RowJudge()
>>> device = DeviceRef("hq", "b1", "access", "door-1")
>>> judge.sample(device, 1_700_000_000_000, {"door_open": True}).metrics
{'door_open': True}
>>> try:
...     judge.sample(device, 1_700_000_000_000, {"held_open_s": -1.0})
... except ContractError as exc:
...     print(str(exc)[:40])
metric held_open_s=-1.0 s is below the va
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contract.payload import Sample, decode_message, encode_telemetry
from contract.topics import ContractError, DeviceRef, telemetry_topic


@dataclass(frozen=True, slots=True)
class BadRow:
    """A row that was not replayed: `line` is its 1-based line in the file (0 if none)."""

    line: int
    reason: str


class RowJudge:
    """Turns one reading into a contract `Sample`, numbering each device's samples as a
    device would (`seq`), and refuses what the live decoder refuses (`ContractError`)."""

    def __init__(self) -> None:
        self._topics: dict[DeviceRef, str] = {}
        self._seq: dict[DeviceRef, int] = {}

    def topic(self, device: DeviceRef) -> str:
        topic = self._topics.get(device)
        if topic is None:
            topic = telemetry_topic(device)  # raises ContractError for a bad identifier
            self._topics[device] = topic
        return topic

    def sample(self, device: DeviceRef, ts_ms: int, metrics: dict[str, Any]) -> Sample:
        topic = self.topic(device)
        seq = self._seq.get(device, 0)
        # The sample's own time is "now" for the time limits: a replay is judged as if
        # the reading arrived when it was taken.
        decoded = decode_message(topic, encode_telemetry(ts_ms, seq, metrics), now_ms=ts_ms)
        if decoded.sample is None:  # pragma: no cover - a telemetry topic decodes a sample
            raise ContractError("not a telemetry sample")
        self._seq[device] = seq + 1
        return decoded.sample


Record = Sample | BadRow
