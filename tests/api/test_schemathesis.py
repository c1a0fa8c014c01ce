"""Schemathesis against the API's own OpenAPI document: no request, however odd, gets a 500.

Every operation in the spec is called with generated valid and invalid input, once as admin
(who may call everything, so the handlers themselves run) and once as viewer (so the role
checks run too). Each answer must not be a server error and, where the route declares a
response model, must match it. The stores are real SQLite files in tmp_path, filled with a
device, telemetry, a dead letter and tickets in several states, so that small generated ids
reach real rows.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from api.app import create_app
from contract.finding import Finding, Severity
from contract.payload import encode_telemetry
from contract.topics import DeviceRef, telemetry_topic
from facmon.service import Stores
from facmon.settings import Settings
from ingest.pipeline import InboundMessage
from quality.tickets.lifecycle import Role
from tests.conftest import pipeline_for

NOW = int(time.time() * 1000)
BASE_URL = "http://testserver"
# Generated examples per operation and role, on top of the boundary cases schemathesis
# derives from the spec (ids and offsets at and past their declared range, and the like):
# about 2,400 requests in all, under a minute on two cores.
MAX_EXAMPLES = 40
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]

# The document does not depend on the stores, so it is read from an app that has none;
# every request then goes to an app on the test's own database.
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", create_app(cast(Stores, None)))
SCHEMA.config.generation.update(
    modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
)


def _finding(device_id: str, fault_type: str = "bearing_wear") -> Finding:
    return Finding(
        DeviceRef("hq", "b1", "pump", device_id),
        fault_type,
        Severity.MAJOR,
        "pump_bearing_wear",
        "1",
        NOW,
        "vibration rising",
        {"value": 0.3},
    )


def _seed(stores: Stores) -> None:
    """A door with telemetry and a dead letter, and tickets 1-4 open, dispatched, rectified,
    closed, so that lifecycle calls on small ids meet every state."""
    pipeline = pipeline_for(stores)
    door = DeviceRef("hq", "b1", "access", "door-1")
    for seq in range(1, 6):
        payload = encode_telemetry(NOW - 10_000 + seq * 1000, seq, {"door_open": False})
        pipeline.handle(InboundMessage(telemetry_topic(door), payload, NOW))
    pipeline.handle(InboundMessage(telemetry_topic(door), b"{broken", NOW))
    pipeline.flush()
    tickets = stores.tickets
    ids = [tickets.record(_finding(f"p{i}")).ticket_id for i in range(4)]
    for ticket_id, path in zip(
        ids[1:], (["dispatched"], ["dispatched", "rectified"], ["closed"]), strict=True
    ):
        for target in path:
            tickets.transition(ticket_id, target, "seed", Role.QUALITY, "seeded")


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    stores = Stores.open(Settings(_env_file=None, data_dir=tmp_path))  # type: ignore[call-arg]
    _seed(stores)
    yield stores
    stores.close()


class Caller:
    """A bearer token of one role that stays valid: a generated DELETE /api/tokens/{id} may
    revoke the admin's own token, and later examples should still reach the handlers."""

    def __init__(self, stores: Stores, role: str) -> None:
        self.stores = stores
        self.role = role
        self.token = stores.tokens.create(role, f"schemathesis-{role}")[1]

    def headers(self) -> dict[str, str]:
        if self.stores.tokens.authenticate(self.token) is None:
            self.token = self.stores.tokens.create(self.role, f"schemathesis-{self.role}")[1]
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(params=["admin", "viewer"])
def caller(request: pytest.FixtureRequest, stores: Stores) -> Caller:
    return Caller(stores, request.param)


@pytest.fixture
def client(stores: Stores) -> TestClient:
    return TestClient(create_app(stores), base_url=BASE_URL)


def _httpx_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Requests go through the app's own httpx TestClient rather than `case.call()`:
    schemathesis's `requests` transport breaks where urllib3-future (grafana-client ->
    niquests) has replaced urllib3. Its serialization is for `requests`, though: httpx
    takes raw bodies as `content`, and has no per-request cookies (the spec declares none)."""
    kwargs = dict(kwargs)
    if "data" in kwargs:
        kwargs["content"] = kwargs.pop("data")
    if kwargs.pop("cookies", None):
        raise AssertionError("the spec declares no cookie parameters")
    if kwargs.get("files"):
        # Multipart parts as `requests` takes them (any JSON value, text with unpaired
        # surrogates); httpx renders only UTF-8 text and bytes.
        kwargs["files"] = [
            (_utf8(name), (filename, _part_bytes(content)))
            for name, (filename, content, *_rest) in kwargs["files"]
        ]
    return kwargs


def _utf8(text: str) -> str:
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _part_bytes(content: Any) -> bytes:
    if isinstance(content, bytes):
        return content
    text = content if isinstance(content, str) else json.dumps(content)
    return text.encode("utf-8", "surrogatepass")


@SCHEMA.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    # One database per operation and role on purpose: state built by earlier examples
    # (new tokens, comments, transitions) is part of what later ones meet.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_never_answers_500(case: schemathesis.Case, client: TestClient, caller: Caller) -> None:
    headers = caller.headers()
    kwargs = case.as_transport_kwargs(base_url=BASE_URL, headers=headers)
    try:
        response = client.request(**_httpx_kwargs(kwargs))
    except Exception as exc:
        # The TestClient re-raises what the app did not handle (a 500 on the wire): keep
        # its traceback and add the request that caused it.
        curl = case.as_curl_command(headers=headers, base_url=BASE_URL)
        raise AssertionError(f"unhandled server error; reproduce with:\n    {curl}") from exc
    response.request.read()  # a file upload was streamed; the checks read the request's body
    case.validate_response(response, checks=CHECKS)
