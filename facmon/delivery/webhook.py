"""The signed webhook: each ticket event POSTed as stored, with an HMAC-SHA256 signature.

The body is the outbox payload byte for byte, so the receiver verifies the
signature over exactly what it received, and a retry sends the same bytes
with the same `X-Facmon-Event-Id` (receivers deduplicate on it: delivery is
at least once).

A receiver checks a request like this (any framework; here FastAPI):

    @app.post("/facmon")
    async def facmon_event(request: Request) -> Response:
        body = await request.body()
        if not verify_signature(SECRET, body, request.headers.get("X-Facmon-Signature")):
            return Response(status_code=401)
        if seen_before(request.headers["X-Facmon-Event-Id"]):
            return Response(status_code=200)  # a retry of something already handled
        handle(json.loads(body))
        return Response(status_code=204)
"""

from __future__ import annotations

import hashlib
import hmac

import httpx

from facmon.delivery.base import PendingEvent, SendResult

SIGNATURE_HEADER = "X-Facmon-Signature"
EVENT_ID_HEADER = "X-Facmon-Event-Id"
EVENT_TYPE_HEADER = "X-Facmon-Event-Type"
_SCHEME = "sha256="


def _key(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def sign(secret: str | bytes, body: bytes) -> str:
    """The `X-Facmon-Signature` header value for `body`.

    >>> sign("s3cret", b"{}")
    'sha256=adbde1ce40c89c14215687d5d762a47df6dfaefcfad61e2e86718ffc8498571b'
    """
    return _SCHEME + hmac.new(_key(secret), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str | bytes, body: bytes, header: str | None) -> bool:
    """Did someone holding `secret` send exactly `body`? Constant-time, so the
    comparison leaks nothing about how much of a forged signature was right.

    >>> body = b'{"event_id": "e1", "type": "opened"}'
    >>> header = sign("s3cret", body)
    >>> verify_signature("s3cret", body, header)
    True
    >>> verify_signature("wrong", body, header)
    False
    >>> verify_signature("s3cret", body + b" ", header)
    False
    """
    if not header or not header.startswith(_SCHEME):
        return False
    return hmac.compare_digest(
        sign(secret, body).encode("ascii"), header.encode("ascii", "replace")
    )


class WebhookSender:
    """POSTs events to one URL. 2xx means delivered; anything else is a failure with a
    reason the outbox keeps (`last_error`), and the dispatcher retries later."""

    def __init__(self, url: str, secret: str | bytes, timeout_s: float = 10.0) -> None:
        if not secret:
            raise ValueError("a webhook needs a non-empty secret: receivers verify the HMAC")
        self.url = url
        self.timeout_s = timeout_s
        self._secret = _key(secret)
        # Redirects are not followed: a 3xx is a misconfigured URL, not a delivery.
        self._client = httpx.Client(
            timeout=timeout_s,
            follow_redirects=False,
            headers={"User-Agent": "facmon-webhook/1"},
        )

    def headers(self, event: PendingEvent) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            EVENT_ID_HEADER: event.event_id,
            EVENT_TYPE_HEADER: event.event_type,
            SIGNATURE_HEADER: sign(self._secret, event.body),
        }

    def send(self, event: PendingEvent) -> SendResult:
        try:
            response = self._client.post(self.url, content=event.body, headers=self.headers(event))
        except httpx.TimeoutException as exc:
            return SendResult.failed(f"timeout after {self.timeout_s} s ({type(exc).__name__})")
        except httpx.HTTPError as exc:
            return SendResult.failed(f"{type(exc).__name__}: {exc}")
        if response.is_success:
            return SendResult.delivered()
        return SendResult.failed(f"HTTP {response.status_code}: {response.text[:200]}")

    def close(self) -> None:
        self._client.close()
