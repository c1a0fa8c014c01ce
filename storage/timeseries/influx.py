"""InfluxDB through its v1 HTTP API (`/write` line protocol, `/query` InfluxQL).

This is the one API that InfluxDB 1.x, 2.x (v1 compatibility) and 3 Core all
serve, which is why `influxdb-client` (v2 API and Flux only) is not used.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import httpx

from storage.timeseries.base import Point, PointsRefused, Row, StoreUnavailable
from storage.timeseries.influx_write import DatabaseNotFound, LineProtocolWriter, WriteRefused
from storage.timeseries.line_protocol import encode_points, encode_valid


class InfluxQueryError(RuntimeError):
    """InfluxDB answered a query with an error (bad InfluxQL, unknown database...)."""


__all__ = ["InfluxQueryError", "InfluxStore", "PointsRefused", "quote_ident", "quote_literal"]


def quote_ident(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class InfluxStore:
    def __init__(
        self,
        url: str,
        database: str,
        username: str | None = None,
        password: str | None = None,
        retention_policy: str | None = None,
        timeout_s: float = 10.0,
        create_database: bool = True,
    ) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self.retention_policy = retention_policy
        auth = (username, password or "") if username else None
        self._client = httpx.Client(base_url=self.url, auth=auth, timeout=timeout_s)
        params = {"db": database, "precision": "ms"}
        if retention_policy:
            params["rp"] = retention_policy
        self._writer = LineProtocolWriter(self.url, params, username, password, timeout_s)
        self._database_ready = not create_database
        if create_database:
            # Not fatal: writes spool meanwhile and create it once InfluxDB answers.
            with contextlib.suppress(StoreUnavailable):
                self.create_database()

    def create_database(self) -> None:
        try:
            self._post_query(f"CREATE DATABASE {quote_ident(self.database)}")
            self._database_ready = True
        except httpx.HTTPError as exc:
            raise StoreUnavailable(
                f"InfluxDB at {self.url} is not reachable ({exc}); "
                "start it or fix FACMON_INFLUX_URL"
            ) from exc

    def _post_query(self, q: str) -> dict[str, Any]:
        response = self._client.post("/query", params={"q": q})
        return self._result(response)

    @staticmethod
    def _result(response: httpx.Response) -> dict[str, Any]:
        if response.status_code == 401:
            raise InfluxQueryError(
                "InfluxDB refused the credentials: set FACMON_INFLUX_USERNAME/PASSWORD"
            )
        body: dict[str, Any] = response.json()
        if "error" in body:
            raise InfluxQueryError(body["error"])
        for result in body.get("results", []):
            if "error" in result:
                raise InfluxQueryError(result["error"])
        return body

    def write(self, points: Sequence[Point]) -> None:
        """Store the points, or raise StoreUnavailable (nothing refused; retry them all).

        Raises PointsRefused once every other point is stored: a batch InfluxDB refuses
        in part (400) is split in halves until each refused point stands alone, so one
        bad point never holds back the rest. Rewriting the stored halves is harmless:
        a point with the same series and time is the same point."""
        if not points:
            return
        if not self._database_ready:
            self._create_database_or_unavailable()
        body, kept, unencodable = encode_valid(points)
        refused = [(points[index], reason) for index, reason in unencodable]
        if kept:
            batch = points if not unencodable else [points[index] for index in kept]
            self._write_or_split(batch, body, refused)
        if refused:
            raise PointsRefused(refused)

    def _write_or_split(
        self, points: Sequence[Point], body: bytes, refused: list[tuple[Point, str]]
    ) -> None:
        try:
            self._write_body(body)
        except WriteRefused as exc:
            if len(points) == 1:
                refused.append((points[0], f"InfluxDB refused the point: {exc.message}"))
                return
            middle = len(points) // 2
            for half in (points[:middle], points[middle:]):
                self._write_or_split(half, encode_points(half), refused)

    def _write_body(self, body: bytes) -> None:
        try:
            self._writer.write(body)
        except DatabaseNotFound:
            # Dropped, or a new server behind the same URL: make it again, write once more.
            self._create_database_or_unavailable()
            try:
                self._writer.write(body)
            except DatabaseNotFound as exc:
                raise StoreUnavailable(
                    f"InfluxDB database {self.database!r} is still missing after "
                    f"CREATE DATABASE: {exc}"
                ) from exc

    def _create_database_or_unavailable(self) -> None:
        try:
            self.create_database()
        except (InfluxQueryError, ValueError) as exc:  # ValueError: not JSON (a proxy's page)
            raise StoreUnavailable(
                f"InfluxDB cannot create database {self.database!r}: {exc}; "
                "check FACMON_INFLUX_DATABASE and the user's rights"
            ) from exc

    def query(self, influxql: str) -> list[dict[str, Any]]:
        """Run InfluxQL; return the series of the first statement with epoch-ms times."""
        try:
            response = self._client.get(
                "/query", params={"db": self.database, "q": influxql, "epoch": "ms"}
            )
        except httpx.HTTPError as exc:
            raise StoreUnavailable(f"InfluxDB query failed: {exc}") from exc
        body = self._result(response)
        results = body.get("results", [])
        if not results:
            return []
        series: list[dict[str, Any]] = results[0].get("series", [])
        return series

    def recent(
        self, measurement: str, device_id: str, limit: int, site: str | None = None
    ) -> list[Row]:
        where = f"device_id = {quote_literal(device_id)}"
        if site is not None:
            where += f" AND site = {quote_literal(site)}"
        q = (
            f"SELECT * FROM {quote_ident(measurement)} WHERE {where}"
            f" ORDER BY time DESC LIMIT {int(limit)}"
        )
        rows: list[Row] = []
        for series in self.query(q):
            columns: list[str] = series["columns"]
            for values in series["values"]:
                record = dict(zip(columns, values, strict=True))
                ts_ms = int(record.pop("time"))
                tags: dict[str, str] = {
                    k: str(record.pop(k)) for k in ("site", "building", "device_id") if k in record
                }
                fields = {k: v for k, v in record.items() if v is not None}
                rows.append(Row(ts_ms, tags, fields))
        return rows

    def count(self, measurement: str, device_id: str | None = None) -> int:
        where = f" WHERE device_id = {quote_literal(device_id)}" if device_id else ""
        series = self.query(f"SELECT COUNT(seq) FROM {quote_ident(measurement)}{where}")
        if not series:
            return 0
        return int(series[0]["values"][0][1])

    def ping(self) -> bool:
        try:
            return self._client.get("/ping").status_code == 204
        except httpx.HTTPError:
            return False

    def close(self) -> None:
        self._writer.close()
        self._client.close()
