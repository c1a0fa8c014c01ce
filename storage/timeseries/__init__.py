"""Time-series storage behind one small protocol: InfluxDB (v1 HTTP API) or embedded SQLite."""

from storage.timeseries.base import Point, SeriesStore, StoreUnavailable

__all__ = ["Point", "SeriesStore", "StoreUnavailable"]
