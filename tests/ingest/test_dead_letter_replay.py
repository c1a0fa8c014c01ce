"""`facmon dead-letters list|replay` against a real Mosquitto and a running ingest."""

from __future__ import annotations

import io
import json
import os
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    text,
)

from contract.payload import DEFAULT_LIMITS, encode_telemetry
from contract.topics import DeviceRef, telemetry_topic
from facmon.cli import main
from facmon.schema import create_schema
from facmon.service import Service
from ingest.dead_letter_replay import BrokerError, replay
from storage.dead_letters import DeadLetter, DeadLetterStore, RejectedMessage
from storage.sql import make_engine
from tests.conftest import unique, wait_until
from tests.e2e.helpers import service_settings, started
from tests.quality.tickets.conftest import POSTGRES_URL
from tools.servers import MosquittoServer

STRICT_LIMIT = 40  # bytes: the "old rule" that refused a message the contract now accepts


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command reads FACMON_* like the service; the test sets exactly what it needs."""
    for name in list(os.environ):
        if name.startswith("FACMON_"):
            monkeypatch.delenv(name)


def _facmon(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    data_dir: Path,
    broker: str | None,
    *argv: str,
) -> tuple[int, str, str]:
    monkeypatch.setenv("FACMON_DATA_DIR", str(data_dir))
    if broker:
        monkeypatch.setenv("FACMON_MQTT_URL", broker)
    else:
        monkeypatch.delenv("FACMON_MQTT_URL", raising=False)
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _letters(data_dir: Path) -> list[DeadLetter]:
    engine = make_engine(f"sqlite:///{data_dir / 'facmon.sqlite'}")
    try:
        return list(DeadLetterStore(engine).find(include_replayed=True))
    finally:
        engine.dispose()


def _stored(data_dir: Path, *messages: RejectedMessage, keep_bytes: int = 2048) -> None:
    """Dead letters as an earlier version of the contract would have left them."""
    engine = make_engine(f"sqlite:///{data_dir / 'facmon.sqlite'}")
    create_schema(engine)
    DeadLetterStore(engine, keep_bytes).add_many(list(messages))
    engine.dispose()


def _now_ms() -> int:
    return int(time.time() * 1000)


def test_replay_after_a_contract_fix_lands_the_sample_and_keeps_the_rest(
    mosquitto: MosquittoServer,
    site: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data_dir = tmp_path / "data"
    lamp = DeviceRef(site, "b1", "lighting", "lamp-1")
    now = _now_ms()
    fixed = encode_telemetry(now, 1, {"current_a": 2.5})
    unknown = encode_telemetry(now, 2, {"rpm": 3000.0})
    padded = encode_telemetry(now, 3, {"current_a": 2.5}) + b" " * 300
    assert len(fixed) > STRICT_LIMIT

    # Before the fix: a stricter size limit refuses all three; the padded one is
    # also larger than what a dead letter keeps.
    strict = service_settings(
        tmp_path,
        mqtt_url=mosquitto.url,
        max_payload_bytes=STRICT_LIMIT,
        dead_letter_payload_bytes=200,
    )
    service = started(strict)
    try:
        publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=unique("pub"))
        publisher.connect("127.0.0.1", mosquitto.port)
        publisher.loop_start()
        for payload in (fixed, unknown, padded):
            publisher.publish(telemetry_topic(lamp), payload, qos=1).wait_for_publish(10)
        publisher.loop_stop()
        publisher.disconnect()
        wait_until(lambda: len(service.stores.dead_letters.list()) == 3, what="three dead letters")
    finally:
        service.stop()
    first, second, third = _letters(data_dir)
    assert all("40-byte limit" in letter.reason for letter in (first, second, third))
    assert third.truncated and not first.truncated

    # After the fix: the service runs with the normal limit, and replay re-validates.
    service = started(service_settings(tmp_path, mqtt_url=mosquitto.url))
    try:
        code, out, err = _facmon(
            monkeypatch, capsys, data_dir, mosquitto.url, "dead-letters", "replay"
        )
        assert code == 0, err
        lines = out.splitlines()
        assert lines[0] == f"[1/3] #{first.id} replayed to {telemetry_topic(lamp)}"
        assert lines[1].startswith(f"[2/3] #{second.id} still invalid: unknown metric 'rpm'")
        assert lines[2].startswith(f"[3/3] #{third.id} skipped: truncated (")
        assert lines[-1] == "replayed 1, still invalid 1, skipped truncated 1"

        wait_until(
            lambda: service.stores.series.count("lighting", "lamp-1") == 1,
            what="the replayed sample in the series store",
        )
        [row] = service.stores.series.recent("lighting", "lamp-1", 5)
        assert row.fields["current_a"] == 2.5 and row.fields["seq"] == 1 and row.ts_ms == now

        def registered_samples() -> int:
            device = service.stores.devices.get(site, "lamp-1")
            return device.samples if device is not None else 0

        assert wait_until(registered_samples, what="the device registered by ingest") == 1
        letters = {letter.id: letter for letter in _letters(data_dir)}
        assert len(letters) == 3, "ingest accepted the replayed message"
        assert letters[first.id].replayed_at is not None
        assert letters[second.id].replayed_at is None
        assert letters[second.id].reason == second.reason
        assert letters[third.id].replayed_at is None

        # A second run finds nothing new to replay.
        code, out, _ = _facmon(
            monkeypatch, capsys, data_dir, mosquitto.url, "dead-letters", "replay"
        )
        assert code == 0
        assert out.splitlines()[-1] == "replayed 0, still invalid 1, skipped truncated 1"
        code, out, _ = _facmon(
            monkeypatch,
            capsys,
            data_dir,
            mosquitto.url,
            "dead-letters",
            "replay",
            "--id",
            str(first.id),
        )
        assert code == 0 and "already replayed at" in out
    finally:
        service.stop()


def test_dry_run_publishes_and_marks_nothing(
    mosquitto: MosquittoServer,
    site: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data_dir = tmp_path / "data"
    topic = telemetry_topic(DeviceRef(site, "b1", "lighting", "lamp-1"))
    _stored(
        data_dir,
        RejectedMessage(topic, encode_telemetry(_now_ms(), 1, {"current_a": 1.0}), "old rule"),
        RejectedMessage(topic, b"{oops", "malformed JSON"),
    )
    received: list[str] = []
    subscribed = threading.Event()
    listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=unique("listen"))
    listener.on_message = lambda _c, _u, msg: received.append(msg.topic)
    listener.on_subscribe = lambda *_args: subscribed.set()
    listener.connect("127.0.0.1", mosquitto.port)
    listener.subscribe(f"facility/v1/{site}/#", qos=1)
    listener.loop_start()
    try:
        assert subscribed.wait(10)
        code, out, _ = _facmon(
            monkeypatch, capsys, data_dir, mosquitto.url, "dead-letters", "replay", "--dry-run"
        )
        assert code == 0
        assert f"would replay to {topic}" in out and "still invalid: malformed JSON" in out
        assert out.splitlines()[-1] == (
            "would replay 1, still invalid 1, skipped truncated 0 "
            "(dry run: nothing published or marked)"
        )
        assert all(letter.replayed_at is None for letter in _letters(data_dir))

        # Anything the dry run had published would reach the listener before this marker.
        marker = f"facility/v1/{site}/b1/lighting/marker/status"
        publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=unique("pub"))
        publisher.connect("127.0.0.1", mosquitto.port)
        publisher.loop_start()
        publisher.publish(marker, b"online", qos=1).wait_for_publish(10)
        publisher.loop_stop()
        publisher.disconnect()
        wait_until(lambda: marker in received, what="the marker message")
        assert received == [marker]
    finally:
        listener.loop_stop()
        listener.disconnect()


def test_dry_run_needs_no_broker_but_replay_explains_how_to_name_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    topic = telemetry_topic(DeviceRef("hq", "b1", "lighting", "lamp-1"))
    _stored(data_dir, RejectedMessage(topic, encode_telemetry(_now_ms(), 1, {"on": True}), "x"))
    code, out, _ = _facmon(
        monkeypatch, capsys, data_dir, None, "dead-letters", "replay", "--dry-run"
    )
    assert code == 0 and "would replay 1" in out

    code, _, err = _facmon(monkeypatch, capsys, data_dir, None, "dead-letters", "replay")
    assert code == 2
    assert "FACMON_MQTT_URL is not set" in err and "embedded broker" in err
    assert all(letter.replayed_at is None for letter in _letters(data_dir))

    code, _, err = _facmon(
        monkeypatch, capsys, tmp_path / "elsewhere", None, "dead-letters", "list"
    )
    assert code == 2 and "no database at" in err
    assert not (tmp_path / "elsewhere").exists()


def _two_replayable(data_dir: Path, site: str) -> None:
    topic = telemetry_topic(DeviceRef(site, "b1", "lighting", "lamp-1"))
    _stored(
        data_dir,
        *(
            RejectedMessage(topic, encode_telemetry(_now_ms(), seq, {"current_a": 1.0}), "old")
            for seq in (1, 2)
        ),
    )


def test_broker_down_exits_non_zero_and_marks_nothing(
    own_mosquitto: MosquittoServer,
    site: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data_dir = tmp_path / "data"
    _two_replayable(data_dir, site)
    own_mosquitto.stop()
    code, out, err = _facmon(
        monkeypatch, capsys, data_dir, own_mosquitto.url, "dead-letters", "replay"
    )
    assert code == 1
    assert "cannot reach the broker" in err and "2 dead letters left as they were" in err
    assert out.splitlines()[-1] == (
        "replayed 0, still invalid 0, skipped truncated 0, not attempted 2"
    )
    assert all(letter.replayed_at is None for letter in _letters(data_dir))


def test_no_ingest_subscribed_counts_as_a_failure(
    own_mosquitto: MosquittoServer,
    site: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """On a broker where no session subscribes, an acknowledged message would go nowhere."""
    data_dir = tmp_path / "data"
    _two_replayable(data_dir, site)
    code, _, err = _facmon(
        monkeypatch, capsys, data_dir, own_mosquitto.url, "dead-letters", "replay"
    )
    assert code == 1 and "subscribes to" in err
    assert all(letter.replayed_at is None for letter in _letters(data_dir))


def test_an_account_that_may_not_publish_is_refused(
    site: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Like the shipped ACL's ingest account, which may only read."""
    acl = tmp_path / "acl"
    acl.write_text("topic read facility/#\n")
    broker = MosquittoServer(tmp_path / "broker", extra_config=f"acl_file {acl}\n")
    broker.workdir.mkdir(parents=True)
    broker.start()
    try:
        data_dir = tmp_path / "data"
        _two_replayable(data_dir, site)
        code, _, err = _facmon(monkeypatch, capsys, data_dir, broker.url, "dead-letters", "replay")
        assert code == 1 and "Not authorized" in err and "write access" in err
        assert all(letter.replayed_at is None for letter in _letters(data_dir))
    finally:
        broker.stop()


