"""The `/write` call on one kept-alive `http.client` connection.

Ingest writes a batch several times a second. Through httpx each write left
about 50 objects in reference cycles, which only the garbage collector frees;
with ingest's raised collector thresholds they piled up and were freed in
pauses of up to half a second, stalling both ingest threads. The standard
library's connection makes no cycles and costs half the CPU per write.
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import threading
from urllib.parse import urlencode, urlsplit

from storage.timeseries.base import StoreUnavailable

# A kept-alive connection that the server closed while idle fails on first use;
# these say so, and the write is retried once on a new connection.
_STALE_CONNECTION = (
    http.client.RemoteDisconnected,
    http.client.CannotSendRequest,
    BrokenPipeError,
    ConnectionResetError,
)


class WriteRefused(RuntimeError):
    """InfluxDB answered 400 (or 413): it kept the valid lines and refused the rest for good.

    `message` is InfluxDB's own text, e.g. `partial write: field type conflict: ...`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"InfluxDB refused points ({status}): {message}")
        self.status = status
        self.message = message


class DatabaseNotFound(RuntimeError):
    """InfluxDB answered 404: the database is gone (dropped, or a fresh server)."""


def _error_text(body: str) -> str:
    """InfluxDB's `{"error": "..."}` message, or the raw body when it is not that."""
    try:
        message = json.loads(body).get("error")
    except (ValueError, AttributeError):
        message = None
    return (message if isinstance(message, str) else body)[:1000]


class LineProtocolWriter:
    def __init__(
        self,
        url: str,
        params: dict[str, str],
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an InfluxDB URL: {url!r} (expected http://host:port)")
        self._tls = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._tls else 80)
        self._timeout_s = timeout_s
        self._path = f"{parts.path.rstrip('/')}/write?{urlencode(params)}"
        self._headers = {"Content-Type": "text/plain; charset=utf-8"}
        if username:
            token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
        self._connection: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()  # one request at a time on the connection

    def _connect(self) -> http.client.HTTPConnection:
        if self._tls:
            context = ssl.create_default_context()
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=self._timeout_s, context=context
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout_s)

    def write(self, body: bytes) -> None:
        """Sorts InfluxDB's answer as Telegraf's InfluxDB output does: StoreUnavailable for
        connection errors, 5xx and credentials (retry later), WriteRefused for 400/413
        (points refused for good; the rest is stored), DatabaseNotFound for 404."""
        with self._lock:
            reused = self._connection is not None
            try:
                status, text = self._post(body)
            except _STALE_CONNECTION as exc:
                self._drop()
                if not reused:
                    raise StoreUnavailable(f"InfluxDB write failed: {exc!r}") from exc
                status, text = self._post_or_unavailable(body)
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                raise StoreUnavailable(f"InfluxDB write failed: {exc!r}") from exc
        if status in (400, 413):
            raise WriteRefused(status, _error_text(text))
        if status == 404:
            raise DatabaseNotFound(_error_text(text))
        if status in (401, 403):
            raise StoreUnavailable(
                f"InfluxDB refused the write ({status}): set FACMON_INFLUX_USERNAME/PASSWORD "
                "to a user with write access"
            )
        if status >= 300:
            raise StoreUnavailable(f"InfluxDB write failed: {status} {text[:500]}")

    def _post_or_unavailable(self, body: bytes) -> tuple[int, str]:
        try:
            return self._post(body)
        except (OSError, http.client.HTTPException) as exc:
            self._drop()
            raise StoreUnavailable(f"InfluxDB write failed: {exc!r}") from exc

    def _post(self, body: bytes) -> tuple[int, str]:
        if self._connection is None:
            self._connection = self._connect()
        self._connection.request("POST", self._path, body=body, headers=self._headers)
        response = self._connection.getresponse()
        text = response.read().decode("utf-8", "replace")
        if response.will_close:
            self._drop()
        return response.status, text

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def close(self) -> None:
        with self._lock:
            self._drop()
