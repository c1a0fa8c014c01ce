"""The webhook sender against a real HTTP receiver: exact body, headers, timestamped
signature, replays refused, failures."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import httpx
import pytest

from contract.clock import ManualClock
from facmon.embedded_broker import free_port
from quality.delivery import PendingEvent, WebhookSender, sign, signature_problem, verify_signature
from tests.quality.delivery.conftest import SECRET
from tests.quality.delivery.receiver import Receiver

PAYLOAD = json.dumps(
    {"event_id": "e-1", "type": "opened", "ticket": {"id": 7, "summary": "Zürich \u2603"}},
    sort_keys=True,
    ensure_ascii=False,
)


def event(payload: str = PAYLOAD) -> PendingEvent:
    return PendingEvent(
        row_id=1,
        event_id="e-1",
        sink="webhook",
        event_type="opened",
        ticket_id=7,
        payload=payload,
        attempts=0,
    )


def test_posts_the_stored_bytes_signed(receiver: Receiver) -> None:
    sender = WebhookSender(receiver.url, SECRET, timeout_s=5)
    try:
        assert sender.send(event()).ok
    finally:
        sender.close()
    [request] = receiver.snapshot()
    assert request.body == PAYLOAD.encode("utf-8")
    assert request.content_type == "application/json"
    assert (request.event_id, request.event_type) == ("e-1", "opened")
    # The format a receiver in any language checks: t=<unix s>,v1=<HMAC of "<t>." + body>.
    stamp, mac = request.signature.split(",")
    timestamp = int(stamp.removeprefix("t="))
    assert abs(timestamp - request.received_at) < 5
    signed = f"{timestamp}.".encode() + request.body
    assert mac == "v1=" + hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    assert verify_signature(SECRET, request.body, request.signature)
    assert not verify_signature("not-the-secret", request.body, request.signature)
    assert not verify_signature(SECRET, request.body.replace(b"7", b"8"), request.signature)


def test_signature_helpers_reject_malformed_headers() -> None:
    body = b'{"a": 1}'
    now = int(time.time())
    good = sign(SECRET, body, now)
    assert verify_signature(SECRET, body, good)
    assert verify_signature(SECRET.encode(), body, good)
    mac = good.partition(",v1=")[2]
    for header in (
        None,
        "",
        mac,
        "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),  # body only
        f"v1={mac}",
        f"t={now}",
        f"t={now},v1={mac[:-1]}",
        f"t={now},t={now},v1={mac}",
        f"t=-{now},v1={mac}",
        f"t=١٢٣,v1={mac}",
        f"t={now},v1=ü",
        f"t={now + 1},v1={mac}",  # a new timestamp on an old signature
    ):
        assert not verify_signature(SECRET, body, header), header
    assert verify_signature(SECRET, body, f"t={now},v1=00,v1={mac}")  # rotated keys


def test_a_replay_eleven_minutes_later_is_refused(receiver: Receiver) -> None:
    """The signature used to cover only the body: an 11-minute-old request still verified.
    A real request is captured at the receiver and sent again, byte for byte, once the
    receiver's clock has moved on 11 minutes."""
    started = time.time()
    offset = [0.0]
    receiver.secret = SECRET
    receiver.clock = lambda: time.time() + offset[0]
    sender = WebhookSender(receiver.url, SECRET, timeout_s=5)
    try:
        assert sender.send(event()).ok
    finally:
        sender.close()
    [original] = receiver.snapshot()
    assert original.status == 200 and original.problem is None
    headers = {
        "Content-Type": original.content_type,
        "X-Facmon-Event-Id": original.event_id,
        "X-Facmon-Event-Type": original.event_type,
        "X-Facmon-Signature": original.signature,
    }
    offset[0] = 11 * 60
    replay = httpx.post(receiver.url, content=original.body, headers=headers, timeout=5)
    assert replay.status_code == 401
    replayed = receiver.snapshot()[1]
    assert replayed.body == original.body and replayed.signature == original.signature
    assert replayed.problem is not None and "over the 300 s tolerance" in replayed.problem
    # Within the tolerance the same request still verifies: it is the age that is refused.
    assert verify_signature(SECRET, original.body, original.signature, now=started + 4 * 60)
    assert signature_problem(SECRET, original.body, original.signature, now=started + 660)


def test_each_attempt_is_signed_at_its_own_time(receiver: Receiver) -> None:
    """A retry an hour later is signed afresh, so a receiver that was down still accepts it."""
    clock = ManualClock(datetime.now(UTC))
    receiver.secret = SECRET
    receiver.clock = lambda: clock.now().timestamp()
    sender = WebhookSender(receiver.url, SECRET, timeout_s=5, clock=clock)
    try:
        assert sender.send(event()).ok
        clock.advance(hours=1)
        assert sender.send(event()).ok
    finally:
        sender.close()
    first, retry = receiver.snapshot()
    assert (first.status, retry.status) == (200, 200)
    assert first.body == retry.body
    assert int(retry.signature[2:12]) - int(first.signature[2:12]) == 3600


def test_non_2xx_is_a_failure_with_the_status(receiver: Receiver) -> None:
    receiver.policy = lambda _event_id, _n: 503
    sender = WebhookSender(receiver.url, SECRET, timeout_s=5)
    try:
        result = sender.send(event())
    finally:
        sender.close()
    assert not result.ok
    assert result.reason.startswith("HTTP 503")


def test_redirect_is_not_followed(receiver: Receiver) -> None:
    receiver.policy = lambda _event_id, _n: 302
    sender = WebhookSender(receiver.url, SECRET, timeout_s=5)
    try:
        result = sender.send(event())
    finally:
        sender.close()
    assert not result.ok and "HTTP 302" in result.reason


def test_connection_refused_is_a_failure() -> None:
    sender = WebhookSender(f"http://127.0.0.1:{free_port()}/hook", SECRET, timeout_s=5)
    try:
        result = sender.send(event())
    finally:
        sender.close()
    assert not result.ok
    assert "ConnectError" in result.reason


def test_slow_receiver_times_out(receiver: Receiver) -> None:
    receiver.hold.set()
    sender = WebhookSender(receiver.url, SECRET, timeout_s=0.3)
    try:
        result = sender.send(event())
    finally:
        receiver.release.set()
        sender.close()
    assert not result.ok
    assert result.reason.startswith("timeout after 0.3 s")


def test_a_secret_is_required() -> None:
    with pytest.raises(ValueError, match="secret"):
        WebhookSender("http://127.0.0.1:1/hook", "")
