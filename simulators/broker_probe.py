"""Which MQTT version a broker accepts, asked once before a fleet connects.

Simulated devices prefer MQTT v5 (will delays); the embedded amqtt broker speaks
3.1.1 only and refuses v5 with "Unsupported protocol version". Asking once lets
`facmon simulate` fall back with one clear line instead of failing device by device.
"""

from __future__ import annotations

import threading
import uuid

import paho.mqtt.client as mqtt

from gateway.connection import BrokerAddress, TlsFiles, configure_client

PROTOCOLS = {"5": mqtt.MQTTv5, "3.1.1": mqtt.MQTTv311}


class BrokerUnavailable(RuntimeError):
    """The broker cannot be reached, or refuses every MQTT version we speak."""


def _try(
    address: BrokerAddress,
    protocol: str,
    tls: TlsFiles | None,
    timeout_s: float,
    client_id: str | None = None,
) -> str:
    """'' when the broker accepts `protocol`, else its reason."""
    answered = threading.Event()
    reason: list[str] = []
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id or f"probe-{uuid.uuid4().hex[:12]}",
        protocol=PROTOCOLS[protocol],
    )
    configure_client(client, address, tls)

    def on_connect(*args: object) -> None:
        code = args[3]
        if isinstance(code, mqtt.ReasonCode) and code.is_failure:
            reason.append(str(code))
        answered.set()

    def on_disconnect(*_args: object) -> None:
        if not answered.is_set():
            reason.append("the broker closed the connection")
        answered.set()

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    try:
        client.connect(address.host, address.port, keepalive=10)
    except OSError as exc:
        raise BrokerUnavailable(
            f"cannot reach an MQTT broker at {address.redacted()} ({exc.strerror or exc})"
        ) from None
    client.loop_start()
    try:
        if not answered.wait(timeout_s):
            return f"no answer within {timeout_s:g} s"
        return reason[0] if reason else ""
    finally:
        client.disconnect()
        client.loop_stop()


def negotiate_protocol(
    address: BrokerAddress,
    tls: TlsFiles | None = None,
    timeout_s: float = 5.0,
    client_id: str | None = None,
) -> tuple[str, str | None]:
    """The version to use ('5' preferred, else '3.1.1') and a note when it fell back.

    `client_id` is for logins bound to one id (a device's account): the probe must use it."""
    refused_v5 = _try(address, "5", tls, timeout_s, client_id)
    if not refused_v5:
        return "5", None
    refused_v311 = _try(address, "3.1.1", tls, timeout_s, client_id)
    if not refused_v311:
        note = (
            f"the broker at {address.redacted()} refused MQTT v5 ({refused_v5}); "
            "using MQTT 3.1.1 (the embedded broker speaks only 3.1.1), without will delays"
        )
        return "3.1.1", note
    raise BrokerUnavailable(
        f"the broker at {address.redacted()} refused the connection "
        f"(MQTT v5: {refused_v5}; MQTT 3.1.1: {refused_v311}): check the user, password "
        "and port in --broker or FACMON_MQTT_URL"
    )
