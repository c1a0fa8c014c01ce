"""An in-process MQTT broker (amqtt) for laptops and the demo.

It runs in its own thread with its own event loop. It speaks MQTT 3.1.1 only,
so ingest talks 3.1.1 to it; a real deployment uses Mosquitto and MQTT v5.

Its port is 1884, or a free one when that is taken. So that `facmon simulate`
finds it either way, a running broker records its URL in `embedded-broker.json`
in the data folder, and `find_embedded_broker` reads it back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
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


ENDPOINT_FILE = "embedded-broker.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recorded_owner(folder: Path) -> int | None:
    """The live process whose embedded broker is recorded in `folder`, if any."""
    try:
        pid = int(json.loads((folder / ENDPOINT_FILE).read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pid if pid != os.getpid() and _alive(pid) else None


@dataclass(frozen=True, slots=True)
class FoundBroker:
    url: str
    source: str  # how it was found, for the line the user reads


def find_embedded_broker(data_dirs: Iterable[Path], default_port: int) -> FoundBroker:
    """The newest embedded broker a running demo or service recorded in one of
    `data_dirs`; else the configured port (FACMON_EMBEDDED_BROKER_PORT)."""
    found: list[tuple[float, FoundBroker]] = []
    for folder in data_dirs:
        path = folder / ENDPOINT_FILE
        try:
            record = json.loads(path.read_text())
            url, pid, host, port = record["url"], record["pid"], record["host"], record["port"]
            modified = path.stat().st_mtime
        except (OSError, ValueError, KeyError, TypeError):
            continue
        # A bound port, not a connection: amqtt logs an error for a silent client.
        if _alive(int(pid)) and not port_is_free(int(port), str(host)):
            found.append(
                (
                    modified,
                    FoundBroker(
                        str(url), f"recorded by the demo or service running in {path.parent}"
                    ),
                )
            )
    if found:
        return max(found, key=lambda item: item[0])[1]
    return FoundBroker(
        f"mqtt://127.0.0.1:{default_port}",
        f"no running demo or service recorded in this folder, so the embedded broker's "
        f"port, FACMON_EMBEDDED_BROKER_PORT={default_port}",
    )


class _LateAckFilter(logging.Filter):
    """amqtt waits only 5 s for a PUBACK, then logs the delivery task as failed. Ingest
    acknowledges after the batch is durable, which a loaded laptop can stretch past
    5 s; the message was delivered and is acknowledged later, so the noise is dropped,
    with the warnings amqtt logs when those late acknowledgements arrive."""

    _NOISE = (
        "Timeout waiting for PUBACK",
        "Received PUBACK for unknown pending message",
        "PUBACK waiter with Id",
    )

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if any(noise in text for noise in self._NOISE):
            return False
        return not (record.exc_info and "Timeout waiting for PUBACK" in str(record.exc_info[1]))


class _ProtocolFilter(logging.Filter):
    """A client trying MQTT v5 makes amqtt log two errors; one plain warning says it."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if "Invalid connection from" in text:
            return False
        if "Invalid protocol from" in text:
            record.msg = "a client tried an MQTT version other than 3.1.1 and was refused: %s"
            record.args = (text.rsplit(":", 1)[-1].strip(),)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = None
        return True


class EmbeddedBroker:
    def __init__(
        self, port: int = 1884, host: str = "127.0.0.1", endpoint_dir: Path | None = None
    ) -> None:
        """`endpoint_dir`: where to record the URL for `find_embedded_broker`."""
        self.host = host
        self.endpoint_file = endpoint_dir / ENDPOINT_FILE if endpoint_dir else None
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
            logging.getLogger(name).addFilter(_ProtocolFilter())
        self._thread = threading.Thread(target=self._run, name="embedded-broker", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise RuntimeError("the embedded MQTT broker did not start in time")
        if self._error is not None:
            raise RuntimeError(f"the embedded MQTT broker failed to start: {self._error}")
        if self.requested_port and self.port != self.requested_port:
            log.warning(
                "port %d is taken; the embedded broker listens on %d instead "
                "(FACMON_EMBEDDED_BROKER_PORT chooses another)",
                self.requested_port,
                self.port,
            )
        if self.endpoint_file is not None:
            self.endpoint_file.parent.mkdir(parents=True, exist_ok=True)
            record = {"url": self.url, "host": self.host, "port": self.port, "pid": os.getpid()}
            self.endpoint_file.write_text(json.dumps(record))

    @property
    def port_note(self) -> str:
        """Why the port is what it is, for a banner."""
        if self.requested_port and self.port != self.requested_port:
            return f" (port {self.requested_port} was taken; FACMON_EMBEDDED_BROKER_PORT sets it)"
        return ""

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.endpoint_file is not None:
            self.endpoint_file.unlink(missing_ok=True)
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(timeout_s)
