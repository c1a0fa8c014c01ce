"""The ingest worker thread: drains the inbound queue into the pipeline and keeps time.

One thread owns the pipeline, so detectors and batches need no locks. When the
time-series store is down the worker keeps the batch, backs off and retries;
the unacknowledged messages make the broker hold the rest (receive maximum).
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from facmon.timeseries import StoreUnavailable
from ingest.pipeline import InboundMessage, IngestPipeline

log = logging.getLogger(__name__)


class IngestWorker:
    def __init__(self, pipeline: IngestPipeline, tick_interval_s: float = 1.0) -> None:
        self.pipeline = pipeline
        self.inbox: queue.Queue[InboundMessage] = queue.Queue()
        self.tick_interval_s = tick_interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._retry_at = 0.0
        self._backoff_s = 0.5
        self.pipeline.metrics.registry.on_collect(self._refresh_gauges)

    def _refresh_gauges(self) -> None:
        self.pipeline.metrics.pending.set(self.inbox.qsize() + self.pipeline.pending)

    def submit(self, message: InboundMessage) -> None:
        self.inbox.put(message)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="facmon-ingest", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop after a last flush attempt; unflushed messages stay unacknowledged."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout_s)

    def _try_flush(self) -> None:
        if time.monotonic() < self._retry_at:
            return
        try:
            self.pipeline.flush()
            self._backoff_s = 0.5
        except StoreUnavailable as exc:
            log.warning(
                "time-series store unavailable, %d messages held unacknowledged, "
                "retry in %.1f s: %s",
                self.pipeline.pending,
                self._backoff_s,
                exc,
            )
            self._back_off()
        except Exception:
            log.exception(
                "flush failed, %d messages held unacknowledged, retry in %.1f s",
                self.pipeline.pending,
                self._backoff_s,
            )
            self._back_off()

    def _back_off(self) -> None:
        self._retry_at = time.monotonic() + self._backoff_s
        self._backoff_s = min(self._backoff_s * 2, 10.0)

    def _run(self) -> None:
        next_tick = time.monotonic() + self.tick_interval_s
        while not self._stop.is_set():
            timeout = min(self.pipeline.seconds_until_due(), max(0.0, next_tick - time.monotonic()))
            try:
                message = self.inbox.get(timeout=max(timeout, 0.01))
                self.pipeline.handle(message)
                # Drain what is already queued without blocking, up to a batch.
                for _ in range(self.pipeline.policy.max_lines):
                    try:
                        self.pipeline.handle(self.inbox.get_nowait())
                    except queue.Empty:
                        break
            except queue.Empty:
                pass
            except Exception:
                log.exception("ingest pipeline error")
            if self.pipeline.flush_due():
                self._try_flush()
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + self.tick_interval_s
                try:
                    self.pipeline.tick()
                except Exception:
                    log.exception("ingest tick error")
        if self.pipeline.pending:
            self._retry_at = 0.0
            self._try_flush()
