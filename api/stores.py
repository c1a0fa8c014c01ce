"""What the API reads, declared by the API: the shell's `facmon.service.Stores` provides it.

Declaring it here keeps the API below the app shell: the API never imports the wiring
that builds it, and a read-only API process passes the same object.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Engine

from detectors.config_watch import DetectorConfigSource
from ingest.device_registry import DeviceRegistry
from observability.metrics import IngestMetrics
from quality.accounts import TokenStore
from quality.tickets import TicketStore
from storage.dead_letters import DeadLetterStore
from storage.timeseries import SeriesStore


class ApiSettings(Protocol):
    """The settings the API shows, redacted, to an admin (`GET …/config`)."""

    @property
    def webhook_url(self) -> str | None: ...


class Stores(Protocol):
    @property
    def engine(self) -> Engine: ...

    @property
    def series(self) -> SeriesStore: ...

    @property
    def tickets(self) -> TicketStore: ...

    @property
    def dead_letters(self) -> DeadLetterStore: ...

    @property
    def devices(self) -> DeviceRegistry: ...

    @property
    def metrics(self) -> IngestMetrics: ...

    @property
    def tokens(self) -> TokenStore: ...

    @property
    def settings(self) -> ApiSettings: ...

    @property
    def detector_config(self) -> DetectorConfigSource: ...
