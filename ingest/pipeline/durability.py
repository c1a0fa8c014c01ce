"""Durability: a batch is written to the time-series store (or the local spool while the
store is down), its dead letters and device rows to the database, and only then are its
messages acknowledged. A point the store refuses becomes its message's dead letter.

Writes raise StoreUnavailable to be retried; what was already written is skipped on
the retry, and a repeated point is the same point, so a crash loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ingest.device_registry import DeviceRegistry
from ingest.pipeline.batching import Batch, BatchPolicy
from ingest.pipeline.decoding import reason_class
from ingest.pipeline.messages import AckSink, NoTransport
from ingest.spool import Spool
from observability.metrics import IngestMetrics
from storage.dead_letters import DeadLetterStore, RejectedMessage
from storage.timeseries import Point, StoreUnavailable
from storage.timeseries.base import PointsRefused
from storage.write_health import HealthTrackedStore

log = logging.getLogger(__name__)

# Time spent replaying the spool before each batch: the spool drains while live
# traffic flows, and a live batch waits at most about this much longer.
SPOOL_REPLAY_BUDGET_S = 0.5


class Durability:
    def __init__(
        self,
        series: HealthTrackedStore,
        dead_letters: DeadLetterStore,
        devices: DeviceRegistry,
        metrics: IngestMetrics,
        policy: BatchPolicy,
        spool: Spool | None,
        wall_clock_ms: Callable[[], int],
        monotonic_s: Callable[[], float],
    ) -> None:
        self.series = series
        self.dead_letters = dead_letters
        self.devices = devices
        self.metrics = metrics
        self.policy = policy
        self.spool = spool
        self.wall_clock_ms = wall_clock_ms
        self.monotonic_s = monotonic_s
        self.transport: AckSink = NoTransport()
        self._spool_warned = False
        self._replay_after = 0.0  # no replay attempt before this (store down: back off)
        self._replay_backoff_s = 0.5
        self._drain_started: float | None = None  # when the store took a chunk back
        if spool is not None:
            metrics.registry.on_collect(self._spool_gauges)

    def write(self, batch: Batch) -> None:
        """Make the batch durable, then acknowledge it. Raises StoreUnavailable to retry;
        what was already written is skipped on the retry. With a spool, durable may mean
        on local disk while the store is down."""
        started = self.monotonic_s()
        if self.spool is not None and self.spool.chunks:
            self.drain_spool()  # live traffic must not keep the spool from draining
            if self.spool.chunks:
                self._to_spool(batch)  # keep arrival order behind what is still spooled
        chunk = self.policy.max_lines
        while batch.points:
            try:
                self.series.write(batch.points[:chunk])
            except StoreUnavailable as exc:
                self.metrics.write_errors.inc()
                if self.spool is None:
                    raise
                if not self.spool.chunks:
                    log.warning(
                        "time-series store unavailable, spooling to %s: %s", self.spool.path, exc
                    )
                self._to_spool(batch)
                break
            except PointsRefused as exc:
                # The rest is stored; the refused points cannot be, however often retried.
                self._dead_letter_refused(batch, exc.refused)
            del batch.points[:chunk]
        if batch.rejected:
            self.dead_letters.add_many(batch.rejected)
            batch.rejected = []
        if batch.devices:
            self.devices.save(batch.devices)
            batch.devices = []
        self.metrics.write_seconds.observe(self.monotonic_s() - started)
        self._acknowledge(batch)

    def _acknowledge(self, batch: Batch) -> None:
        for ack in batch.acks:
            ack()
        self.transport.flush_acks()
        self.metrics.observe_durable(self.wall_clock_ms(), batch.sample_ts_ms)
        batch.sample_ts_ms = []
        for (kind, channel), count in batch.ingested.items():
            self.metrics.ingested.inc(count, kind=kind, channel=channel)
        batch.acks, batch.ingested = [], {}
        self.metrics.batches.inc()

    def _dead_letter_refused(self, batch: Batch, refused: list[tuple[Point, str]]) -> None:
        """Each point the store refused becomes its message's dead letter, with the reason."""
        log.warning("time-series store refused %d point(s): %s", len(refused), refused[0][1])
        for point, reason in refused:
            source = batch.sources.get(id(point))
            if source is None:  # a point the service made (status, ticket): keep it as text
                letter = RejectedMessage(
                    f"(service point) {point.measurement}", repr(point).encode(), reason
                )
            else:
                letter = RejectedMessage(source.topic, source.payload, reason)
            batch.rejected.append(letter)
            self.metrics.dead_letters.inc(reason=reason_class(reason))

    # -- the spool: durable on local disk while the store is down -----------------------

    def _spool_gauges(self) -> None:
        assert self.spool is not None
        self.metrics.spool_points.set(self.spool.points)
        self.metrics.spool_bytes.set(self.spool.bytes)

    def _to_spool(self, batch: Batch) -> None:
        """Keep the batch's points on local disk, or raise StoreUnavailable when full."""
        assert self.spool is not None
        chunk = self.policy.max_lines
        while batch.points:
            if not self.spool.put(batch.points[:chunk]):
                raise StoreUnavailable(
                    f"store down and the spool is full ({self.spool.bytes} bytes at "
                    f"{self.spool.path}); holding messages unacknowledged"
                )
            self.metrics.spooled.inc(len(batch.points[:chunk]))
            del batch.points[:chunk]
        if self.spool.fill >= 0.8 and not self._spool_warned:
            self._spool_warned = True
            log.warning(
                "spool %.0f %% full (%d points, %d bytes of %d): raise "
                "FACMON_SPOOL_MAX_BYTES or bring the time-series store back",
                self.spool.fill * 100,
                self.spool.points,
                self.spool.bytes,
                self.spool.max_bytes,
            )

    def drain_spool(self, budget_s: float = SPOOL_REPLAY_BUDGET_S) -> None:
        """Write spooled points to the store, oldest first, for about `budget_s`.

        Called before every batch as well as when ingest is idle, so that the spool
        drains while live traffic flows instead of only once it stops. While the
        store stays down, attempts back off (0.5 s doubling to 10 s) instead of
        costing every batch a failed write.
        """
        spool = self.spool
        if spool is None or not spool.chunks or self.monotonic_s() < self._replay_after:
            return
        started = self.monotonic_s()
        while spool.chunks and self.monotonic_s() - started < budget_s:
            chunk_ids, points = spool.oldest(self.policy.max_lines)
            try:
                self.series.write(points)
            except StoreUnavailable as exc:
                self._replay_after = self.monotonic_s() + self._replay_backoff_s
                self._replay_backoff_s = min(self._replay_backoff_s * 2, 10.0)
                log.info("spool replay waits for the store (%d points held): %s", spool.points, exc)
                return
            except PointsRefused as exc:  # the rest of the chunk was stored
                self._dead_letter_spooled(exc.refused)
            spool.remove(chunk_ids)
            self.metrics.spool_replayed.inc(len(points))
            self._replay_backoff_s = 0.5
            if self._drain_started is None:
                self._drain_started = started  # the store took the first chunk back
        if not spool.chunks:
            drain_s = self.monotonic_s() - (self._drain_started or started)
            self.metrics.spool_drain_seconds.observe(drain_s)
            self._drain_started = None
            self._spool_warned = False
            log.info(
                "spool drained in %.1f s: the time-series store has every spooled point", drain_s
            )

    def _dead_letter_spooled(self, refused: list[tuple[Point, str]]) -> None:
        """Spooled points keep no message: a refused one is kept as its text."""
        log.warning(
            "time-series store refused %d spooled point(s): %s", len(refused), refused[0][1]
        )
        self.dead_letters.add_many(
            [
                RejectedMessage(f"(spooled point) {point.measurement}", repr(point).encode(), why)
                for point, why in refused
            ]
        )
        for _, why in refused:
            self.metrics.dead_letters.inc(reason=reason_class(why))
