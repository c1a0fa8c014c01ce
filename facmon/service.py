"""Wires the service from settings: broker, stores, detectors, ingest.

Everything above the broker and storage interfaces is the same code whether
the settings name real servers (Mosquitto, InfluxDB, PostgreSQL) or leave
them unset for the embedded defaults.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine

from contract.payload import TimeLimits
from detectors.config_watch import DetectorConfigSource
from detectors.registry import bank_defaults
from facmon.embedded_broker import EmbeddedBroker
from facmon.kpi_runtime import KpiRuntime
from facmon.schema import create_schema
from facmon.settings import Settings
from gateway.connection import BrokerAddress, parse_mqtt_url
from ingest.detector_state import KeptBank, StateKeeper
from ingest.device_registry import DeviceRegistry
from ingest.ledger_gate import LedgerGate
from ingest.pipeline import BatchPolicy, IngestPipeline
from ingest.sharding import parse_units, subscriptions_for
from ingest.spool import Spool
from ingest.subscriber import IngestSubscriber
from ingest.worker import IngestWorker
from observability.metrics import IngestMetrics, MetricsRegistry
from quality.accounts import TokenStore
from quality.delivery import MqttEventSender, OutboxDispatcher, Sender, WebhookSender
from quality.delivery.notify import ChannelSenders, NotificationRouter, NotificationStore
from quality.ledger.directory import LedgerDirectory
from quality.maintenance.desk import MaintenanceDesk
from quality.reports.config import ReportSettings
from quality.reports.generator import Reporter
from quality.reports.scheduler import ReportScheduler
from quality.tickets import TicketStore
from quality.verification import TelemetryVerifier
from storage.dead_letters import DeadLetterStore
from storage.detector_state import DetectorStateStore
from storage.sql import make_engine
from storage.timeseries import SeriesStore
from storage.timeseries.influx import InfluxStore
from storage.timeseries.sqlite import SQLiteSeriesStore

log = logging.getLogger(__name__)


def open_series_store(settings: Settings) -> SeriesStore:
    if settings.influx_url:
        return InfluxStore(
            settings.influx_url,
            settings.influx_database,
            settings.influx_username,
            settings.influx_password,
            settings.influx_retention_policy,
        )
    return SQLiteSeriesStore(settings.embedded_series_path)


@dataclass
class Stores:
    """What the API reads; shared by the service and by a read-only API process."""

    engine: Engine
    series: SeriesStore
    tickets: TicketStore
    dead_letters: DeadLetterStore
    devices: DeviceRegistry
    metrics: IngestMetrics
    tokens: TokenStore
    settings: Settings
    detector_config: DetectorConfigSource = field(
        default_factory=lambda: DetectorConfigSource(None)
    )

    @classmethod
    def open(cls, settings: Settings) -> Stores:
        grace_s = settings.offline_will_grace_s
        detector_config = DetectorConfigSource(  # first: a bad file stops the start here
            settings.detectors_config,
            bank_defaults(
                int(settings.offline_after_s * 1000),
                None if grace_s is None else int(grace_s * 1000),
            ),
        )
        engine = make_engine(settings.ticket_database_url)
        create_schema(engine)
        return cls(
            engine=engine,
            series=open_series_store(settings),
            tickets=TicketStore(engine, settings.ticket_policy(), sinks=settings.event_sinks()),
            dead_letters=DeadLetterStore(engine, settings.dead_letter_payload_bytes),
            devices=DeviceRegistry(engine),
            metrics=IngestMetrics(MetricsRegistry()),
            tokens=TokenStore(engine),
            settings=settings,
            detector_config=detector_config,
        )

    def close(self) -> None:
        self.series.close()
        self.engine.dispose()


def _earlier_subscriptions(settings: Settings) -> list[str]:
    """The filters this session subscribed to last time (a changed topic split)."""
    path = settings.subscription_state_path
    try:
        earlier = json.loads(path.read_text())
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        log.warning("ignoring %s (%s): earlier subscriptions stay as they are", path, exc)
        return []
    return [item for item in earlier if isinstance(item, str)]


class Service:
    """Ingest, detectors, ticket delivery and KPIs in one process.

    `ingest=False` leaves ingest to separate worker processes (`facmon ingest`):
    this process then serves the API and delivers ticket events only.
    `delivery=False` is such a worker: it writes tickets and their outbox rows,
    and the service process delivers them and computes the KPIs.
    """

    def __init__(self, settings: Settings, ingest: bool = True, delivery: bool = True) -> None:
        self.settings = settings
        self.ingest = ingest
        self.delivery = delivery
        self.broker: EmbeddedBroker | None = None
        self.stores = Stores.open(settings)
        self.detectors = KeptBank(
            offline_after_ms=int(settings.offline_after_s * 1000),
            will_grace_ms=(
                None
                if settings.offline_will_grace_s is None
                else int(settings.offline_will_grace_s * 1000)
            ),
            config=self.stores.detector_config.current,
        )
        self.stores.detector_config.subscribe(self.detectors.configure)
        self.pipeline = IngestPipeline(
            self.stores.series,
            self.stores.tickets,
            self.stores.dead_letters,
            self.stores.devices,
            self.detectors,
            self.stores.metrics,
            limits=TimeLimits(
                settings.max_payload_bytes,
                settings.max_future_s * 1000,
                settings.max_past_s * 1000,
            ),
            policy=BatchPolicy(
                settings.batch_max_lines, settings.batch_max_delay_s, settings.batch_min_delay_s
            ),
            verifier=TelemetryVerifier(self.stores.tickets, self.detectors),
            spool=(
                Spool(settings.spool_path, settings.spool_max_bytes)
                if ingest and settings.influx_url and settings.spool_max_bytes > 0
                else None
            ),
            worker=settings.mqtt_client_id if settings.ingest_sites else None,
            ledger=LedgerGate(
                LedgerDirectory(self.stores.engine),
                settings.unknown_devices,
                settings.ledger_refresh_s,
            )
            if ingest
            else None,
        )
        self.pipeline.findings.maintenance = MaintenanceDesk(self.stores.tickets)
        self.worker = IngestWorker(self.pipeline)
        self.detector_state = StateKeeper(
            self.detectors,
            DetectorStateStore(self.stores.engine),
            self.stores.series,
            settings.detector_state_save_s,
            settings.detector_replay_hours,
            settings.detector_replay_max_samples,
        )
        self.subscriber: IngestSubscriber | None = None
        self.address: BrokerAddress | None = None
        self.senders: dict[str, Sender] = {}
        self.dispatcher: OutboxDispatcher | None = None
        self.kpis: KpiRuntime | None = None
        self.reports: ReportScheduler | None = None

    @property
    def mqtt_protocol(self) -> str:
        if self.settings.mqtt_protocol != "auto":
            return self.settings.mqtt_protocol
        return "5" if self.settings.mqtt_url else "3.1.1"

    def start(self) -> None:
        url = self.settings.mqtt_url
        if not url:
            self.broker = EmbeddedBroker(
                self.settings.embedded_broker_port, endpoint_dir=self.settings.data_dir
            )
            self.broker.start()
            url = self.broker.url
        self.address = parse_mqtt_url(url)
        if self.ingest:
            try:
                self._start_ingest(self.address)
            except Exception:
                if self.broker:
                    self.broker.stop()
                raise
        if self.delivery:
            self._start_delivery(self.address)
            self._start_kpis()
            self._start_reports()
        self.stores.detector_config.start()  # re-read on change and on SIGHUP

    def _start_ingest(self, address: BrokerAddress) -> None:
        settings = self.settings
        filters = subscriptions_for(parse_units(settings.ingest_sites), settings.ingest_share_group)
        # Learnt state back (or replayed) before the first live sample is judged.
        self.detector_state.resume(self.stores.devices, parse_units(settings.ingest_sites))
        self.worker.start()
        self.subscriber = IngestSubscriber(
            address,
            self.worker,
            client_id=settings.mqtt_client_id,
            protocol=self.mqtt_protocol,
            receive_maximum=settings.mqtt_receive_maximum,
            session_expiry_s=settings.mqtt_session_expiry_s,
            subscriptions=filters,
            tls=settings.mqtt_tls(),
            forget=_earlier_subscriptions(settings),
            read_ahead=settings.mqtt_read_ahead,
        )
        self.pipeline.connect(self.subscriber)  # acknowledgements go back the way messages came
        try:
            self.subscriber.start()
        except Exception:
            self.worker.stop()
            raise
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        settings.subscription_state_path.write_text(json.dumps(filters))
        log.info(
            "ingest %s subscribed to %s on %s (MQTT %s)",
            settings.mqtt_client_id,
            ", ".join(filters),
            address.redacted(),
            self.mqtt_protocol,
        )

    def _start_kpis(self) -> None:
        """KPIs and the service's own metrics go to InfluxDB, where Grafana reads them.

        Not with the embedded SQLite series store: nothing reads them there, and it
        keeps one point per measurement, device and time, so KPI groups would collide.
        """
        settings = self.settings
        if not settings.influx_url:
            return
        self.kpis = KpiRuntime(
            self.stores.engine,
            self.stores.series,
            self.stores.metrics.registry,
            instance=settings.mqtt_client_id,
            bucket=timedelta(seconds=settings.kpi_bucket_s),
            interval_s=settings.kpi_interval_s,
            settle=timedelta(days=settings.kpi_settle_days),
            metrics_interval_s=settings.service_metrics_interval_s,
            repeat_window=settings.ticket_policy().repeat_window,
            clock=self.stores.tickets.clock,
        )
        self.kpis.start()

    def _start_reports(self) -> None:
        """Weekly and monthly quality reports on schedule (`quality.reports.scheduler`);
        `FACMON_REPORT_SCHEDULE=false` leaves them to `facmon report` and the API."""
        from api.routes.reports import ECHARTS, REPEAT_WINDOW
        from quality.kpi.sources import signals_for

        chosen = ReportSettings()
        if not chosen.schedule:
            return
        series = self.stores.series
        reporter = Reporter(
            self.stores.engine,
            lambda: signals_for(series),
            self.settings.data_dir,
            ECHARTS,
            chosen,
            clock=self.stores.tickets.clock,
            repeat_window=REPEAT_WINDOW,
        )
        self.reports = ReportScheduler(reporter)
        self.reports.start()

    def _start_delivery(self, address: BrokerAddress) -> None:
        """Ticket events leave through the outbox, at least once: signed webhooks, MQTT, and the
        notifications the rules route to WeCom, DingTalk, Feishu, e-mail and webhooks."""
        settings = self.settings
        if settings.webhook_url:
            self.senders["webhook"] = WebhookSender(
                settings.webhook_url, settings.webhook_secret or ""
            )
        if settings.ticket_events_mqtt:
            events = MqttEventSender(
                address,
                client_id=f"{settings.mqtt_client_id}-events",
                tls=settings.mqtt_tls(),
                protocol=self.mqtt_protocol,
            )
            events.start()
            self.senders["mqtt"] = events
        channels = None
        if settings.notify_enabled:
            clock = self.stores.tickets.clock
            self.senders["notify"] = NotificationRouter(
                NotificationStore(self.stores.engine, clock),
                settings.notify_board_url,
                settings.notify_timezone,
                clock,
            )
            channels = ChannelSenders(
                self.stores.engine, settings.smtp_settings(), clock, settings.notify_timeout_s
            )
        self.dispatcher = OutboxDispatcher(
            self.stores.engine,
            self.senders,
            self.stores.tickets.clock,
            self.stores.metrics.registry,
            directory=channels,
        )
        self.dispatcher.start()

    def stop(self) -> None:
        # The worker first: its last acknowledgements reach the broker before the
        # disconnect, so a restart is not sent again what is already durable.
        if self.ingest:
            self.worker.stop()
            self.detector_state.stop()  # the intake has stopped: save what changed
        if self.subscriber:
            self.subscriber.stop()
        if self.kpis:
            self.kpis.stop()
        if self.reports:
            self.reports.stop()
        if self.dispatcher:
            self.dispatcher.stop()
        for sender in self.senders.values():
            sender.close()
        if self.broker:
            self.broker.stop()
        self.stores.detector_config.stop()
        self.stores.close()