def test_replay_through_the_embedded_broker_falls_back_to_mqtt_311(
    site: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    topic = telemetry_topic(DeviceRef(site, "b1", "pump", "pump-1"))
    _stored(
        data_dir,
        RejectedMessage(topic, encode_telemetry(_now_ms(), 7, {"flow_rate_lpm": 30.0}), "old"),
    )
    service: Service = started(service_settings(tmp_path, embedded_broker_port=0))
    try:
        assert service.broker is not None
        code, out, err = _facmon(
            monkeypatch,
            capsys,
            data_dir,
            None,
            "dead-letters",
            "replay",
            "--broker",
            service.broker.url,
        )
        assert code == 0, err
        assert "MQTT 3.1.1" in err and out.splitlines()[-1].startswith("replayed 1,")
        wait_until(
            lambda: service.stores.series.count("pump", "pump-1") == 1,
            what="the replayed sample in the embedded store",
        )
        assert all(letter.replayed_at is not None for letter in _letters(data_dir))
    finally:
        service.stop()


def test_list_filters_and_prints_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    topic = telemetry_topic(DeviceRef("hq", "b1", "lighting", "lamp-1"))
    _stored(
        data_dir,
        RejectedMessage(topic, b"{oops", "malformed JSON: Expecting value at position 1"),
        RejectedMessage(topic, b"\xc3\x28", "payload is not UTF-8 (byte 0)"),
        RejectedMessage(topic, b"x" * 100, "payload is 100 bytes, over the 50-byte limit"),
        keep_bytes=64,
    )
    code, out, _ = _facmon(monkeypatch, capsys, data_dir, None, "dead-letters", "list")
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split()[:2] == ["ID", "RECEIVED"]
    assert [row.split()[0] for row in rows] == ["3", "2", "1"]
    assert rows[0].split()[3] == "truncated" and rows[1].split()[3] == "pending"

    code, out, _ = _facmon(
        monkeypatch, capsys, data_dir, None, "dead-letters", "list", "--reason", "utf-8", "--json"
    )
    [letter] = json.loads(out)
    assert letter["id"] == 2 and letter["payload_encoding"] == "base64" and letter["size"] == 2
    assert letter["replayed_at"] is None and datetime.fromisoformat(letter["received_at"])

    code, out, _ = _facmon(
        monkeypatch, capsys, data_dir, None, "dead-letters", "list", "--limit", "1", "--json"
    )
    assert [item["id"] for item in json.loads(out)] == [3]
    code, out, _ = _facmon(
        monkeypatch,
        capsys,
        data_dir,
        None,
        "dead-letters",
        "list",
        "--since",
        "2999-01-01",
        "--json",
    )
    assert json.loads(out) == []
    code, out, _ = _facmon(
        monkeypatch,
        capsys,
        data_dir,
        None,
        "dead-letters",
        "list",
        "--since",
        "2000-01-01T00:00Z",
        "--json",
    )
    assert len(json.loads(out)) == 3


class _FailsOnSecond:
    """A broker session that acknowledges one message, then goes away."""

    def __init__(self) -> None:
        self.published: list[bytes] = []
        self.closed = False

    def publish(self, topic: str, payload: bytes) -> None:
        if self.published:
            raise BrokerError("lost the connection to mqtt://test:1883")
        self.published.append(payload)

    def close(self) -> None:
        self.closed = True


def test_a_broker_lost_mid_run_leaves_the_unacknowledged_letters_in_place(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    topic = telemetry_topic(DeviceRef("hq", "b1", "lighting", "lamp-1"))
    payloads = [encode_telemetry(_now_ms(), seq, {"current_a": 1.0}) for seq in (1, 2, 3)]
    _stored(data_dir, *(RejectedMessage(topic, payload, "old") for payload in payloads))
    engine = make_engine(f"sqlite:///{data_dir / 'facmon.sqlite'}")
    store = DeadLetterStore(engine)
    session = _FailsOnSecond()
    out = io.StringIO()
    try:
        summary = replay(store.find(), store, DEFAULT_LIMITS, lambda: session, out)
    finally:
        engine.dispose()
    assert session.published == payloads[:1] and session.closed
    assert (summary.replayed, summary.not_attempted) == (1, 2)
    assert summary.failure == "lost the connection to mqtt://test:1883"
    assert [letter.replayed_at is not None for letter in _letters(data_dir)] == [
        True,
        False,
        False,
    ]
    assert out.getvalue().splitlines()[1] == "[2/3] #2 not replayed: " + summary.failure


# -- schema upgrade of a database made before `replayed_at` existed -------------------------


def _old_dead_letters_table(metadata: MetaData) -> Table:
    return Table(
        "dead_letters",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("received_at", DateTime(timezone=True)),
        Column("topic", Text),
        Column("payload", Text),
        Column("payload_encoding", String(8)),
        Column("payload_size", Integer),
        Column("truncated", Boolean),
        Column("reason", Text),
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def old_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.sqlite'}"
        return
    schema = unique("dl").replace("-", "_")
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def test_an_existing_database_gains_replayed_at(old_database_url: str) -> None:
    engine = make_engine(old_database_url)
    try:
        metadata = MetaData()
        old = _old_dead_letters_table(metadata)
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(
                old.insert().values(
                    received_at=datetime.fromisoformat("2027-01-01T00:00:00+00:00"),
                    topic="facility/v1/hq/b1/lighting/lamp-1/telemetry",
                    payload="{}",
                    payload_encoding="utf-8",
                    payload_size=2,
                    truncated=False,
                    reason="telemetry needs an object 'metrics'",
                )
            )
        create_schema(engine)
        create_schema(engine)  # idempotent
        store = DeadLetterStore(engine)
        [letter] = store.find()
        assert letter.replayed_at is None and letter.reason.startswith("telemetry needs")
        assert store.find(reason="OBJECT 'METRICS'") and not store.find(reason="metrics%")
        assert store.find(since=datetime.fromisoformat("2026-12-31T23:00:00+00:00"))
        assert not store.find(since=datetime.fromisoformat("2027-01-01T01:00:00+00:00"))
        assert store.mark_replayed(letter.id) and not store.mark_replayed(letter.id)
        assert store.find() == [] and store.find(include_replayed=True)[0].replayed_at
    finally:
        engine.dispose()
