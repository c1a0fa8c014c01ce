"""Telemetry from a device the equipment ledger does not list follows a setting
(`FACMON_UNKNOWN_DEVICES`):

- `pending` (the default): the message is stored and judged as any other, and the device
  is added to the ledger as *pending* (待启用) for the quality team to confirm. Nothing
  is lost while the ledger is being filled in.
- `dead_letter`: the message is kept as a dead letter with the reason `unknown device`,
  and can be replayed (`facmon dead-letters replay`) once the device is in the ledger.

The gate answers from a set of (site, device_id) held in memory (one lookup per
message), reloaded every `refresh_s`; a device added to the ledger is admitted within
that time. Registrations are written in one statement per tick, on the intake thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from enum import StrEnum

from contract.topics import DeviceRef
from quality.ledger.directory import DeviceKey, LedgerDirectory

log = logging.getLogger(__name__)


class UnknownDevices(StrEnum):
    PENDING = "pending"
    DEAD_LETTER = "dead_letter"


def unknown_device_reason(device: DeviceRef) -> str:
    return (
        f"unknown device: {device.site}/{device.device_id} is not in the equipment ledger "
        "(设备台账中没有该设备); add it (facmon ledger import, or POST /api/ledger/equipment) "
        "and replay the dead letters, or set FACMON_UNKNOWN_DEVICES=pending"
    )


class LedgerGate:
    def __init__(
        self,
        directory: LedgerDirectory,
        mode: UnknownDevices = UnknownDevices.PENDING,
        refresh_s: float = 30.0,
        monotonic_s: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = directory
        self.mode = mode
        self.refresh_s = refresh_s
        self.monotonic_s = monotonic_s
        self.known: set[DeviceKey] = directory.known()
        self._loaded_s = monotonic_s()
        self._new: dict[DeviceKey, DeviceRef] = {}

    def admit(self, device: DeviceRef) -> bool:
        """May this device's message go on? (False: a dead letter, `unknown_device_reason`.)"""
        key = (device.site, device.device_id)
        if key in self.known:
            return True
        if self.mode is UnknownDevices.DEAD_LETTER:
            return False
        self.known.add(key)
        self._new[key] = device
        return True

    @property
    def waiting(self) -> int:
        """Devices admitted as pending and not yet written to the ledger."""
        return len(self._new)

    def tick(self) -> None:
        """Write the pending registrations; reload the ledger when due. A database error
        is logged and retried at the next tick: telemetry never waits for the ledger."""
        if self._new:
            new = list(self._new.values())
            try:
                added = self.directory.register_pending(new)
            except Exception:
                log.exception("could not register %d pending device(s); will retry", len(new))
            else:
                self._new.clear()
                if added:
                    log.info("%d device(s) not in the ledger registered as pending", added)
        if self.monotonic_s() - self._loaded_s >= self.refresh_s:
            try:
                known = self.directory.known()
            except Exception:
                log.exception("could not reload the equipment ledger; keeping the last copy")
            else:
                self.known = known | set(self._new)
            self._loaded_s = self.monotonic_s()
