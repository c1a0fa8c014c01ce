"""A real webhook receiver on a loopback port that can fail, hang, go away and come back.

Given the secret, it checks signatures as the documented receiver does
(`quality.delivery.signature_problem`, 5-minute tolerance) against its own clock, and answers
401 to a forged, altered or replayed request.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from quality.delivery import signature_problem


@dataclass(frozen=True, slots=True)
class Request:
    event_id: str
    event_type: str
    signature: str
    content_type: str
    body: bytes
    status: int
    received_at: float  # unix seconds on the receiver's clock
    problem: str | None = None  # why the signature was refused, when checked

    @property
    def payload(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.body)
        return result

    @property
    def ticket_id(self) -> int:
        return int(self.payload["ticket"]["id"])


# Decides the answer to a request: (event id, how many requests came before it) -> status.
Policy = Callable[[str, int], int]


class Receiver:
    def __init__(
        self,
        policy: Policy | None = None,
        secret: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.policy: Policy = policy or (lambda _event_id, _n: 200)
        self.secret = secret
        self.clock = clock
        self.requests: list[Request] = []
        self.hold = threading.Event()  # while set, requests wait (to provoke timeouts)
        self.release = threading.Event()
        self.port = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        """Listen (again) on the same port, so the sender's URL stays valid."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if receiver.hold.is_set():
                    receiver.release.wait(30)
                event_id = self.headers.get("X-Facmon-Event-Id", "")
                signature = self.headers.get("X-Facmon-Signature", "")
                received_at = receiver.clock()
                problem = None
                if receiver.secret is not None:
                    problem = signature_problem(receiver.secret, body, signature, now=received_at)
                with receiver._lock:
                    status = 401 if problem else receiver.policy(event_id, len(receiver.requests))
                    receiver.requests.append(
                        Request(
                            event_id=event_id,
                            event_type=self.headers.get("X-Facmon-Event-Type", ""),
                            signature=signature,
                            content_type=self.headers.get("Content-Type", ""),
                            body=body,
                            status=status,
                            received_at=received_at,
                            problem=problem,
                        )
                    )
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok" if status < 300 else b"no")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # a held answer the sender stopped waiting for (its timeout)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Close the listening socket: senders now get 'connection refused'."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def snapshot(self) -> list[Request]:
        with self._lock:
            return list(self.requests)

    def accepted(self) -> list[Request]:
        return [request for request in self.snapshot() if 200 <= request.status < 300]
