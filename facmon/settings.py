"""One settings object for the whole service, read from `FACMON_*` variables.

Unset URLs mean "embedded": an in-process MQTT broker and SQLite stores under
`data_dir`, so that a laptop needs nothing installed.

>>> Settings(_env_file=None).influx_url is None
True
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    embedded_broker_port: int = Field(
        1884, description="port of the embedded broker; a free one is chosen if it is taken"
    )

    influx_url: str | None = Field(None, description="InfluxDB v1 HTTP API; unset = SQLite")
    influx_database: str = Field("facmon", description="InfluxDB database")
    influx_username: str | None = Field(None, description="InfluxDB user")
    influx_password: str | None = Field(None, description="InfluxDB password")
    influx_retention_policy: str | None = Field(None, description="retention policy to write")

    database_url: str | None = Field(
        None, description="SQLAlchemy URL for tickets and dead letters; unset = SQLite in data_dir"
    )

    batch_max_lines: int = Field(5_000, description="flush the write batch at this many lines")
    batch_max_delay_s: float = Field(1.0, description="or after this many seconds")
    max_payload_bytes: int = Field(16 * 1024, description="larger payloads are dead letters")
    max_future_s: int = Field(300, description="device timestamps further ahead are rejected")
    max_past_s: int = Field(7 * 86_400, description="device timestamps further back are rejected")
    offline_after_s: float = Field(
        120.0, description="silence after which a device counts as offline"
    )
    dead_letter_payload_bytes: int = Field(2_048, description="raw payload kept per dead letter")

    api_host: str = Field("127.0.0.1", description="API bind address")
    api_port: int = Field(8000, description="API port")

    @property
    def ticket_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'facmon.sqlite'}"

    @property
    def embedded_series_path(self) -> Path:
        return self.data_dir / "timeseries.sqlite"
