"""Publish the folder, the InfluxDB datasource and the dashboards to a running Grafana.

For a Grafana that is not provisioned from files (docker-compose provisions
its own). Publishing is idempotent: each object is read first, compared with
what facmon would send, and created or updated only if it differs, so a
second run sends no write at all. Updates carry the version read, so an edit
made in Grafana between the read and the write is refused, not overwritten
(run again to replace it).

    facmon dashboards publish --url https://grafana.example.com --token glsa_...

The datasource comes from `provisioning/datasources/influxdb.yaml` (uid
`facmon-influxdb`, InfluxQL), with the InfluxDB URL and database as Grafana
must see them. It is not made the default datasource of a shared Grafana.
A password, if given, is sent when the datasource is created or has none;
Grafana never returns it, so changing it later is done in Grafana.
Dashboards provisioned from files cannot be changed through the API: use one
way or the other for a given Grafana.

>>> from dashboards.overview import facility_overview
>>> comparable(facility_overview().to_json()) == comparable({**facility_overview().to_json(),
...                                                           "id": 7, "version": 3})
True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import yaml
from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError

from dashboards.build import DASHBOARDS
from dashboards.model import FACMON_INFLUXDB, JSON, Dashboard

PROVISIONED_DATASOURCE: Final = (
    Path(__file__).resolve().parent / "provisioning" / "datasources" / "influxdb.yaml"
)
FOLDER_UID: Final = "facmon"
FOLDER_TITLE: Final = "Facility monitor"
"""The same folder the file provisioning uses (`provisioning/dashboards/facmon.yaml`)."""

Action = Literal["created", "updated", "unchanged"]


class PublishError(RuntimeError):
    """Grafana refused a change, or holds a conflicting object; the message says which."""


@dataclass(frozen=True, slots=True)
class Change:
    """What publishing did to one object."""

    kind: Literal["folder", "datasource", "dashboard"]
    uid: str
    action: Action


def datasource_spec(
    influx_url: str | None = None,
    database: str | None = None,
    *,
    user: str | None = None,
    password: str | None = None,
) -> JSON:
    """The datasource to publish: the provisioned one, pointed at `influx_url`/`database`."""
    provisioned = yaml.safe_load(PROVISIONED_DATASOURCE.read_text(encoding="utf-8"))
    (source,) = provisioned["datasources"]
    database = database or source["jsonData"]["dbName"]
    spec: JSON = {
        "uid": source["uid"],
        "name": source["name"],
        "type": source["type"],
        "access": source["access"],
        "url": influx_url or source["url"],
        "database": database,
        "isDefault": False,
        "jsonData": {**source["jsonData"], "dbName": database},
    }
    if spec["uid"] != FACMON_INFLUXDB.uid or spec["type"] != FACMON_INFLUXDB.type:
        raise PublishError("the provisioned datasource no longer matches the dashboards' uid")
    if user:
        spec["user"] = user
    if password:
        spec["secureJsonData"] = {"password": password}
    return spec


def comparable(dashboard: JSON) -> JSON:
    """A dashboard without what Grafana assigns (`id`, `version`)."""
    return {key: value for key, value in dashboard.items() if key not in ("id", "version")}


def _datasource_differs(existing: JSON, wanted: JSON) -> bool:
    for key, value in wanted.items():
        if key == "secureJsonData":
            if "password" in value and not existing.get("secureJsonFields", {}).get("password"):
                return True
        elif key == "jsonData":
            current = existing.get("jsonData") or {}
            if any(current.get(k) != v for k, v in value.items()):
                return True
        elif existing.get(key) != value:
            return True
    return False


def _get(call: Any, *args: Any) -> Any | None:
    """The object, or None when Grafana answers 404."""
    try:
        return call(*args)
    except GrafanaClientError as exc:
        if exc.status_code == 404:
            return None
        raise


class Publisher:
    """Creates or updates facmon's objects in one Grafana organisation."""

    def __init__(
        self,
        grafana: GrafanaApi,
        *,
        folder_uid: str = FOLDER_UID,
        folder_title: str = FOLDER_TITLE,
    ) -> None:
        self.grafana = grafana
        self.folder_uid = folder_uid
        self.folder_title = folder_title

    def folder(self) -> Change:
        existing = _get(self.grafana.folder.get_folder, self.folder_uid)
        if existing is None:
            self.grafana.folder.create_folder(self.folder_title, uid=self.folder_uid)
            return Change("folder", self.folder_uid, "created")
        if existing.get("title") == self.folder_title:
            return Change("folder", self.folder_uid, "unchanged")
        self.grafana.folder.update_folder(
            self.folder_uid, title=self.folder_title, version=existing.get("version")
        )
        return Change("folder", self.folder_uid, "updated")

    def datasource(self, spec: JSON) -> Change:
        uid = str(spec["uid"])
        existing = _get(self.grafana.datasource.get_datasource_by_uid, uid)
        if existing is None:
            same_name = _get(self.grafana.datasource.get_datasource_by_name, spec["name"])
            if same_name is not None:
                raise PublishError(
                    f"Grafana has a datasource named {spec['name']!r} with uid "
                    f"{same_name.get('uid')!r}, not {uid!r}: rename or delete it first"
                )
            self.grafana.datasource.create_datasource(spec)
            return Change("datasource", uid, "created")
        if not _datasource_differs(existing, spec):
            return Change("datasource", uid, "unchanged")
        body = {**spec, "jsonData": {**(existing.get("jsonData") or {}), **spec["jsonData"]}}
        if "version" in existing:
            body["version"] = existing["version"]
        self.grafana.datasource.update_datasource_by_uid(uid, body)
        return Change("datasource", uid, "updated")

    def dashboard(self, dashboard: Dashboard) -> Change:
        wanted = dashboard.to_json()
        existing = _get(self.grafana.dashboard.get_dashboard, dashboard.uid)
        if existing is not None:
            stored: JSON = existing.get("dashboard", {})
            in_folder = existing.get("meta", {}).get("folderUid") == self.folder_uid
            if in_folder and comparable(stored) == comparable(wanted):
                return Change("dashboard", dashboard.uid, "unchanged")
            wanted = {**wanted, "id": stored.get("id"), "version": stored.get("version")}
        else:
            wanted = {**wanted, "id": None}
        try:
            self.grafana.dashboard.update_dashboard(
                {
                    "dashboard": wanted,
                    "folderUid": self.folder_uid,
                    "overwrite": False,
                    "message": "published by facmon",
                }
            )
        except GrafanaClientError as exc:
            if exc.status_code == 412:
                raise PublishError(
                    f"dashboard {dashboard.uid} changed in Grafana while publishing; run again"
                ) from exc
            raise
        return Change("dashboard", dashboard.uid, "updated" if existing else "created")

    def publish(self, datasource: JSON, dashboards: Iterable[Dashboard]) -> list[Change]:
        """The folder, then the datasource, then each dashboard; stops at the first refusal."""
        changes = [self.folder(), self.datasource(datasource)]
        changes += [self.dashboard(dashboard) for dashboard in dashboards]
        return changes


def publish(
    url: str,
    token: str | None = None,
    *,
    influx_url: str | None = None,
    database: str | None = None,
    influx_user: str | None = None,
    influx_password: str | None = None,
    dashboards: Sequence[Dashboard] | None = None,
    timeout_s: float = 10.0,
) -> list[Change]:
    """Publish to the Grafana at `url` with an API token (or credentials in the URL)."""
    grafana = GrafanaApi.from_url(url, credential=token, timeout=timeout_s)
    grafana.health.check()  # fails early and clearly if Grafana is not there
    spec = datasource_spec(influx_url, database, user=influx_user, password=influx_password)
    chosen = dashboards if dashboards is not None else [make() for make in DASHBOARDS]
    return Publisher(grafana).publish(spec, chosen)
