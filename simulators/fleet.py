"""A fleet of simulated devices stepping through simulated time.

The fleet only computes messages; how they travel (a broker, or straight into
detectors for evaluation) is the caller's business. Values depend on the seed
and the simulated clock only, never on how fast the caller asks for them.

>>> from simulators.scenario import parse_scenario
>>> sc = parse_scenario({"devices": [{"id": "p1", "kind": "pump"}], "rate_hz": 1})
>>> fleet = Fleet(sc, seed=7, start_ms=0)
>>> [m.channel.value for m in fleet.advance_to(2_000)][:4]
['status', 'telemetry', 'event', 'telemetry']
"""

from __future__ import annotations

import heapq
import threading
import zlib
from dataclasses import dataclass, replace
from enum import Enum

import numpy as np

from contract.payload import encode_event, encode_telemetry
from contract.topics import Channel, DeviceRef, Kind
from simulators.models import MODELS, ActiveFault, DeviceModel
from simulators.nuisance import NuisanceLayer
from simulators.scenario import DeviceSpec, FaultSpec, Scenario


class Action(Enum):
    PUBLISH = "publish"
    DISCONNECT = "disconnect"  # drop the connection uncleanly: the broker sends the last will
    CONNECT = "connect"


@dataclass(frozen=True, slots=True)
class OutMessage:
    device: DeviceRef
    channel: Channel
    payload: bytes
    ts_ms: int
    action: Action = Action.PUBLISH
    retain: bool = False


class SimDevice:
    def __init__(self, ref: DeviceRef, model: DeviceModel, faults: list[FaultSpec]) -> None:
        self.ref = ref
        self.model = model
        self.faults = faults
        self.seq = 0
        self.connected = False
        self.next_ms = 0


def generated_devices(count: int, existing: int = 0) -> list[DeviceSpec]:
    """Extra healthy devices, spread over the four kinds and a few buildings."""
    kinds = list(Kind)
    specs = []
    for index in range(count):
        kind = kinds[index % len(kinds)]
        number = existing + index + 1
        specs.append(DeviceSpec(f"{kind.value}-{number:04d}", kind.value, f"b{index // 40 + 1}"))
    return specs


class Fleet:
    def __init__(
        self,
        scenario: Scenario,
        seed: int,
        start_ms: int,
        rate_hz: float | None = None,
        extra_devices: int = 0,
    ) -> None:
        self.scenario = scenario
        self.start_ms = start_ms
        self.period_ms = max(1, round(1000 / (rate_hz or scenario.rate_hz)))
        specs = list(scenario.devices) + generated_devices(extra_devices, len(scenario.devices))
        self.devices: list[SimDevice] = []
        for spec in specs:
            # Per-device streams derived from the seed and the id: adding a device
            # leaves every other device's signal unchanged.
            rng = np.random.default_rng([seed, zlib.crc32(spec.device_id.encode())])
            model = MODELS[spec.kind](rng, **spec.params)
            if spec.nuisance is not None:
                model.nuisance = NuisanceLayer(
                    spec.kind, spec.nuisance, seed, spec.device_id, start_ms
                )
            ref = DeviceRef(scenario.site, spec.building, spec.kind, spec.device_id)
            faults = [f for f in scenario.faults if f.device_id == spec.device_id]
            device = SimDevice(ref, model, faults)
            device.next_ms = start_ms
            self.devices.append(device)
        self.now_ms = start_ms
        self._lock = threading.Lock()
        self._queue = [(start_ms, index) for index in range(len(self.devices))]
        heapq.heapify(self._queue)

    def elapsed_s(self, t_ms: int) -> float:
        return (t_ms - self.start_ms) / 1000

    def _active(self, device: SimDevice, t_ms: int) -> list[ActiveFault]:
        elapsed = self.elapsed_s(t_ms)
        return [
            ActiveFault(f.type, elapsed - f.at_s, f.params)
            for f in device.faults
            if f.active_at(elapsed)
        ]

    def _next_ms(self, device: SimDevice, t_ms: int) -> int:
        """When the device's next sample is due: its own cadence, else the scenario's."""
        layer = device.model.nuisance
        return t_ms + self.period_ms if layer is None else layer.next_ms(t_ms, self.period_ms)

    def _step_device(self, device: SimDevice, t_ms: int) -> list[OutMessage]:
        layer = device.model.nuisance
        if layer is not None and layer.silent(t_ms):
            return []  # a recording gap: the device says nothing, not even goodbye
        faults = self._active(device, t_ms)
        offline = any(f.type == "offline" for f in faults)
        out: list[OutMessage] = []
        if offline:
            if device.connected:
                device.connected = False
                out.append(OutMessage(device.ref, Channel.STATUS, b"", t_ms, Action.DISCONNECT))
            return out
        if not device.connected:
            device.connected = True
            out.append(
                OutMessage(device.ref, Channel.STATUS, b"online", t_ms, Action.CONNECT, True)
            )
        dt_s = (self._next_ms(device, t_ms) - t_ms) / 1000  # the interval one sample covers
        metrics = device.model.sample(t_ms, dt_s, faults)
        device.seq += 1
        out.append(
            OutMessage(
                device.ref, Channel.TELEMETRY, encode_telemetry(t_ms, device.seq, metrics), t_ms
            )
        )
        for name in device.model.take_events():
            device.seq += 1
            out.append(
                OutMessage(device.ref, Channel.EVENT, encode_event(t_ms, device.seq, name), t_ms)
            )
        return out

    def advance_to(self, t_ms: int) -> list[OutMessage]:
        """All messages due up to and including simulated time `t_ms`, in time order."""
        out: list[OutMessage] = []
        with self._lock:
            self._advance(t_ms, out)
        return out

    def clear_fault(self, device_id: str, fault_type: str) -> bool:
        """End an injected fault now, as a repair would (used by the demo's quality team)."""
        with self._lock:
            elapsed = self.elapsed_s(self.now_ms)
            for device in self.devices:
                if device.ref.device_id != device_id:
                    continue
                for index, fault in enumerate(device.faults):
                    if fault.type == fault_type and fault.active_at(elapsed):
                        device.faults[index] = replace(fault, duration_s=elapsed - fault.at_s)
                        return True
        return False

    def _advance(self, t_ms: int, out: list[OutMessage]) -> None:
        while self._queue and self._queue[0][0] <= t_ms:
            due_ms, index = heapq.heappop(self._queue)
            device = self.devices[index]
            out.extend(self._step_device(device, due_ms))
            device.next_ms = self._next_ms(device, due_ms)
            heapq.heappush(self._queue, (device.next_ms, index))
        self.now_ms = max(self.now_ms, t_ms)

    def next_due_ms(self) -> int:
        return self._queue[0][0] if self._queue else self.now_ms
