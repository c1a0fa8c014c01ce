"""Replaying dead letters after a fix (`facmon dead-letters replay` is its command line).

Replay re-validates each stored letter with the contract code of this
installation. One that now passes is published again to the broker ingest
listens on, on its own topic with its own payload at QoS 1, so that it takes
the full ingest path (store, liveness, detectors) exactly as the original
would have. It is marked replayed only once the broker has acknowledged it:
a failure at any point leaves it in place, so nothing is lost, and at worst a
letter is sent twice (the store keeps one point per device timestamp).

Over MQTT v5 the broker's PUBACK also says when it refused the message (an
ACL) or when no session subscribes to the topic (no ingest running); both
count as failures. Over MQTT 3.1.1 (the embedded broker) a PUBACK only says
that the broker received the message.

>>> summary = ReplaySummary(replayed=3, invalid=1, truncated=2)
>>> summary.line(dry_run=False)
'replayed 3, still invalid 1, skipped truncated 2'
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol, TextIO

import paho.mqtt.client as mqtt

from contract.payload import TimeLimits, decode_message
from contract.topics import SERVICE_TOPIC_PREFIXES, ContractError
from gateway.connection import BrokerAddress, TlsFiles, configure_client
from quality.tickets.models import aware
from storage.dead_letters import DeadLetter, DeadLetterStore

ACK_TIMEOUT_S: Final = 10.0
CONNECT_TIMEOUT_S: Final = 10.0

NO_BROKER_HELP: Final = (
    "replay publishes each message again to the broker that ingest listens on, and "
    "FACMON_MQTT_URL is not set. Without it, `facmon run` and `facmon demo` start an "
    "embedded broker that exists only while they run, on FACMON_EMBEDDED_BROKER_PORT "
    "(1884) or, when that port is taken, on a free port they log at start-up. With the "
    "service running, set FACMON_MQTT_URL to that broker (e.g. "
    "FACMON_MQTT_URL=mqtt://127.0.0.1:1884) or pass --broker, with the service's "
    "FACMON_DATA_DIR or FACMON_DATABASE_URL. --dry-run needs no broker."
)


class BrokerError(RuntimeError):
    """The broker is unreachable, refused us, or did not acknowledge a message."""


class Publisher(Protocol):
    def publish(self, topic: str, payload: bytes) -> None:
        """Return once the broker has acknowledged the message; raise BrokerError otherwise."""

    def close(self) -> None: ...


class MqttRepublisher:
    """One short MQTT session that publishes at QoS 1 and waits for each PUBACK.

    `protocol` "auto" tries MQTT v5, whose PUBACK reports refusals, and falls
    back to 3.1.1 for a broker that only speaks that (the embedded one).
    """

    def __init__(
        self,
        address: BrokerAddress,
        protocol: str = "auto",
        tls: TlsFiles | None = None,
        ack_timeout_s: float = ACK_TIMEOUT_S,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
    ) -> None:
        self.address = address
        self.protocol = protocol
        self.tls = tls
        self.ack_timeout_s = ack_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.client: mqtt.Client | None = None
        self.version = ""
        self._answered = threading.Event()
        self._lost = threading.Event()
        self._connack: mqtt.ReasonCode | None = None
        self._acks: dict[int, mqtt.ReasonCode] = {}
        self._changed = threading.Condition()

    def connect(self) -> None:
        versions = {"5": [mqtt.MQTTv5], "3.1.1": [mqtt.MQTTv311]}.get(
            self.protocol, [mqtt.MQTTv5, mqtt.MQTTv311]
        )
        for version in versions:
            if self._connect(version):
                self.version = "5" if version == mqtt.MQTTv5 else "3.1.1"
                return
            refused = self._connack
            unsupported = refused is not None and refused.getName() == (
                "Unsupported protocol version"
            )
            if not unsupported or version == versions[-1]:
                reason = (
                    refused.getName()
                    if refused is not None
                    else ("it closed the connection" if self._lost.is_set() else "no CONNACK")
                )
                raise BrokerError(f"broker {self.address.redacted()} refused replay: {reason}")

    def _connect(self, version: mqtt.MQTTProtocolVersion) -> bool:
        self._answered.clear()
        self._lost.clear()
        self._connack = None
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"facmon-replay-{uuid.uuid4().hex[:10]}",
            protocol=version,
        )
        configure_client(client, self.address, self.tls)
        client.connect_timeout = self.connect_timeout_s
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        try:
            client.connect(self.address.host, self.address.port, keepalive=30)
        except (OSError, ValueError) as exc:
            raise BrokerError(
                f"cannot reach the broker at {self.address.redacted()}: {exc}"
            ) from None
        client.loop_start()
        self.client = client
        answered = self._answered.wait(self.connect_timeout_s)
        if answered and self._connack is not None and not self._connack.is_failure:
            return True
        self.close()
        return False

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: mqtt.ReasonCode,
        properties: mqtt.Properties | None,
    ) -> None:
        self._connack = reason_code
        self._answered.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason_code: mqtt.ReasonCode,
        properties: mqtt.Properties | None,
    ) -> None:
        with self._changed:
            self._lost.set()
            self._answered.set()
            self._changed.notify_all()

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason_code: mqtt.ReasonCode,
        properties: mqtt.Properties | None,
    ) -> None:
        with self._changed:
            self._acks[mid] = reason_code
            self._changed.notify_all()

    def publish(self, topic: str, payload: bytes) -> None:
        if self.client is None or self._lost.is_set():
            raise BrokerError(f"not connected to {self.address.redacted()}")
        info = self.client.publish(topic, payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise BrokerError(f"publish failed: {mqtt.error_string(info.rc)}")
        with self._changed:
            self._changed.wait_for(
                lambda: info.mid in self._acks or self._lost.is_set(), self.ack_timeout_s
            )
            ack = self._acks.pop(info.mid, None)
        if ack is None:
            if self._lost.is_set():
                raise BrokerError(f"lost the connection to {self.address.redacted()}")
            raise BrokerError(f"no PUBACK from {self.address.redacted()} in time")
        if ack.is_failure:
            raise BrokerError(
                f"broker {self.address.redacted()} refused the message: {ack.getName()} "
                "(the account needs write access to facility/v1/#)"
            )
        if ack.getName() == "No matching subscribers":
            raise BrokerError(
                f"no session on {self.address.redacted()} subscribes to {topic}: "
                "start ingest (`facmon run`) on this broker, or the worker owning this site"
            )

    def close(self) -> None:
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()
            self.client = None


# -- replay -------------------------------------------------------------------


def revalidate(letter: DeadLetter, limits: TimeLimits, now_ms: int) -> str | None:
    """The contract's reason to refuse the letter today, or None if it passes."""
    if letter.topic.startswith(SERVICE_TOPIC_PREFIXES):
        return "a topic of the service's own, which ingest ignores"
    try:
        decode_message(letter.topic, letter.raw_payload(), now_ms, limits)
    except ContractError as exc:
        return str(exc)
    except Exception as exc:  # as in ingest: a validator bug is a refusal, not a crash
        return f"internal validation error: {type(exc).__name__}"
    return None


