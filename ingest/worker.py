"""The ingest worker: one thread validates and detects, another makes batches durable.

The intake thread owns the pipeline, so detectors and batches need no locks.
The writer thread writes one batch while the next one fills, so a slow
InfluxDB round trip does not stop validation. Batches are group commits: an
idle writer takes the batch once it is `min_delay_s` old, a busy one takes
what gathered during its write as soon as it is done, so lag follows the
write time rather than the longest batch delay. At most `max_batches_in_flight`
batches wait for the writer; past that, intake waits too, and the
unacknowledged messages make the broker hold the rest (receive maximum).
When the store is down, the writer keeps the batch, backs off and retries.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time

from ingest.pipeline import Batch, InboundMessage, IngestPipeline
from storage.timeseries import StoreUnavailable

log = logging.getLogger(__name__)


class IngestWorker:
    def __init__(
        self,
        pipeline: IngestPipeline,
        tick_interval_s: float = 1.0,
        max_batches_in_flight: int = 2,
    ) -> None:
        self.pipeline = pipeline
        # Lists, as the subscriber reads them: one hand-off per read, not per message.
        self.inbox: queue.Queue[list[InboundMessage]] = queue.Queue()
        self.batches: queue.Queue[Batch | None] = queue.Queue(max_batches_in_flight)
        self.tick_interval_s = tick_interval_s
        self._stop = threading.Event()
        self._intake: threading.Thread | None = None
        self._writer: threading.Thread | None = None
        self._writing = 0
        self._writer_busy = False
        self.pipeline.metrics.registry.on_collect(self._refresh_gauges)

    def _refresh_gauges(self) -> None:
        waiting = sum(b.size for b in list(self.batches.queue) if b is not None)
        self.pipeline.metrics.pending.set(
            sum(len(messages) for messages in list(self.inbox.queue))
            + self.pipeline.pending
            + waiting
            + self._writing
        )

    def _writer_idle(self) -> bool:
        return not self._writer_busy and self.batches.empty()

    def submit(self, messages: list[InboundMessage]) -> None:
        self.inbox.put(messages)

    def start(self) -> None:
        self._intake = threading.Thread(target=self._run, name="facmon-ingest", daemon=True)
        self._writer = threading.Thread(target=self._write_loop, name="facmon-writer", daemon=True)
        self._writer.start()
        self._intake.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop after a last flush attempt; what is not durable stays unacknowledged."""
        self._stop.set()
        if self._intake:
            self._intake.join(timeout_s)
        if self._writer:
            self._writer.join(timeout_s)

    def _hand_over(self, everything: bool = False) -> None:
        batch = self.pipeline.take_batch(everything)
        while not self._stop.is_set():
            try:
                self.batches.put(batch, timeout=0.5)
                return
            except queue.Full:
                continue
        try:  # stopping: the writer takes one last batch if it still can
            self.batches.put(batch, timeout=2.0)
        except queue.Full:
            log.warning("stopping with %d messages not durable (unacknowledged)", batch.size)

    def _write_loop(self) -> None:
        backoff_s = 0.5
        while True:
            try:
                batch = self.batches.get(timeout=0.5)
            except queue.Empty:
                if self._stop.is_set() and (self._intake is None or not self._intake.is_alive()):
                    return
                self._replay()
                continue
            if batch is None:
                return
            self._writing = batch.size
            self._writer_busy = True
            while True:
                try:
                    self.pipeline.write_batch(batch)
                    backoff_s = 0.5
                    break
                except StoreUnavailable as exc:
                    log.warning(
                        "time-series store unavailable, %d messages held unacknowledged, "
                        "retry in %.1f s: %s",
                        batch.size,
                        backoff_s,
                        exc,
                    )
                except Exception as exc:  # e.g. the dead-letter database is down
                    self.pipeline.metrics.write_health.failed(
                        f"batch write failed: {type(exc).__name__}: {exc}"
                    )
                    log.exception(
                        "batch write failed, %d messages held unacknowledged, retry in %.1f s",
                        batch.size,
                        backoff_s,
                    )
                if self._stop.wait(backoff_s):
                    log.warning(
                        "stopping with %d messages not durable (unacknowledged)", batch.size
                    )
                    self._writing = 0
                    return
                backoff_s = min(backoff_s * 2, 10.0)
            self._writing = 0
            self._writer_busy = False
            if self.batches.empty():
                self.inbox.put([])  # wake the intake: the batch gathered meanwhile may go now

    def _replay(self) -> None:
        """Drain the spool while no batch waits (before each batch, write_batch does it)."""
        try:
            self.pipeline.drain_spool()
        except Exception:
            log.exception("spool replay failed")

    def _handle(self, messages: list[InboundMessage]) -> int:
        handle = self.pipeline.handle
        for message in messages:
            try:  # one failure must not strand the rest of the read unacknowledged
                handle(message)
            except Exception:
                log.exception("ingest pipeline error on %r", message.topic[:200])
        return len(messages)

    def _record_findings(self) -> bool:
        """One chunk of the findings backlog; False if recording failed (it stays queued)."""
        try:
            self.pipeline.record_findings()
            return True
        except Exception:
            log.exception("recording findings failed; they stay queued")
            self._stop.wait(1.0)  # the database may be down: do not spin
            return False

    def _run(self) -> None:
        next_tick = time.monotonic() + self.tick_interval_s
        while not self._stop.is_set():
            timeout = min(
                self.pipeline.seconds_until_due(self._writer_idle()),
                max(0.0, next_tick - time.monotonic()),
            )
            if self.pipeline.findings_waiting:
                timeout = 0.0  # messages first, then the next chunk of findings
            try:
                messages = self.inbox.get(timeout=max(timeout, 0.01))
                handled = self._handle(messages)
                # Drain what is already queued without blocking, up to a batch.
                while handled < self.pipeline.policy.max_lines:
                    try:
                        handled += self._handle(self.inbox.get_nowait())
                    except queue.Empty:
                        break
            except queue.Empty:
                pass
            except Exception:
                log.exception("ingest pipeline error")
            self._record_findings()
            if self.pipeline.flush_due(self._writer_idle()):
                self._hand_over()
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + self.tick_interval_s
                try:
                    self.pipeline.tick()
                except Exception:
                    log.exception("ingest tick error")
        while self.pipeline.findings_waiting and self._record_findings():
            pass
        if self.pipeline.pending or self.pipeline.unsaved_devices or self.pipeline.flush_due():
            self._hand_over(everything=True)
        with contextlib.suppress(queue.Full):  # else the writer sees the stop flag itself
            self.batches.put(None, timeout=2.0)
