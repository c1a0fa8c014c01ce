"""Which seq each device's recent timestamps were stored with, to refuse silent overwrites.

The store keys a point by series and time, so a second sample of a device at a
timestamp already stored, with another seq, would replace the first without a
trace (a stuck device clock, or a firmware that stamps to the second). Ingest
refuses it as a dead letter instead. The same seq again is a redelivery of the
same message and passes: rewriting the same point is harmless.

>>> recent = RecentTimestamps(per_device=2)
>>> lamp = ("north", "lamp-1")  # (site, device_id): lamp-1 of another site is another device
>>> recent.clash(lamp, 1000, seq=1), recent.clash(lamp, 1000, seq=1)
(None, None)
>>> recent.clash(lamp, 1000, seq=2), recent.clash(("south", "lamp-1"), 1000, seq=2)
(1, None)

What it does not cover: it keeps the last `per_device` timestamps of each device
this process saw, so a duplicate older than that window, or one arriving after a
restart or at another worker, still overwrites; a full check would read the store
for every sample.
"""

from __future__ import annotations


class RecentTimestamps:
    def __init__(self, per_device: int = 8) -> None:
        self.per_device = per_device
        self._seen: dict[tuple[str, str], dict[int, int]] = {}

    def clash(self, device: tuple[str, str], ts_ms: int, seq: int) -> int | None:
        """Remember (ts, seq) for the device, (site, device_id); return the other seq
        already at ts, if any."""
        seen = self._seen.get(device)
        if seen is None:
            seen = self._seen[device] = {}
        stored = seen.get(ts_ms)
        if stored is None:
            seen[ts_ms] = seq
            if len(seen) > self.per_device:
                del seen[next(iter(seen))]  # the oldest remembered, as dicts keep order
            return None
        return None if stored == seq else stored
