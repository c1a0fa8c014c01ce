"""MQTT over TLS with a private CA made in the test: ingest and devices verify the broker."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from contract.payload import Channel, encode_telemetry
from contract.topics import DeviceRef
from facmon.embedded_broker import free_port
from gateway.connection import TlsFiles, parse_mqtt_url
from gateway.publisher import DeviceConnection, PublishError
from tests.conftest import unique, wait_until
from tests.e2e.helpers import service_settings, started
from tools.servers import MosquittoServer


def make_pki(folder: Path) -> dict[str, Path]:
    """A CA and a server certificate for 127.0.0.1, with the openssl command line."""

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=folder)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=facmon test CA", "-keyout", "ca.key", "-out", "ca.crt")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", "server.key", "-out", "server.csr")  # fmt: skip
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.crt")  # fmt: skip
    return {name: folder / f"{name}" for name in ("ca.crt", "server.crt", "server.key")}


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[MosquittoServer, int, Path]]:
    pki = tmp_path / "pki"
    pki.mkdir()
    files = make_pki(pki)
    tls_port = free_port()
    server = MosquittoServer(
        tmp_path / "broker",
        extra_config=(
            f"listener {tls_port} 127.0.0.1\n"
            f"cafile {files['ca.crt']}\n"
            f"certfile {files['server.crt']}\n"
            f"keyfile {files['server.key']}\n"
        ),
    )
    server.workdir.mkdir(parents=True)
    server.start()
    yield server, tls_port, files["ca.crt"]
    server.stop()


def test_ingest_and_devices_talk_tls_to_a_verified_broker(
    tls_broker: tuple[MosquittoServer, int, Path], site: str, tmp_path: Path
) -> None:
    _broker, tls_port, ca_file = tls_broker
    url = f"mqtts://127.0.0.1:{tls_port}"
    service = started(
        service_settings(tmp_path, mqtt_url=url, mqtt_ca_file=str(ca_file), mqtt_protocol="5")
    )
    device = DeviceConnection(
        DeviceRef(site, "b1", "pump", "tls-pump"),
        parse_mqtt_url(url),
        client_id=unique("tls-dev"),
        tls=TlsFiles(ca_file=str(ca_file)),
    )
    try:
        device.connect()
        now = int(time.time() * 1000)
        for seq in range(1, 6):
            device.publish(
                Channel.TELEMETRY, encode_telemetry(now - 1000 + seq, seq, {"current_a": 2.0})
            ).wait_for_publish(10)
        wait_until(
            lambda: service.stores.series.count("pump", "tls-pump") == 5,
            what="samples sent over TLS to be stored",
        )
    finally:
        device.close()
        service.stop()


def test_a_broker_certificate_from_an_unknown_ca_is_refused(
    tls_broker: tuple[MosquittoServer, int, Path], site: str
) -> None:
    _broker, tls_port, _ca = tls_broker
    device = DeviceConnection(
        DeviceRef(site, "b1", "pump", "p"),
        parse_mqtt_url(f"mqtts://127.0.0.1:{tls_port}"),
        client_id=unique("untrusting"),
        connect_timeout_s=3,
    )
    with pytest.raises(PublishError):
        device.connect()
