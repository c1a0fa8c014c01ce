"""A stand-in for Grafana's HTTP API, for the publishing tests (no Grafana runs here).

It implements only the endpoints `dashboards.publish` uses, with Grafana's
status codes and version checks (folders, datasources by uid and name,
`dashboards/db`, `dashboards/uid/{uid}`, `frontend/settings`, `health`),
keeps state in memory, and records every request it receives.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    body: Any


@dataclass
class GrafanaState:
    token: str
    folders: dict[str, JSON] = field(default_factory=dict)
    datasources: dict[str, JSON] = field(default_factory=dict)
    dashboards: dict[str, JSON] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    edited_while_read: set[str] = field(default_factory=set)
    """Dashboard uids someone else saves right after each read (a concurrent edit)."""
    next_id: int = 1

    def writes(self) -> list[Request]:
        return [r for r in self.requests if r.method in ("POST", "PUT", "PATCH", "DELETE")]

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        return None

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        state = self.server.state
        path = unquote(urlsplit(self.path).path)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        with self.server.lock:
            state.requests.append(Request(method, path, copy.deepcopy(body)))
            if path == "/api/health":
                return self._reply(200, {"database": "ok", "version": "11.1.0"})
            if self.headers.get("Authorization") != f"Bearer {state.token}":
                return self._reply(401, {"message": "Unauthorized"})
            status, answer = _route(state, method, path, body)
        self._reply(status, answer)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")


class _Server(ThreadingHTTPServer):
    state: GrafanaState
    lock: threading.Lock


def _route(state: GrafanaState, method: str, path: str, body: Any) -> tuple[int, Any]:
    parts = path.strip("/").split("/")[1:]  # drop "api"
    if parts == ["frontend", "settings"] and method == "GET":
        return 200, {"buildInfo": {"version": "11.1.0", "edition": "Open Source"}}
    if parts[:1] == ["folders"]:
        return _folders(state, method, parts[1:], body)
    if parts[:1] == ["datasources"]:
        return _datasources(state, method, parts[1:], body)
    if parts[:1] == ["dashboards"]:
        return _dashboards(state, method, parts[1:], body)
    return 404, {"message": "Not found"}


def _folders(state: GrafanaState, method: str, rest: list[str], body: Any) -> tuple[int, Any]:
    if method == "POST" and not rest:
        if body["uid"] in state.folders:
            return 409, {"message": "a folder with the same uid already exists"}
        folder = {"id": state.new_id(), "uid": body["uid"], "title": body["title"], "version": 1}
        state.folders[body["uid"]] = folder
        return 200, folder
    if len(rest) != 1:
        return 404, {"message": "Not found"}
    folder = state.folders.get(rest[0])
    if folder is None:
        return 404, {"message": "folder not found"}
    if method == "GET":
        return 200, folder
    if method == "PUT":
        if not body.get("overwrite") and body.get("version") != folder["version"]:
            return 412, {"message": "the folder has been changed by someone else"}
        folder.update(title=body["title"], version=folder["version"] + 1)
        return 200, folder
    return 405, {"message": "method not allowed"}


def _stored_datasource(body: JSON, ds_id: int, version: int, secure: JSON) -> JSON:
    stored = {key: value for key, value in body.items() if key != "secureJsonData"}
    stored.setdefault("user", "")
    stored.setdefault("basicAuth", False)
    return {
        **stored,
        "id": ds_id,
        "orgId": 1,
        "version": version,
        "readOnly": False,
        "secureJsonFields": secure,
    }


def _datasources(state: GrafanaState, method: str, rest: list[str], body: Any) -> tuple[int, Any]:
    if method == "POST" and not rest:
        names = {ds["name"] for ds in state.datasources.values()}
        if body["uid"] in state.datasources or body["name"] in names:
            return 409, {"message": "data source with the same name or uid already exists"}
        secure = {key: True for key in body.get("secureJsonData", {})}
        stored = _stored_datasource(body, state.new_id(), 1, secure)
        state.datasources[body["uid"]] = stored
        return 200, {"datasource": stored, "id": stored["id"], "message": "Datasource added"}
    if len(rest) != 2 or rest[0] not in ("uid", "name"):
        return 404, {"message": "Not found"}
    if rest[0] == "name":
        found = [ds for ds in state.datasources.values() if ds["name"] == rest[1]]
        if method == "GET" and found:
            return 200, found[0]
        return 404, {"message": "Data source not found"}
    existing = state.datasources.get(rest[1])
    if existing is None:
        return 404, {"message": "Data source not found"}
    if method == "GET":
        return 200, existing
    if method == "PUT":
        if "version" in body and body["version"] != existing["version"]:
            return 409, {"message": "Datasource has already been updated by someone else"}
        secure = {**existing["secureJsonFields"]}
        secure.update({key: True for key in body.get("secureJsonData", {})})
        stored = _stored_datasource(body, existing["id"], existing["version"] + 1, secure)
        state.datasources[rest[1]] = stored
        return 200, {"datasource": stored, "message": "Datasource updated"}
    return 405, {"message": "method not allowed"}


def _dashboards(state: GrafanaState, method: str, rest: list[str], body: Any) -> tuple[int, Any]:
    if method == "GET" and len(rest) == 2 and rest[0] == "uid":
        found = state.dashboards.get(rest[1])
        if found is None:
            return 404, {"message": "Dashboard not found"}
        answer = copy.deepcopy(found)
        if rest[1] in state.edited_while_read:
            found["dashboard"]["version"] += 1
            found["meta"]["version"] += 1
        return 200, answer
    if method == "POST" and rest == ["db"]:
        dashboard = copy.deepcopy(body["dashboard"])
        if body.get("folderUid") not in state.folders:
            return 400, {"message": "folder not found"}
        existing = state.dashboards.get(dashboard["uid"])
        version = 1
        if existing is not None:
            current = existing["dashboard"]["version"]
            if not body.get("overwrite") and dashboard.get("version") != current:
                return 412, {"message": "version-mismatch", "status": "version-mismatch"}
            version = current + 1
            dashboard["id"] = existing["dashboard"]["id"]
        else:
            dashboard["id"] = state.new_id()
        dashboard["version"] = version
        state.dashboards[dashboard["uid"]] = {
            "dashboard": dashboard,
            "meta": {"folderUid": body["folderUid"], "version": version, "provisioned": False},
        }
        return 200, {"id": dashboard["id"], "uid": dashboard["uid"], "status": "success"}
    return 404, {"message": "Not found"}


@contextmanager
def grafana_stand_in(token: str) -> Iterator[tuple[str, GrafanaState]]:
    """(base URL, state) of a stand-in Grafana on a free loopback port."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.state = GrafanaState(token=token)
    server.lock = threading.Lock()
    thread = threading.Thread(target=server.serve_forever, name="grafana-stand-in", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