@dataclass(slots=True)
class ReplaySummary:
    replayed: int = 0
    would_replay: int = 0
    invalid: int = 0
    truncated: int = 0
    already: int = 0
    not_attempted: int = 0
    failure: str | None = None

    def line(self, dry_run: bool) -> str:
        parts = [
            f"would replay {self.would_replay}" if dry_run else f"replayed {self.replayed}",
            f"still invalid {self.invalid}",
            f"skipped truncated {self.truncated}",
        ]
        if self.already:
            parts.append(f"skipped already replayed {self.already}")
        if self.not_attempted:
            parts.append(f"not attempted {self.not_attempted}")
        text = ", ".join(parts)
        return f"{text} (dry run: nothing published or marked)" if dry_run else text


def _when(letter: DeadLetter) -> str:
    moment = aware(letter.replayed_at)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else "-"


def replay(
    letters: Sequence[DeadLetter],
    store: DeadLetterStore,
    limits: TimeLimits,
    connect: Callable[[], Publisher] | None,
    out: TextIO,
    dry_run: bool = False,
    now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
) -> ReplaySummary:
    """Replay `letters` in order; stop at the first broker failure, leaving the rest as they are.

    `connect` is called once, before the first publish, so that a run with
    nothing to publish needs no broker.
    """
    summary = ReplaySummary()
    total = len(letters)
    publisher: Publisher | None = None

    def say(text: str) -> None:
        print(text, file=out, flush=True)

    try:
        for n, letter in enumerate(letters, 1):
            head = f"[{n}/{total}] #{letter.id}"
            if letter.replayed_at is not None:
                summary.already += 1
                say(f"{head} skipped: already replayed at {_when(letter)}")
                continue
            if letter.truncated:
                summary.truncated += 1
                say(
                    f"{head} skipped: truncated ({letter.payload_size} bytes, "
                    f"{len(letter.raw_payload())} kept), cannot be replayed"
                )
                continue
            reason = revalidate(letter, limits, now_ms())
            if reason is not None:
                summary.invalid += 1
                say(f"{head} still invalid: {reason}")
                continue
            if dry_run or connect is None:
                summary.would_replay += 1
                say(f"{head} would replay to {letter.topic}")
                continue
            try:
                if publisher is None:
                    publisher = connect()
                publisher.publish(letter.topic, letter.raw_payload())
            except BrokerError as exc:
                summary.failure = str(exc)
                summary.not_attempted = total - n + 1
                say(f"{head} not replayed: {exc}")
                break
            store.mark_replayed(letter.id)
            summary.replayed += 1
            say(f"{head} replayed to {letter.topic}")
    finally:
        if publisher is not None:
            publisher.close()
    return summary


# -- command line ------------------------------------------------------------------
