"""Shared set-up for end-to-end tests: a small scenario and a service on given servers."""

from __future__ import annotations

import time
from pathlib import Path

from facmon.service import Service
from facmon.settings import Settings
from simulators.fleet import Fleet
from simulators.scenario import Scenario, parse_scenario


def held_open_scenario(site: str) -> Scenario:
    return parse_scenario(
        {
            "site": site,
            "start": "-20m",
            "speed": 2000,
            "rate_hz": 1,
            "devices": [
                {"id": f"{site}-door", "kind": "access", "building": "b1"},
                {"id": f"{site}-pump", "kind": "pump", "building": "b1"},
            ],
            "faults": [{"device": f"{site}-door", "type": "door_held_open", "at": "2m"}],
        }
    )


def fleet_for(scenario: Scenario, seed: int = 1) -> Fleet:
    return Fleet(scenario, seed=seed, start_ms=scenario.start_ms(int(time.time() * 1000)))


def service_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "mqtt_client_id": f"ingest-{tmp_path.name[-20:]}",
        "batch_max_delay_s": 0.2,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type, call-arg]


def started(settings: Settings) -> Service:
    service = Service(settings)
    service.start()
    return service
