"""Contract v1: topics, identifiers, payload validation, round-trips."""

from __future__ import annotations

import json

import numpy as np
import pytest

from contract.payload import TimeLimits, decode_message, encode_event, encode_telemetry
from contract.topics import (
    Channel,
    ContractError,
    DeviceRef,
    Kind,
    parse_topic,
    topic_for,
    validate_identifier,
)
from simulators.models import MODELS

NOW = 1_800_000_000_000
DEVICE = DeviceRef("hq", "tower-a", "pump", "pump-01")
TOPIC = topic_for(DEVICE, Channel.TELEMETRY)


@pytest.mark.parametrize("channel", list(Channel))
@pytest.mark.parametrize("kind", list(Kind))
def test_topic_round_trip(kind: Kind, channel: Channel) -> None:
    device = DeviceRef("site-1", "b.2", kind.value, "dev:3")
    assert parse_topic(topic_for(device, channel)).device == device
    assert parse_topic(topic_for(device, channel)).channel is channel


@pytest.mark.parametrize(
    "bad", ["", "a+b", "a#b", "a/b", "tab\there", "nul\x00", "é", " lead", "-lead", "x" * 65]
)
def test_identifier_rejects(bad: str) -> None:
    with pytest.raises(ContractError):
        validate_identifier(bad, "device_id")


@pytest.mark.parametrize(
    "topic, reason",
    [
        ("facility/v1/hq/b/pump/p1", "levels"),
        ("other/v1/hq/b/pump/p1/telemetry", "root"),
        ("facility/v9/hq/b/pump/p1/telemetry", "version"),
        ("facility/v1/hq/b/toaster/p1/telemetry", "kind"),
        ("facility/v1/hq/b/pump/p1/gossip", "channel"),
        ("facility/v1/hq/b/pump/p+1/telemetry", "identifier"),
        ("facility/v1//b/pump/p1/telemetry", "empty"),
    ],
)
def test_bad_topics(topic: str, reason: str) -> None:
    with pytest.raises(ContractError, match=reason):
        parse_topic(topic)


@pytest.mark.parametrize("kind", list(Kind))
def test_simulated_payloads_round_trip(kind: Kind) -> None:
    """Whatever the simulator publishes, ingest accepts unchanged."""
    model = MODELS[kind.value](np.random.default_rng(3))
    device = DeviceRef("hq", "b1", kind.value, "dev-1")
    for step in range(200):
        ts = NOW + step * 60_000
        metrics = model.sample(ts, 60.0, [])
        decoded = decode_message(
            topic_for(device, Channel.TELEMETRY), encode_telemetry(ts, step, metrics), ts
        )
        assert decoded.sample is not None
        assert decoded.sample.metrics == metrics
        assert decoded.sample.seq == step


def _payload(**overrides: object) -> bytes:
    body: dict[str, object] = {"ts": NOW, "seq": 1, "metrics": {"current_a": 2.0}}
    body.update(overrides)
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b"{not json", "malformed JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[1, 2]", "JSON object"),
        (_payload(ts=None), "ts must be"),
        (_payload(ts="yesterday"), "RFC 3339"),
        (_payload(ts="2027-01-15T10:00:00"), "time zone"),
        (_payload(ts=NOW + 3_600_000), "future"),
        (_payload(ts=NOW - 30 * 86_400_000), "past"),
        (_payload(seq=-1), "seq"),
        (_payload(seq="7"), "seq"),
        (_payload(metrics={"current_a": "2.0"}), "must be a number"),
        (_payload(metrics={"current_a": True}), "must be a number"),
        (_payload(metrics={"running": 1}), "must be a boolean"),
        (_payload(metrics={"current_a": 9_999.0}), "above the valid range"),
        (_payload(metrics={"pressure_bar": -5.0}), "below the valid range"),
        (_payload(metrics={"warp_factor": 9.0}), "unknown metric"),
        (_payload(metrics={}), "empty"),
        (_payload(metrics=[1]), "object 'metrics'"),
        (b'{"ts": 1, "ts": 2, "seq": 1, "metrics": {}}', "duplicate JSON key"),
        (b'{"ts": %d, "seq": 1, "metrics": {"current_a": NaN}}' % NOW, "non-finite"),
        (b"[" * 100_000 + b"]" * 100_000, "bytes, over"),
        (b"[" * 5_000 + b"]" * 5_000, "nested too deeply"),
        (b'{"ts": %d, "seq": 1, "metrics": {"current_a": 1e999}}' % NOW, "not finite"),
        (b'{"ts": %d, "seq": %s, "metrics": {"current_a": 1}}' % (NOW, b"9" * 5000), "JSON"),
    ],
)
def test_payload_rejections(payload: bytes, reason: str) -> None:
    with pytest.raises(ContractError, match=reason):
        decode_message(TOPIC, payload, NOW)


@pytest.mark.parametrize(
    "ts", ["2027-01-15T08:00:00Z", "2027-01-15T09:00:00+01:00", "2027-01-15T08:00:00.000z"]
)
def test_rfc3339_and_epoch_agree(ts: str) -> None:
    epoch_ms = 1_800_000_000_000  # 2027-01-15T08:00:00Z
    a = decode_message(TOPIC, _payload(ts=ts), epoch_ms)
    b = decode_message(TOPIC, _payload(ts=epoch_ms), epoch_ms)
    assert a.sample is not None and b.sample is not None
    assert a.sample.ts_ms == b.sample.ts_ms == epoch_ms


def test_payload_size_limit_is_configurable() -> None:
    small = TimeLimits(max_payload_bytes=10)
    with pytest.raises(ContractError, match="10-byte limit"):
        decode_message(TOPIC, _payload(), NOW, small)


def test_status_and_events() -> None:
    status = decode_message(topic_for(DEVICE, Channel.STATUS), b"offline", NOW)
    assert status.status is not None and status.status.online is False
    event = decode_message(
        topic_for(DEVICE, Channel.EVENT), encode_event(NOW, 5, "dry_run", {"code": 12}), NOW
    )
    assert event.event is not None and event.event.event == "dry_run"
    with pytest.raises(ContractError, match="event must be one of"):
        decode_message(topic_for(DEVICE, Channel.EVENT), encode_event(NOW, 5, "door_forced"), NOW)
    with pytest.raises(ContractError, match="online"):
        decode_message(topic_for(DEVICE, Channel.STATUS), b"maybe", NOW)
