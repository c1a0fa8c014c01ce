"""The signed webhook: each ticket event POSTed as stored, with a timestamped HMAC-SHA256
signature.

The body is the outbox payload byte for byte, and a retry sends the same bytes with the same
`X-Facmon-Event-Id` (receivers deduplicate on it: delivery is at least once). The signature
covers the send time with the body, as Stripe signs its webhooks:

    X-Facmon-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>

so a captured request cannot be replayed later: receivers refuse a timestamp more than a
tolerance (5 minutes) from their own clock, and remember event ids at least that long.

A receiver checks a request like this (any framework; here FastAPI):

    @app.post("/facmon")
    async def facmon_event(request: Request) -> Response:
        body = await request.body()
        problem = signature_problem(SECRET, body, request.headers.get("X-Facmon-Signature"))
        if problem:  # forged, altered, or older than 5 minutes (a replay)
            return Response(problem, status_code=401)
        if seen_before(request.headers["X-Facmon-Event-Id"]):
            return Response(status_code=200)  # a retry of something already handled
        handle(json.loads(body))
        return Response(status_code=204)
"""

from __future__ import annotations

import hashlib
import hmac
import time

import httpx

from contract.clock import Clock, SystemClock
from quality.delivery.base import PendingEvent, SendResult

SIGNATURE_HEADER = "X-Facmon-Signature"
EVENT_ID_HEADER = "X-Facmon-Event-Id"
EVENT_TYPE_HEADER = "X-Facmon-Event-Type"
# How far a signature's timestamp may be from the receiver's clock: long enough for clock
# skew and a slow network, short enough that a captured request soon stops working.
DEFAULT_TOLERANCE_S = 300


def _key(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def _digest(secret: str | bytes, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(_key(secret), signed, hashlib.sha256).hexdigest()


def sign(secret: str | bytes, body: bytes, timestamp: int) -> str:
    """The `X-Facmon-Signature` header value for `body` sent at `timestamp` (unix seconds).

    >>> sign("s3cret", b"{}", 1798761600)
    't=1798761600,v1=972cae5705f2243a21fd5d540d51a2b3cca718445adcfbabe74372e7b2bb3df1'
    """
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def signature_problem(
    secret: str | bytes,
    body: bytes,
    header: str | None,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> str | None:
    """Why this request is not a fresh one from someone holding `secret`, or None when it is.

    `now` is the receiver's clock in unix seconds (default: the time now). Comparisons are
    constant-time, so they leak nothing about how much of a forged signature was right.
    """
    if not header:
        return f"missing {SIGNATURE_HEADER} header"
    fields = [part.strip().partition("=") for part in header.split(",")]
    stamps = [value for key, _, value in fields if key == "t"]
    candidates = [value for key, _, value in fields if key == "v1"]
    if len(stamps) != 1 or not stamps[0].isascii() or not stamps[0].isdigit() or not candidates:
        return f"malformed {SIGNATURE_HEADER}: expected t=<unix seconds>,v1=<hex HMAC-SHA256>"
    timestamp = int(stamps[0])
    age = (time.time() if now is None else now) - timestamp
    if abs(age) > tolerance_s:
        return (
            f"signature timestamp {timestamp} is {age:+.0f} s from this receiver's clock, "
            f"over the {tolerance_s:g} s tolerance: a replay, or a clock to set right"
        )
    expected = _digest(secret, timestamp, body).encode("ascii")
    if not any(
        hmac.compare_digest(expected, value.encode("ascii", "replace")) for value in candidates
    ):
        return "signature does not match the body: wrong secret, or an altered body"
    return None


def verify_signature(
    secret: str | bytes,
    body: bytes,
    header: str | None,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """Did someone holding `secret` send exactly `body`, within `tolerance_s` of `now`?

    >>> body = b'{"event_id": "e1", "type": "opened"}'
    >>> header = sign("s3cret", body, 1798761600)
    >>> verify_signature("s3cret", body, header, now=1798761660)
    True
    >>> verify_signature("wrong", body, header, now=1798761660)
    False
    >>> verify_signature("s3cret", body + b" ", header, now=1798761660)
    False
    >>> verify_signature("s3cret", body, header, now=1798761600 + 11 * 60)  # a replay
    False
    """
    return signature_problem(secret, body, header, tolerance_s, now) is None


class WebhookSender:
    """POSTs events to one URL. 2xx means delivered; anything else is a failure with a
    reason the outbox keeps (`last_error`), and the dispatcher retries later."""

    def __init__(
        self,
        url: str,
        secret: str | bytes,
        timeout_s: float = 10.0,
        clock: Clock | None = None,
    ) -> None:
        if not secret:
            raise ValueError("a webhook needs a non-empty secret: receivers verify the HMAC")
        self.url = url
        self.timeout_s = timeout_s
        self._secret = _key(secret)
        self._clock = clock or SystemClock()
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
            # Signed at each attempt: a retry an hour later carries a fresh timestamp.
            SIGNATURE_HEADER: sign(self._secret, event.body, int(self._clock.now().timestamp())),
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
