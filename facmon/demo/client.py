"""The demo's people talk to the service through its real API, each with their own token."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx


class DemoClient:
    def __init__(self, base_url: str, token: str, stop: threading.Event) -> None:
        self.http = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        self.stop = stop

    def get(self, path: str, **params: Any) -> Any:
        response = self.http.get(path, params=params)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.http.post(path, json=body)
        response.raise_for_status()
        return response.json()

    def wait_for(self, probe: Callable[[], Any], timeout_s: float, every_s: float = 1.0) -> Any:
        """The first truthy answer of `probe` within `timeout_s`; None if none or stopped."""
        deadline = time.monotonic() + timeout_s
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                found = probe()
            except httpx.HTTPError:
                found = None
            if found:
                return found
            self.stop.wait(every_s)
        return None
