"""The publishing side of the contract, used by devices, simulators and edge bridges.

`DeviceConnection` is one device's own MQTT session: QoS 1 publishes, a retained
`online` on connect, and a last will `offline` that the broker publishes if the
device vanishes without saying goodbye.

Over MQTT v5 a device can delay its will (`will_delay_s`): the broker then keeps
the session that long and sends no will if the device is back in time, so a
restart never reads as an outage and a real one is reported the moment the
delay ends. Over MQTT 3.1.1 the will goes out as soon as the link dies.
"""

from __future__ import annotations

import logging
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from contract.payload import Channel
from contract.topics import DeviceRef, status_topic, topic_for
from gateway.connection import BrokerAddress, TlsFiles, configure_client

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
        protocol: str = "3.1.1",
        will_delay_s: int = 0,
    ) -> None:
        if protocol not in ("3.1.1", "5"):
            raise ValueError(f"MQTT protocol {protocol!r}: use '3.1.1' or '5'")
        if will_delay_s and protocol != "5":
            raise ValueError("a will delay needs MQTT v5 (protocol='5')")
        self.device = device
        self.address = address
        self.v5 = protocol == "5"
        self.will_delay_s = will_delay_s
        self._connected = threading.Event()
        self._failure: str | None = None
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id or f"dev-{device.device_id}",
            protocol=mqtt.MQTTv5 if self.v5 else mqtt.MQTTv311,
            clean_session=None if self.v5 else True,
        )
        configure_client(self.client, address, tls)
        self.client.max_inflight_messages_set(max_inflight)
        self.client.max_queued_messages_set(0)
        will_properties = None
        if will_delay_s:
            will_properties = Properties(PacketTypes.WILLMESSAGE)
            will_properties.WillDelayInterval = will_delay_s
        self.client.will_set(
            status_topic(device), b"offline", qos=1, retain=True, properties=will_properties
        )
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
            if self.v5:
                # The session must outlive the will delay, or the broker sends the will
                # when the session ends; resuming it within the delay cancels the will.
                properties = Properties(PacketTypes.CONNECT)
                properties.SessionExpiryInterval = self.will_delay_s
                self.client.connect(
                    self.address.host,
                    self.address.port,
                    keepalive=30,
                    clean_start=not self.will_delay_s,
                    properties=properties,
                )
            else:
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
