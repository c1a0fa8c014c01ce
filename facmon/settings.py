"""One settings object for the whole service, read from `FACMON_*` variables.

Unset URLs mean "embedded": an in-process MQTT broker and SQLite stores under
`data_dir`, so that a laptop needs nothing installed.

>>> Settings(_env_file=None).influx_url is None
True
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.connection import TlsFiles
from ingest.ledger_gate import UnknownDevices
from quality.delivery.email_smtp import SmtpSettings
from quality.tickets.policy import Deadlines, TicketPolicy

POSTGRES_EXTRA = "install the PostgreSQL extra: .venv/bin/pip install -e '.[postgres]'"


def check_database_driver(url: str) -> None:
    """A PostgreSQL URL needs psycopg, which only the `postgres` extra installs; say so
    now rather than as an import error from deep inside SQLAlchemy. The URL may hold a
    password, so messages never quote it."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError(
            "FACMON_DATABASE_URL is not a database URL: write sqlite:////path/to/file.sqlite "
            "or postgresql+psycopg://user:password@host/database"
        ) from None
    try:
        parsed.get_dialect().import_dbapi()
    except ImportError as exc:
        backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
        if backend == "postgresql" and driver == "psycopg":
            raise ValueError(
                "FACMON_DATABASE_URL names PostgreSQL (postgresql+psycopg://), but its driver "
                "psycopg is not installed: " + POSTGRES_EXTRA
            ) from None
        if backend == "postgresql":
            raise ValueError(
                f"FACMON_DATABASE_URL asks for the PostgreSQL driver '{driver}', which is not "
                "installed: write postgresql+psycopg://... and " + POSTGRES_EXTRA
            ) from None
        raise ValueError(
            f"FACMON_DATABASE_URL needs the Python module {exc.name or driver!r} for "
            f"{backend}+{driver}, which is not installed: install it, or use sqlite or "
            "postgresql+psycopg"
        ) from None
    except Exception:  # an unknown dialect
        raise ValueError(
            "FACMON_DATABASE_URL names a database SQLAlchemy does not know: write "
            "sqlite:////path/to/file.sqlite or postgresql+psycopg://user:password@host/database"
        ) from None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FACMON_", extra="ignore")

    data_dir: Path = Field(Path(".data"), description="where embedded stores and spools live")

    mqtt_url: str | None = Field(
        None, description="mqtt://user:pass@host:port of a real broker; unset = embedded amqtt"
    )
    mqtt_protocol: str = Field(
        "auto", description="'5', '3.1.1' or 'auto' (v5 for a real broker, 3.1.1 embedded)"
    )
    mqtt_client_id: str = Field("facmon-ingest", description="persistent-session client id")
    mqtt_receive_maximum: int = Field(
        10_000, description="unacknowledged QoS 1 messages the broker may send (MQTT v5)"
    )
    mqtt_session_expiry_s: int = Field(
        86_400, description="how long the broker keeps the ingest session while disconnected"
    )
    mqtt_read_ahead: bool = Field(
        True,
        description="parse PUBLISH packets in bulk (ingest.read_ahead); false uses stock paho",
    )
    mqtt_ca_file: str | None = Field(
        None, description="CA bundle to verify an mqtts:// broker (unset = system store)"
    )
    mqtt_client_cert: str | None = Field(None, description="client certificate for mqtts://")
    mqtt_client_key: str | None = Field(None, description="client key for mqtts://")
    ingest_sites: str | None = Field(
        None,
        description="comma-separated sites or site/building units this ingest worker owns "
        "(unset = every site); with ingest_workers > 1, the units split between the workers",
    )
    ingest_workers: int = Field(
        1,
        ge=0,
        le=64,
        description="ingest worker processes `facmon run` starts: 1 = ingest in the service "
        "process, 0 = none (workers run elsewhere), more = split FACMON_INGEST_SITES",
    )
    ingest_share_group: str | None = Field(
        None,
        description="subscribe as $share/{group}/...: only for brokers that keep each device "
        "on one member (EMQX hash_clientid); Mosquitto round-robins, so split by sites there",
    )
    embedded_broker_port: int = Field(
        1884,
        ge=0,
        le=65535,
        description="port of the embedded broker; a free one is chosen if it is taken",
    )

    influx_url: str | None = Field(None, description="InfluxDB v1 HTTP API; unset = SQLite")
    influx_database: str = Field("facmon", description="InfluxDB database")
    influx_username: str | None = Field(None, description="InfluxDB user")
    influx_password: str | None = Field(None, description="InfluxDB password")
    influx_retention_policy: str | None = Field(None, description="retention policy to write")

    database_url: str | None = Field(
        None, description="SQLAlchemy URL for tickets and dead letters; unset = SQLite in data_dir"
    )

    spool_max_bytes: int = Field(
        1024**3, description="local disk kept for batches while InfluxDB is down (0 = no spool)"
    )
    batch_max_lines: int = Field(5_000, description="flush the write batch at this many lines")
    batch_max_delay_s: float = Field(0.5, description="or after this many seconds")
    batch_min_delay_s: float = Field(
        0.1,
        ge=0,
        description="an idle writer takes the batch once it is this old (lower: less lag, "
        "more writes)",
    )
    max_payload_bytes: int = Field(16 * 1024, description="larger payloads are dead letters")
    max_future_s: int = Field(300, description="device timestamps further ahead are rejected")
    max_past_s: int = Field(7 * 86_400, description="device timestamps further back are rejected")
    offline_after_s: float = Field(
        120.0, description="silence after which a device counts as offline"
    )
    offline_will_grace_s: float | None = Field(
        None,
        ge=0,
        description="wait this long after a last will before the offline ticket, so a restart "
        "opens none (unset = offline_after_s); 0 = with the will, for devices that delay "
        "their will themselves (MQTT v5)",
    )
    dead_letter_payload_bytes: int = Field(2_048, description="raw payload kept per dead letter")
    photo_max_bytes: int = Field(
        10 * 1024 * 1024, ge=1, description="largest photo accepted, in bytes (each)"
    )
    photo_max_count: int = Field(
        6, ge=1, le=50, description="most photos per manual ticket or inspection answer"
    )
    photo_store: str = Field(
        "file",
        pattern="^(file|s3)$",
        description="where photos live: 'file' (data_dir/photos) or 's3' (s3_bucket)",
    )
    s3_endpoint: str | None = Field(
        None, description="S3-compatible endpoint URL (MinIO, Ceph...); unset = AWS S3"
    )
    s3_bucket: str | None = Field(None, description="bucket for photos when photo_store is s3")
    s3_access_key: str | None = Field(None, description="S3 access key id")
    s3_secret_key: str | None = Field(None, description="S3 secret access key")
    s3_region: str | None = Field(None, description="S3 region (unset = us-east-1)")
    detectors_config: Path | None = Field(
        None,
        description="YAML file of detector parameters per kind, site, building and device "
        "(unset = built-in defaults); re-read on change and on SIGHUP",
    )
    detector_state_save_s: float = Field(
        60.0,
        gt=0,
        description="how often detectors' learnt state is saved to the SQL database (and at "
        "a clean stop); restored at start",
    )
    detector_replay_hours: float = Field(
        24.0,
        ge=0,
        description="where no state was saved for a device, rebuild it at start from this "
        "much of its history in the time-series store (0 = no replay)",
    )
    detector_replay_max_samples: int = Field(
        2_000,
        ge=0,
        description="samples replayed per device at most, the newest (the replay blocks the "
        "start: 2,000 keep a 10,000-device 1 Hz fleet's first start under 15 CPU-minutes)",
    )
    unknown_devices: UnknownDevices = Field(
        UnknownDevices.PENDING,
        description="telemetry from a device the equipment ledger does not list: 'pending' "
        "stores and judges it and adds the device to the ledger as pending (待启用) for the "
        "quality team to confirm; 'dead_letter' keeps it as a dead letter (unknown device)",
    )
    ledger_refresh_s: float = Field(
        30.0,
        gt=0,
        description="how often ingest re-reads which devices the ledger lists (a device "
        "added to the ledger is admitted within this time)",
    )

    sla_critical_dispatch_s: int = Field(15 * 60, description="critical: deadline to dispatch")
    sla_critical_rectify_s: int = Field(4 * 3600, description="critical: deadline to rectify")
    sla_major_dispatch_s: int = Field(4 * 3600, description="major: deadline to dispatch")
    sla_major_rectify_s: int = Field(72 * 3600, description="major: deadline to rectify")
    sla_minor_dispatch_s: int = Field(48 * 3600, description="minor: deadline to dispatch")
    sla_minor_rectify_s: int = Field(7 * 86_400, description="minor: deadline to rectify")
    sla_critical_acknowledge_s: int = Field(
        15 * 60, description="critical: deadline to acknowledge (接单), from the dispatch"
    )
    sla_major_acknowledge_s: int = Field(2 * 3600, description="major: deadline to acknowledge")
    sla_minor_acknowledge_s: int = Field(24 * 3600, description="minor: deadline to acknowledge")
    sla_critical_recheck_s: int = Field(
        4 * 3600, description="critical: deadline to re-check (复核), from the rectification"
    )
    sla_major_recheck_s: int = Field(24 * 3600, description="major: deadline to re-check")
    sla_minor_recheck_s: int = Field(72 * 3600, description="minor: deadline to re-check")
    repeat_window_days: float = Field(
        30.0, description="a fault again this soon after a close is a repeat (yellow, red card)"
    )
    reopen_grace_s: int = Field(
        24 * 3600, description="a fault again this soon after a close reopens the ticket"
    )
    verification_window_s: int = Field(
        3600, description="normal telemetry needed after rectification to verify a ticket"
    )
    auto_close_verified: bool = Field(
        False, description="close tickets as soon as telemetry verifies them"
    )

    webhook_url: str | None = Field(None, description="receiver of signed ticket events")
    webhook_secret: str | None = Field(
        None, description="HMAC-SHA256 key for webhook signatures (required with webhook_url)"
    )
    ticket_events_mqtt: bool = Field(
        True, description="publish ticket events on facility/v1/tickets/{site}/... at QoS 1"
    )

    notify_enabled: bool = Field(
        True,
        description="route ticket events to the notification rules' channels (WeCom, DingTalk, "
        "Feishu, e-mail, webhooks), managed at /api/notifications",
    )
    notify_board_url: str | None = Field(
        None, description="the board's address as people open it, for the link in each message"
    )
    notify_timezone: str = Field(
        "Asia/Shanghai", description="time zone of the times in messages (24-hour, zone shown)"
    )
    notify_timeout_s: float = Field(10.0, gt=0, description="per attempt, for every channel")
    smtp_host: str | None = Field(None, description="mail relay for e-mail notifications")
    smtp_port: int = Field(587, ge=1, le=65535, description="465 for ssl, 587 for starttls")
    smtp_security: str = Field("starttls", description="'starttls', 'ssl' or 'none'")
    smtp_username: str | None = Field(None, description="SMTP AUTH login (none: no login)")
    smtp_password: str | None = Field(None, description="SMTP AUTH password")
    smtp_sender: str = Field("facmon@localhost", description="From: address of notifications")
    smtp_ca_file: Path | None = Field(None, description="CA certificate of a private relay")

    kpi_bucket_s: int = Field(
        3600, description="KPI period in seconds; the dashboards' KPI panels group by 1 h"
    )
    kpi_interval_s: float = Field(
        60.0, description="how often the service recomputes the last and the running KPI period"
    )
    kpi_settle_days: float = Field(
        7.0, description="how far back the hourly KPI recompute goes (completion settles)"
    )
    service_metrics_interval_s: float = Field(
        10.0, description="how often the service writes its own metrics to InfluxDB"
    )

    session_cookie_secure: bool = Field(
        False,
        description="mark the sign-in cookies Secure even when a request arrives over plain "
        "HTTP (behind a TLS proxy that does not forward the scheme); https requests always are",
    )
    session_hours: float = Field(12.0, gt=0, description="a sign-in lasts at most this long")
    session_idle_minutes: float = Field(120.0, gt=0, description="a sign-in unused this long ends")

    api_host: str = Field("127.0.0.1", description="API bind address")
    api_port: int = Field(8000, ge=1, le=65535, description="API port")
    metrics_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="`facmon ingest` serves its Prometheus metrics on this port (bound to "
        "api_host; 0 = off); `facmon run` gives ingest worker i the port metrics_port + i",
    )

    @model_validator(mode="after")
    def _check_ingest_split(self) -> Settings:
        from ingest.sharding import parse_units

        units = parse_units(self.ingest_sites)
        if self.ingest_workers > 1 and not self.ingest_share_group and len(units) < 2:
            raise ValueError(
                "FACMON_INGEST_WORKERS > 1 needs FACMON_INGEST_SITES listing at least two "
                "sites (or site/building units) to split between the workers, or "
                "FACMON_INGEST_SHARE_GROUP on a broker that keeps device affinity"
            )
        if self.ingest_workers > 1 and units and len(units) < self.ingest_workers:
            raise ValueError(
                f"FACMON_INGEST_WORKERS={self.ingest_workers} but only {len(units)} units in "
                "FACMON_INGEST_SITES: a worker would have nothing to do; list site/building "
                "units or start fewer workers"
            )
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_secrets(self) -> Settings:
        if self.webhook_url:
            secret = self.webhook_secret or ""
            if len(secret) < 16 or "change-me" in secret:
                raise ValueError(
                    "FACMON_WEBHOOK_SECRET must be set to a random value of 16+ characters "
                    "when FACMON_WEBHOOK_URL is set (e.g. python -c 'import secrets; "
                    "print(secrets.token_hex(32))')"
                )
        return self

    @model_validator(mode="after")
    def _check_notify(self) -> Settings:
        if self.smtp_security not in ("starttls", "ssl", "none"):
            raise ValueError("FACMON_SMTP_SECURITY must be starttls, ssl or none")
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(self.notify_timezone)
        except (ValueError, KeyError):
            raise ValueError(
                "FACMON_NOTIFY_TIMEZONE must be an IANA time zone such as Asia/Shanghai"
            ) from None
        return self

    @model_validator(mode="after")
    def _check_database_driver(self) -> Settings:
        if self.database_url:
            check_database_driver(self.database_url)
        return self

    def ticket_policy(self) -> TicketPolicy:
        return TicketPolicy(
            sla={
                "critical": Deadlines(
                    timedelta(seconds=self.sla_critical_dispatch_s),
                    timedelta(seconds=self.sla_critical_rectify_s),
                    timedelta(seconds=self.sla_critical_acknowledge_s),
                    timedelta(seconds=self.sla_critical_recheck_s),
                ),
                "major": Deadlines(
                    timedelta(seconds=self.sla_major_dispatch_s),
                    timedelta(seconds=self.sla_major_rectify_s),
                    timedelta(seconds=self.sla_major_acknowledge_s),
                    timedelta(seconds=self.sla_major_recheck_s),
                ),
                "minor": Deadlines(
                    timedelta(seconds=self.sla_minor_dispatch_s),
                    timedelta(seconds=self.sla_minor_rectify_s),
                    timedelta(seconds=self.sla_minor_acknowledge_s),
                    timedelta(seconds=self.sla_minor_recheck_s),
                ),
            },
            repeat_window=timedelta(days=self.repeat_window_days),
            reopen_grace=timedelta(seconds=self.reopen_grace_s),
            verification_window=timedelta(seconds=self.verification_window_s),
            auto_close_verified=self.auto_close_verified,
        )

    def mqtt_tls(self) -> TlsFiles:
        return TlsFiles(self.mqtt_ca_file, self.mqtt_client_cert, self.mqtt_client_key)

    def event_sinks(self) -> tuple[str, ...]:
        sinks: list[str] = []
        if self.webhook_url:
            sinks.append("webhook")
        if self.ticket_events_mqtt:
            sinks.append("mqtt")
        if self.notify_enabled:
            sinks.append("notify")
        return tuple(sinks)

    def smtp_settings(self) -> SmtpSettings | None:
        if not self.smtp_host:
            return None
        return SmtpSettings(
            self.smtp_host,
            self.smtp_port,
            self.smtp_security,
            self.smtp_username,
            self.smtp_password,
            self.smtp_sender,
            self.notify_timeout_s,
            str(self.smtp_ca_file) if self.smtp_ca_file else None,
        )

    @property
    def ticket_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'facmon.sqlite'}"

    @property
    def spool_path(self) -> Path:
        """One spool per ingest session: workers sharing a data_dir must not replay each
        other's batches."""
        if self.mqtt_client_id == "facmon-ingest":
            return self.data_dir / "spool.sqlite"
        return self.data_dir / f"spool-{self.mqtt_client_id}.sqlite"

    @property
    def subscription_state_path(self) -> Path:
        return self.data_dir / f"subscriptions-{self.mqtt_client_id}.json"

    @property
    def embedded_series_path(self) -> Path:
        return self.data_dir / "timeseries.sqlite"
