"""What a sink sees of an outbox row, and what it answers.

Senders never touch the database: the dispatcher hands them a `PendingEvent`
and records the `SendResult`, so a sender is testable on its own and the
at-least-once bookkeeping lives in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """One outbox row due for delivery to one sink."""

    row_id: int
    event_id: str
    sink: str
    event_type: str
    ticket_id: int
    payload: str
    attempts: int

    @property
    def body(self) -> bytes:
        """The payload exactly as stored: what is sent, and what the signature covers."""
        return self.payload.encode("utf-8")


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool
    reason: str = ""

    @classmethod
    def delivered(cls) -> SendResult:
        return cls(True)

    @classmethod
    def failed(cls, reason: str) -> SendResult:
        return cls(False, reason)


class Sender(Protocol):
    """A sink. `send` must not raise for delivery problems; it returns a failure instead
    (the dispatcher still treats an exception as a failure, to be safe)."""

    def send(self, event: PendingEvent) -> SendResult: ...

    def close(self) -> None: ...


class SinkDirectory(Protocol):
    """Sinks that come and go while the service runs (the notification channels)."""

    def sinks(self) -> list[str]: ...

    def sender_for(self, sink: str) -> Sender | None:
        """The sink's sender, or None while its rows must wait (a disabled channel)."""
        ...

    def wait_s(self, sink: str, now: datetime) -> float:
        """0 when the sink may send one event now (and counts it), else seconds to wait."""
        ...

    def close(self) -> None: ...
