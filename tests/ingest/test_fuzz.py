"""Property-based fuzzing of the ingest pipeline: random and adversarial payloads and topics.

Whatever arrives, the pipeline stays up, every good message interleaved with
the bad ones lands, and every bad one becomes a dead letter with a reason.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract.payload import decode_message, encode_telemetry
from contract.topics import ContractError, DeviceRef, telemetry_topic
from facmon.service import Stores
from facmon.settings import Settings
from ingest.pipeline import InboundMessage
from tests.conftest import pipeline_for

NOW = int(time.time() * 1000)
GOOD_DEVICE = DeviceRef("fuzz", "b1", "pump", "good")

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=30,
)


def _adversarial_json(value: object) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


payloads = st.one_of(
    st.binary(max_size=300),
    json_values.map(_adversarial_json),
    st.builds(
        lambda metrics, ts, seq: json.dumps({"ts": ts, "seq": seq, "metrics": metrics}).encode(),
        st.dictionaries(
            st.sampled_from(["current_a", "running", "pressure_bar", "x"]), json_values
        ),
        st.one_of(st.integers(), st.text(max_size=30), st.just(NOW)),
        st.one_of(st.integers(), st.text(max_size=5)),
    ),
    st.integers(min_value=1, max_value=40).map(
        lambda depth: b"[" * depth * 100 + b"]" * depth * 100
    ),
    st.just(b'{"ts": 1, "ts": 2, "seq": 1, "metrics": {}}'),
    st.just(b"[" + b"1," * 9000 + b"1]"),
)
topic_levels = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=12
)
topics = st.one_of(
    st.lists(topic_levels, min_size=1, max_size=9).map("/".join),
    st.builds(
        lambda site, kind, device, channel: f"facility/v1/{site}/b1/{kind}/{device}/{channel}",
        topic_levels,
        st.sampled_from(["pump", "elevator", "toaster", "PUMP", "+", "#"]),
        topic_levels,
        st.sampled_from(["telemetry", "event", "status", "other"]),
    ),
)


def _is_valid(topic: str, payload: bytes) -> bool:
    try:
        decode_message(topic, payload, NOW)
    except ContractError:
        return False
    return True


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(topics, payloads), min_size=1, max_size=25))
def test_bad_input_never_stops_ingest_and_good_input_lands(
    tmp_path_factory: object, messages: list[tuple[str, bytes]]
) -> None:
    assert hasattr(tmp_path_factory, "mktemp")
    folder: Path = tmp_path_factory.mktemp("fuzz")  # type: ignore[attr-defined]
    stores = Stores.open(Settings(_env_file=None, data_dir=folder))  # type: ignore[call-arg]
    pipeline = pipeline_for(stores)
    acked: list[int] = []
    expected_bad = 0
    good_seqs = []
    for index, (topic, payload) in enumerate(messages):
        good_seq = 2 * index + 1
        good_seqs.append(good_seq)
        good = encode_telemetry(NOW - 10_000 + good_seq, good_seq, {"current_a": 1.0})
        pipeline.handle(
            InboundMessage(
                telemetry_topic(GOOD_DEVICE), good, NOW, lambda s=good_seq: acked.append(s)
            )
        )
        if not _is_valid(topic, payload):
            expected_bad += 1
        pipeline.handle(InboundMessage(topic, payload, NOW, lambda s=-index: acked.append(s)))
    pipeline.flush()
    stored = [row.fields["seq"] for row in stores.series.recent("pump", "good", 10_000)]
    assert sorted(stored) == good_seqs
    assert len(acked) == 2 * len(messages)
    letters = stores.dead_letters.list(limit=10_000)
    assert len(letters) == expected_bad
    assert all(letter.reason for letter in letters)
    stores.close()
