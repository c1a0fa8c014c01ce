"""An in-process MQTT broker (amqtt) for laptops and the demo.

It runs in its own thread with its own event loop. It speaks MQTT 3.1.1 only,
so ingest talks 3.1.1 to it; a real deployment uses Mosquitto and MQTT v5.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from typing import Any

log = logging.getLogger(__name__)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class _LateAckFilter(logging.Filter):
    """amqtt waits only 5 s for a PUBACK, then logs the delivery task as failed. Ingest
    acknowledges after the batch is durable, which a loaded laptop can stretch past
    5 s; the message was delivered and is acknowledged later, so the noise is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if "Timeout waiting for PUBACK" in text:
            return False
        return not (record.exc_info and "Timeout waiting for PUBACK" in str(record.exc_info[1]))


class EmbeddedBroker:
    def __init__(self, port: int = 1884, host: str = "127.0.0.1") -> None:
        self.host = host
        self.requested_port = port
        self.port = port if port and port_is_free(port, host) else free_port(host)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def _config(self) -> dict[str, Any]:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }

    def _run(self) -> None:
        from amqtt.broker import Broker

        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)

        async def main() -> None:
            self._stopped = asyncio.Event()
            broker = Broker(self._config())
            try:
                await broker.start()
            except BaseException as exc:
                self._error = exc
                self._ready.set()
                return
            self._ready.set()
            await self._stopped.wait()
            await broker.shutdown()

        try:
            loop.run_until_complete(main())
        finally:
            loop.close()

    def start(self, timeout_s: float = 15.0) -> None:
        for noisy in ("amqtt", "transitions"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        for name in ("amqtt.broker", "amqtt.mqtt.protocol.handler"):
            logging.getLogger(name).addFilter(_LateAckFilter())
        self._thread = threading.Thread(target=self._run, name="embedded-broker", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise RuntimeError("the embedded MQTT broker did not start in time")
        if self._error is not None:
            raise RuntimeError(f"the embedded MQTT broker failed to start: {self._error}")
        if self.port != self.requested_port:
            log.warning(
                "port %d is taken; the embedded broker listens on %d instead",
                self.requested_port,
                self.port,
            )

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(timeout_s)
