"""The outbox dispatcher: delivers pending ticket events to their sinks, at least once.

Rules, and why:

- A row is marked delivered only after its sender succeeded, so a crash between
  the two re-sends the event (receivers deduplicate on the stable event id)
  rather than losing it.
- Per ticket and sink, events go out in outbox order: a row is not attempted
  while an older row of the same ticket and sink is undelivered, so a receiver
  never sees `transitioned` before `opened`. Other tickets are not held up.
- A failure backs off deterministically: after the n-th failed attempt the row
  waits `min(2**n, max_backoff_s)` seconds (2, 4, 8, ... 300). No jitter, so a
  `ManualClock` makes retries exact in tests. Rows are retried forever: nothing
  is dropped; `last_error` and the metrics say why they are stuck.
- Several dispatchers (processes) may share the database: each claims a row
  with a conditional UPDATE that pushes `next_attempt_at` forward by a lease,
  and only the one whose UPDATE matched sends it. If a dispatcher dies while
  holding a lease, the row becomes due again when the lease ends.
- Each sink has its own background thread, so a receiver that times out does
  not delay MQTT events, and a run of failures ends a pass early, so a dead
  receiver costs a few timeouts per poll rather than one per pending event.
- Sinks may also come from a `SinkDirectory` (the notification channels, added
  and removed at run time): each gets its thread when it appears, and its gate
  (a rate limit) is asked before each send. A closed gate ends the pass and
  leaves the rows due, untouched: held, not failed, and never dropped.
- A sender that `fans_out` (the notification router) writes new rows for other
  sinks; after it delivers, every sink is woken to send them at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, delete, exists, func, select, update
from sqlalchemy.orm import aliased

from contract.clock import Clock
from observability.metrics import MetricsRegistry
from quality.delivery.base import PendingEvent, Sender, SendResult, SinkDirectory
from quality.tickets.outbox import OutboxEvent

log = logging.getLogger(__name__)

_older = aliased(OutboxEvent)
# An older undelivered event of the same ticket on the same sink blocks this one.
_BLOCKED = exists().where(
    and_(
        _older.sink == OutboxEvent.sink,
        _older.ticket_id == OutboxEvent.ticket_id,
        _older.delivered_at.is_(None),
        _older.id < OutboxEvent.id,
    )
)


def backoff_seconds(failed_attempts: int, max_backoff_s: float) -> float:
    """Delay before the next attempt after `failed_attempts` failures.

    >>> [backoff_seconds(n, 300) for n in (1, 2, 3, 8, 9, 50)]
    [2, 4, 8, 256, 300, 300]
    """
    if failed_attempts >= 32:  # 2**32 s is past any sane cap; avoid huge numbers
        return max_backoff_s
    return min(2**failed_attempts, max_backoff_s)


class OutboxDispatcher:
    """Delivers due outbox rows of every sink in `senders`; rows of other sinks stay put.

    `run_once()` is the whole algorithm (tests call it with a `ManualClock`);
    `start()`/`stop()` run it in the background, one thread per sink, every
    `poll_s` seconds or at once after `wake()`.
    """

    def __init__(
        self,
        engine: Engine,
        senders: Mapping[str, Sender],
        clock: Clock,
        metrics_registry: MetricsRegistry | None = None,
        batch: int = 100,
        max_backoff_s: float = 300,
        poll_s: float = 0.5,
        lease_s: float = 120,
        max_consecutive_failures: int = 5,
        directory: SinkDirectory | None = None,
    ) -> None:
        if batch < 1 or max_consecutive_failures < 1:
            raise ValueError("batch and max_consecutive_failures must be at least 1")
        self.engine = engine
        self.senders = dict(senders)
        self.directory = directory
        self.clock = clock
        self.batch = batch
        self.max_backoff_s = max_backoff_s
        self.poll_s = poll_s
        # Must exceed a sender's worst-case send time, or a slow send may be repeated.
        self.lease_s = lease_s
        self.max_consecutive_failures = max_consecutive_failures
        registry = metrics_registry or MetricsRegistry()
        self.delivered = registry.counter(
            "facmon_outbox_delivered_total", "Ticket events delivered, by sink."
        )
        self.failures = registry.counter(
            "facmon_outbox_failures_total", "Failed ticket event delivery attempts, by sink."
        )
        self.pending = registry.gauge(
            "facmon_outbox_pending", "Ticket events not yet delivered, by sink."
        )
        self._locks: dict[str, threading.Lock] = {}
        self._failing: dict[str, bool] = {}
        self._stop = threading.Event()
        self._never = threading.Event()
        self._wakes: dict[str, threading.Event] = {}
        self._registry_lock = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}
        for sink in self.senders:
            self._register(sink)

    def _register(self, sink: str) -> threading.Event:
        with self._registry_lock:
            self._locks.setdefault(sink, threading.Lock())
            self._failing.setdefault(sink, False)
            return self._wakes.setdefault(sink, threading.Event())

    def sinks(self) -> list[str]:
        """The fixed sinks, then the directory's (in that order, so a round routes
        notifications before it sends them)."""
        dynamic = self.directory.sinks() if self.directory is not None else []
        return [*self.senders, *(sink for sink in dynamic if sink not in self.senders)]

    def _sender(self, sink: str) -> Sender | None:
        if sink in self.senders:
            return self.senders[sink]
        return self.directory.sender_for(sink) if self.directory is not None else None

    # -- one round ----------------------------------------------------------

    def run_once(self) -> int:
        """Deliver every due row of every sink (following per-ticket chains); return how
        many were delivered."""
        return sum(self.run_sink(sink) for sink in self.sinks())

    def run_sink(self, sink: str) -> int:
        return self._run_sink(sink, self._never)

    def _run_sink(self, sink: str, stop: threading.Event) -> int:
        self._register(sink)
        with self._locks[sink]:
            delivered = 0
            while not stop.is_set():
                progress, more = self._pass(sink, stop)
                delivered += progress
                # Delivering a row may unblock the next event of its ticket: go again.
                if not progress or not more:
                    break
            self.refresh_pending(sink)
            return delivered

    def _due(self, sink: str, now: datetime) -> list[PendingEvent]:
        query = (
            select(
                OutboxEvent.id,
                OutboxEvent.event_id,
                OutboxEvent.event_type,
                OutboxEvent.ticket_id,
                OutboxEvent.payload,
                OutboxEvent.attempts,
            )
            .where(
                OutboxEvent.sink == sink,
                OutboxEvent.delivered_at.is_(None),
                OutboxEvent.next_attempt_at <= now,
                ~_BLOCKED,
            )
            .order_by(OutboxEvent.id)
            .limit(self.batch)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            PendingEvent(
                row.id, row.event_id, sink, row.event_type, row.ticket_id, row.payload, row.attempts
            )
            for row in rows
        ]

    def _claim(self, event: PendingEvent, now: datetime) -> bool:
        """Take a lease on the row; False if another dispatcher got there first."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(OutboxEvent)
                .where(
                    OutboxEvent.id == event.row_id,
                    OutboxEvent.delivered_at.is_(None),
                    OutboxEvent.next_attempt_at <= now,
                )
                .values(next_attempt_at=now + timedelta(seconds=self.lease_s))
            )
            return result.rowcount == 1

    def _finish(self, event: PendingEvent, result: SendResult) -> None:
        now = self.clock.now()
        attempts = event.attempts + 1
        values: dict[str, object]
        if result.ok:
            values = {"delivered_at": now, "attempts": attempts}
        else:
            delay = backoff_seconds(attempts, self.max_backoff_s)
            values = {
                "attempts": attempts,
                "last_error": result.reason[:2000],
                "next_attempt_at": now + timedelta(seconds=delay),
            }
        with self.engine.begin() as conn:
            conn.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id == event.row_id, OutboxEvent.delivered_at.is_(None))
                .values(**values)
            )

    def _send(self, sender: Sender, event: PendingEvent) -> SendResult:
        try:
            return sender.send(event)
        except Exception as exc:  # a sender bug must not stop delivery of the others
            log.exception("sender %s raised on event %s", event.sink, event.event_id)
            return SendResult.failed(f"sender raised {type(exc).__name__}: {exc}")

    def _gate_closed(self, sink: str) -> bool:
        return self.directory is not None and self.directory.wait_s(sink, self.clock.now()) > 0

    def _pass(self, sink: str, stop: threading.Event) -> tuple[int, bool]:
        """Attempt one batch of due rows: (delivered, whether the batch was worth repeating)."""
        sender = self._sender(sink)
        if sender is None:  # a disabled or removed channel: its rows wait
            return 0, False
        gated = sink not in self.senders and self.directory is not None
        due = self._due(sink, self.clock.now())
        delivered = 0
        consecutive_failures = 0
        for event in due:
            if stop.is_set():
                break
            if gated and self._gate_closed(sink):
                return delivered, False  # rate limited: the rest wait, still due
            if not self._claim(event, self.clock.now()):
                continue
            result = self._send(sender, event)
            self._finish(event, result)
            if result.ok:
                delivered += 1
                consecutive_failures = 0
                self.delivered.inc(sink=sink)
                if self._failing.get(sink):
                    log.info("%s delivery recovered", sink)
                    self._failing[sink] = False
            else:
                consecutive_failures += 1
                self.failures.inc(sink=sink)
                log.debug("event %s to %s failed: %s", event.event_id, sink, result.reason)
                if not self._failing.get(sink):
                    log.warning("%s delivery failing (will retry): %s", sink, result.reason)
                    self._failing[sink] = True
                if consecutive_failures >= self.max_consecutive_failures:
                    return delivered, False
        return delivered, True

    # -- state ----------------------------------------------------------------

    def pending_count(self, sink: str | None = None) -> int:
        query = (
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.delivered_at.is_(None))
        )
        if sink is not None:
            query = query.where(OutboxEvent.sink == sink)
        with self.engine.connect() as conn:
            return int(conn.scalar(query) or 0)

    def refresh_pending(self, sink: str) -> None:
        self.pending.set(self.pending_count(sink), sink=sink)

    def purge_delivered(self, older_than: timedelta) -> int:
        """Delete rows delivered before `now - older_than`; the outbox is not an archive."""
        cutoff = self.clock.now() - older_than
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(OutboxEvent).where(
                    OutboxEvent.delivered_at.is_not(None), OutboxEvent.delivered_at < cutoff
                )
            )
            return int(result.rowcount)

    # -- background -----------------------------------------------------------

    def start(self) -> None:
        if self._threads:
            return
        self._stop.clear()
        for sink in self.senders:
            self._start_thread(sink)
        if self.directory is not None:
            self._start_thread_named("outbox-directory", self._watch_directory)

    def _start_thread(self, sink: str) -> None:
        self._register(sink)
        self._start_thread_named(sink, lambda: self._loop(sink))

    def _start_thread_named(self, key: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=f"outbox-{key}", daemon=True)
        self._threads[key] = thread
        thread.start()

    def _watch_directory(self) -> None:
        """Start a thread for each sink the directory gains (a channel added at run time)."""
        assert self.directory is not None
        while not self._stop.is_set():
            try:
                for sink in self.directory.sinks():
                    if sink not in self._threads and not self._stop.is_set():
                        self._start_thread(sink)
            except Exception:
                log.exception("listing notification channels failed; retrying")
            self._stop.wait(max(self.poll_s, 1.0))

    def wake(self) -> None:
        """Deliver now rather than at the next poll (e.g. right after a ticket change)."""
        with self._registry_lock:
            wakes = list(self._wakes.values())
        for event in wakes:
            event.set()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop after the send in progress; rows not yet sent stay pending for next time."""
        self._stop.set()
        self.wake()
        for thread in list(self._threads.values()):
            thread.join(timeout_s)
        self._threads = {}
        if self.directory is not None:
            self.directory.close()

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads.values())

    def _loop(self, sink: str) -> None:
        wake = self._register(sink)
        fans_out = bool(getattr(self.senders.get(sink), "fans_out", False))
        while not self._stop.is_set():
            wake.clear()  # before the pass: a wake during it triggers another pass
            try:
                if self._run_sink(sink, self._stop) and fans_out:
                    self.wake()  # the messages just written go out now
            except Exception:  # the database may be briefly away; keep the thread alive
                log.exception("outbox dispatch for %s failed; retrying", sink)
            wake.wait(self.poll_s)
