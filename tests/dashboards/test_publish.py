"""Publishing through grafana-client to a stand-in Grafana: what is sent, and idempotency."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest
import yaml
from grafana_client.client import GrafanaUnauthorizedError

from dashboards.build import DASHBOARDS, GENERATED_DIR
from dashboards.publish import (
    FOLDER_TITLE,
    FOLDER_UID,
    Change,
    PublishError,
    datasource_spec,
    publish,
)
from facmon.cli.dashboards import add_publish_command
from tests.dashboards.grafana_stand_in import GrafanaState, grafana_stand_in

TOKEN = "glsa_test_token"
PROVISIONING = GENERATED_DIR.parent / "provisioning"
UIDS = sorted(make().uid for make in DASHBOARDS)


@pytest.fixture
def grafana() -> Iterator[tuple[str, GrafanaState]]:
    with grafana_stand_in(TOKEN) as running:
        yield running


def _publish(url: str) -> list[Change]:
    return publish(url, TOKEN, influx_url="http://influx.internal:8086", database="plant_a")


def test_first_publish_creates_folder_datasource_and_dashboards(
    grafana: tuple[str, GrafanaState],
) -> None:
    url, state = grafana
    changes = _publish(url)
    assert {c.action for c in changes} == {"created"}
    assert [(c.kind, c.uid) for c in changes[:2]] == [
        ("folder", FOLDER_UID),
        ("datasource", "facmon-influxdb"),
    ]
    assert sorted(c.uid for c in changes[2:]) == UIDS

    writes = state.writes()
    assert [(w.method, w.path) for w in writes[:2]] == [
        ("POST", "/api/folders"),
        ("POST", "/api/datasources"),
    ]
    assert writes[0].body == {"title": FOLDER_TITLE, "uid": FOLDER_UID}
    datasource = writes[1].body
    assert datasource["type"] == "influxdb" and datasource["uid"] == "facmon-influxdb"
    assert datasource["access"] == "proxy" and datasource["url"] == "http://influx.internal:8086"
    assert datasource["jsonData"]["version"] == "InfluxQL"
    assert datasource["jsonData"]["dbName"] == datasource["database"] == "plant_a"
    assert datasource["isDefault"] is False and "secureJsonData" not in datasource

    dashboard_writes = writes[2:]
    assert {(w.method, w.path) for w in dashboard_writes} == {("POST", "/api/dashboards/db")}
    assert sorted(w.body["dashboard"]["uid"] for w in dashboard_writes) == UIDS
    for write in dashboard_writes:
        assert write.body["folderUid"] == FOLDER_UID and write.body["overwrite"] is False
        assert write.body["dashboard"]["id"] is None
        for panel in write.body["dashboard"]["panels"]:
            assert panel["datasource"] == {"type": "influxdb", "uid": "facmon-influxdb"}
    assert set(state.dashboards) == set(UIDS)
    assert {d["meta"]["folderUid"] for d in state.dashboards.values()} == {FOLDER_UID}


def test_second_publish_changes_nothing(grafana: tuple[str, GrafanaState]) -> None:
    url, state = grafana
    _publish(url)
    before = len(state.requests)
    versions = {uid: d["dashboard"]["version"] for uid, d in state.dashboards.items()}
    changes = _publish(url)
    assert {c.action for c in changes} == {"unchanged"}
    assert len(changes) == 2 + len(UIDS)
    assert {r.method for r in state.requests[before:]} == {"GET"}
    assert {uid: d["dashboard"]["version"] for uid, d in state.dashboards.items()} == versions


def test_drift_in_grafana_is_put_back_with_version_checks(
    grafana: tuple[str, GrafanaState],
) -> None:
    url, state = grafana
    _publish(url)
    state.dashboards["facmon-quality"]["dashboard"]["title"] = "edited in the UI"
    state.dashboards["facmon-quality"]["dashboard"]["version"] = 2
    state.datasources["facmon-influxdb"]["url"] = "http://elsewhere:8086"
    state.folders[FOLDER_UID]["title"] = "Renamed"
    before = len(state.requests)

    changes = _publish(url)
    changed = {(c.kind, c.uid) for c in changes if c.action == "updated"}
    assert changed == {
        ("folder", FOLDER_UID),
        ("datasource", "facmon-influxdb"),
        ("dashboard", "facmon-quality"),
    }
    writes = [r for r in state.requests[before:] if r.method != "GET"]
    assert [(w.method, w.path) for w in writes] == [
        ("PUT", f"/api/folders/{FOLDER_UID}"),
        ("PUT", "/api/datasources/uid/facmon-influxdb"),
        ("POST", "/api/dashboards/db"),
    ]
    assert writes[0].body["version"] == 1
    assert writes[1].body["version"] == 1 and writes[1].body["url"] == "http://influx.internal:8086"
    dashboard = writes[2].body["dashboard"]
    assert (dashboard["uid"], dashboard["version"], dashboard["title"]) == (
        "facmon-quality",
        2,
        "Quality loop",
    )
    assert state.dashboards["facmon-quality"]["dashboard"]["title"] == "Quality loop"
    assert {c.action for c in _publish(url)} == {"unchanged"}


def test_concurrent_edit_is_refused_not_overwritten(grafana: tuple[str, GrafanaState]) -> None:
    url, state = grafana
    _publish(url)
    state.dashboards["facmon-pump"]["dashboard"]["title"] = "edited"
    state.edited_while_read.add("facmon-pump")
    with pytest.raises(PublishError, match="facmon-pump changed in Grafana"):
        _publish(url)
    assert state.dashboards["facmon-pump"]["dashboard"]["title"] == "edited"


def test_datasource_of_the_same_name_with_another_uid_is_a_conflict(
    grafana: tuple[str, GrafanaState],
) -> None:
    url, state = grafana
    state.datasources["other"] = {"uid": "other", "name": "facmon InfluxDB", "type": "influxdb"}
    with pytest.raises(PublishError, match="uid 'other'"):
        _publish(url)
    assert [w.path for w in state.writes()] == ["/api/folders"]


def test_password_is_sent_once_and_then_left_alone(grafana: tuple[str, GrafanaState]) -> None:
    url, state = grafana
    for _ in range(2):
        publish(url, TOKEN, influx_user="grafana", influx_password="s3cret")
    (create,) = [w for w in state.writes() if w.path == "/api/datasources"]
    assert create.body["secureJsonData"] == {"password": "s3cret"}
    assert create.body["user"] == "grafana" and create.body["url"] == "http://influxdb:8086"
    assert not [w for w in state.writes() if w.path.startswith("/api/datasources/uid")]


def test_wrong_token_fails_before_any_write(grafana: tuple[str, GrafanaState]) -> None:
    url, state = grafana
    with pytest.raises(GrafanaUnauthorizedError):
        publish(url, "wrong")
    assert state.requests and not state.writes()


def test_cli_publishes_and_lists_what_it_did(
    grafana: tuple[str, GrafanaState], capsys: pytest.CaptureFixture[str]
) -> None:
    url, state = grafana
    parser = argparse.ArgumentParser()
    add_publish_command(parser.add_subparsers())
    args = parser.parse_args(["publish", "--url", url, "--token", TOKEN])
    assert args.func(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 + len(UIDS) and all(line.endswith("created") for line in lines)
    state.datasources = {"x": {"uid": "x", "name": "facmon InfluxDB", "type": "influxdb"}}
    assert args.func(args) == 1
    assert "rename or delete it" in capsys.readouterr().err


def test_publishing_uses_the_provisioned_folder_and_datasource() -> None:
    provider = yaml.safe_load((PROVISIONING / "dashboards" / "facmon.yaml").read_text())
    (files,) = provider["providers"]
    assert (files["folderUid"], files["folder"]) == (FOLDER_UID, FOLDER_TITLE)
    spec = datasource_spec()
    assert (spec["uid"], spec["type"], spec["jsonData"]["version"]) == (
        "facmon-influxdb",
        "influxdb",
        "InfluxQL",
    )
    assert spec["url"] == "http://influxdb:8086" and spec["database"] == "facmon"
