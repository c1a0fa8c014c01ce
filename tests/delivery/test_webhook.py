"""The webhook sender against a real HTTP receiver: exact body, headers, signature, failures."""

from __future__ import annotations

import json

import pytest

from facmon.delivery import PendingEvent, WebhookSender, sign, verify_signature
from facmon.embedded_broker import free_port
from tests.delivery.conftest import SECRET
from tests.delivery.receiver import Receiver

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
    assert request.signature.startswith("sha256=")
    assert verify_signature(SECRET, request.body, request.signature)
    assert not verify_signature("not-the-secret", request.body, request.signature)
    assert not verify_signature(SECRET, request.body.replace(b"7", b"8"), request.signature)


def test_signature_helpers_reject_malformed_headers() -> None:
    body = b'{"a": 1}'
    good = sign(SECRET, body)
    assert verify_signature(SECRET, body, good)
    assert verify_signature(SECRET.encode(), body, good)
    for header in (
        None,
        "",
        good.removeprefix("sha256="),
        "sha1=" + good[7:],
        good[:-1],
        "sha256=ü",
    ):
        assert not verify_signature(SECRET, body, header), header


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
