"""Broker addresses as URLs: `mqtt://user:password@host:1883` or `mqtts://...` for TLS.

>>> parse_mqtt_url("mqtt://sim:secret@broker:1884")
BrokerAddress(host='broker', port=1884, username='sim', password='secret', tls=False)
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False

    def redacted(self) -> str:
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.username}:***@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}"


def parse_mqtt_url(url: str) -> BrokerAddress:
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ValueError(
            f"broker URL {url!r} must start with mqtt:// or mqtts:// (e.g. mqtt://127.0.0.1:1883)"
        )
    tls = parts.scheme in ("mqtts", "ssl")
    if not parts.hostname:
        raise ValueError(f"broker URL {url!r} has no host")
    return BrokerAddress(
        host=parts.hostname,
        port=parts.port or (8883 if tls else 1883),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=tls,
    )


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """A private CA (or none: the system store) and an optional client certificate."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None


def configure_client(
    client: mqtt.Client, address: BrokerAddress, tls: TlsFiles | None = None
) -> None:
    """Credentials, and TLS for mqtts:// URLs; the broker's certificate is always verified."""
    if address.username:
        client.username_pw_set(address.username, address.password)
    if address.tls:
        files = tls or TlsFiles()
        client.tls_set(ca_certs=files.ca_file, certfile=files.cert_file, keyfile=files.key_file)
