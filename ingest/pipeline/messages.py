"""What travels into the pipeline and back out: messages in, acknowledgements back.

The pipeline declares both ends as protocols, so the route of a message reads in
code: a transport (`ingest.subscriber.IngestSubscriber`) hands each read to a
`MessageSink` (`ingest.worker.IngestWorker`, whose intake thread calls
`IngestPipeline.handle`), and the pipeline, once a batch is durable, calls each
message's `ack` and then the transport's `AckSink.flush_acks`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


def _ignore() -> None:
    return None


@dataclass(slots=True)
class InboundMessage:
    topic: str
    payload: bytes
    received_ms: int
    ack: Callable[[], None] = field(default=_ignore)


class MessageSink(Protocol):
    """Where a transport hands what it read, one list per read, in arrival order."""

    def submit(self, messages: list[InboundMessage]) -> None: ...


class AckSink(Protocol):
    """What the pipeline needs from its transport besides each message's own `ack`:
    a transport that holds acknowledgements back sends them here, once per batch."""

    def flush_acks(self) -> None: ...


class NoTransport:
    """Messages fed by hand (tests, replays): their `ack` callbacks are all there is."""

    def flush_acks(self) -> None:
        return None
