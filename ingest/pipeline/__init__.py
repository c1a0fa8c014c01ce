"""One pass of ingest: validate, track liveness, batch, detect, record findings, and
acknowledge when durable.

A message is acknowledged only after its sample is in the time-series store (or its
dead letter in the database), so a crash at any point loses nothing: the broker
redelivers, and the stores treat the repeated point as the same point. The parts live
in this package, one job each; `composition.IngestPipeline` puts them together.
"""

from ingest.pipeline.batching import Batch, BatchPolicy
from ingest.pipeline.composition import IngestPipeline
from ingest.pipeline.decoding import reason_class
from ingest.pipeline.messages import AckSink, InboundMessage, MessageSink

__all__ = [
    "AckSink",
    "Batch",
    "BatchPolicy",
    "InboundMessage",
    "IngestPipeline",
    "MessageSink",
    "reason_class",
]
