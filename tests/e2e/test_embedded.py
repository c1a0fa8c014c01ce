"""The same flow on the embedded defaults: amqtt broker in-process, SQLite stores."""

from __future__ import annotations

from pathlib import Path

from simulators.runner import SimulationRunner
from storage.timeseries.sqlite import SQLiteSeriesStore
from tests.conftest import wait_until
from tests.e2e.helpers import fleet_for, held_open_scenario, service_settings, started


def test_embedded_defaults_store_samples_and_open_a_ticket(site: str, tmp_path: Path) -> None:
    settings = service_settings(tmp_path, embedded_broker_port=0)
    assert settings.mqtt_url is None and settings.influx_url is None
    service = started(settings)
    try:
        assert service.broker is not None and service.mqtt_protocol == "3.1.1"
        assert isinstance(service.stores.series, SQLiteSeriesStore)
        scenario = held_open_scenario(site)
        assert service.address is not None
        runner = SimulationRunner(fleet_for(scenario), service.address, scenario.speed, site)
        stats = runner.run(duration_sim_s=300)
        assert stats.published == 2 * 301

        tickets = wait_until(lambda: service.stores.tickets.list(), what="a ticket")
        assert [(t.device_id, t.fault_type) for t in tickets] == [
            (f"{site}-door", "door_held_open")
        ]
        wait_until(
            lambda: (
                service.stores.series.count("access", f"{site}-door") == 301
                and service.stores.series.count("pump", f"{site}-pump") == 301
            ),
            what="every sample in the embedded store",
        )
        recent = service.stores.series.recent("access", f"{site}-door", 5)
        assert [r.fields["seq"] for r in recent] == [301, 300, 299, 298, 297]

        def pump_registered_with_every_sample() -> bool:
            device = service.stores.devices.get(site, f"{site}-pump")
            return device is not None and device.samples == 301

        wait_until(pump_registered_with_every_sample, what="the device registry to count samples")
        assert (tmp_path / "data" / "facmon.sqlite").exists()
        assert (tmp_path / "data" / "timeseries.sqlite").exists()
    finally:
        service.stop()
