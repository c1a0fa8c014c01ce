"""The publishing side of the contract, used by devices, simulators and edge bridges.

`DeviceConnection` is one device's own MQTT session: QoS 1 publishes, a retained
`online` on connect, and a last will `offline` that the broker publishes if the
device vanishes without saying goodbye.
"""

from __future__ import annotations

import logging
import threading

import paho.mqtt.client as mqtt

from gateway.connection import BrokerAddress, TlsFiles, configure_client
from gateway.contract import DeviceRef, status_topic, topic_for
from gateway.payload import Channel

log = logging.getLogger(__name__)


class PublishError(RuntimeError):
    """The broker could not be reached or refused the connection."""


class DeviceConnection:
    def __init__(
        self,
        device: DeviceRef,
        address: BrokerAddress,
        client_id: str | None = None,
        max_inflight: int = 1_000,
        connect_timeout_s: float = 10.0,
        tls: TlsFiles | None = None,
    ) -> None:
        self.device = device
        self.address = address
        self._connected = threading.Event()
        self._failure: str | None = None
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id or f"dev-{device.device_id}",
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        configure_client(self.client, address, tls)
        self.client.max_inflight_messages_set(max_inflight)
        self.client.max_queued_messages_set(0)
        self.client.will_set(status_topic(device), b"offline", qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.connect_timeout_s = connect_timeout_s

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: mqtt.ReasonCode,
        properties: mqtt.Properties | None,
    ) -> None:
        if reason_code.is_failure:
            self._failure = str(reason_code)
            return
        client.publish(status_topic(self.device), b"online", qos=1, retain=True)
        self._connected.set()

    def connect(self) -> None:
        self._connected.clear()
        self._failure = None
        try:
            self.client.connect(self.address.host, self.address.port, keepalive=30)
        except OSError as exc:
            raise PublishError(
                f"cannot reach the broker at {self.address.redacted()}: {exc}"
            ) from exc
        self.client.loop_start()
        if not self._connected.wait(self.connect_timeout_s):
            self.client.loop_stop()
            reason = self._failure or "no CONNACK in time"
            raise PublishError(f"broker {self.address.redacted()} refused the device: {reason}")

    def publish(
        self, channel: Channel, payload: bytes, retain: bool = False
    ) -> mqtt.MQTTMessageInfo:
        return self.client.publish(topic_for(self.device, channel), payload, qos=1, retain=retain)

    def drop(self) -> None:
        """Vanish without a DISCONNECT, as a device losing power does: the will fires."""
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            sock.close()
        self._connected.clear()

    def close(self, timeout_s: float = 10.0) -> None:
        """Say goodbye cleanly: publish `offline`, flush QoS 1, disconnect."""
        if self._connected.is_set():
            info = self.client.publish(status_topic(self.device), b"offline", qos=1, retain=True)
            try:
                info.wait_for_publish(timeout_s)
            except RuntimeError:
                log.warning("device %s: offline status not confirmed", self.device.device_id)
            self.client.disconnect()
        self.client.loop_stop()
        self._connected.clear()
