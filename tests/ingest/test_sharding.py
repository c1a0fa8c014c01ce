"""The topic split between ingest workers: every unit has one owner, balanced and stable."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from facmon.settings import Settings
from facmon.workers import plan_workers
from ingest.sharding import (
    ShardingError,
    assign_units,
    parse_units,
    shard_filters,
    shared_filter,
    subscriptions_for,
)

SITES = [f"site-{n:02d}" for n in range(23)]


@pytest.mark.parametrize("workers", [1, 2, 3, 5, 8])
def test_every_unit_has_exactly_one_owner_and_loads_are_even(workers: int) -> None:
    shares = assign_units(SITES, workers)
    owned = [unit for share in shares for unit in share]
    assert sorted(owned) == sorted(SITES)
    sizes = [len(share) for share in shares]
    assert max(sizes) <= -(-len(SITES) // workers)  # nobody above its even share


def test_assignment_ignores_input_order_and_keeps_units_when_others_come_and_go() -> None:
    assert assign_units(SITES, 4) == assign_units(list(reversed(SITES)), 4)
    before = {u: i for i, share in enumerate(assign_units(SITES, 4)) for u in share}
    grown = {u: i for i, share in enumerate(assign_units([*SITES, "site-new"], 4)) for u in share}
    moved = [u for u in SITES if before[u] != grown[u]]
    assert len(moved) <= 2  # bounded load may push a unit or two; never a reshuffle


def test_adding_a_worker_moves_only_what_it_takes() -> None:
    three = {u: i for i, share in enumerate(assign_units(SITES, 3)) for u in share}
    four = {u: i for i, share in enumerate(assign_units(SITES, 4)) for u in share}
    moved = [u for u in SITES if three[u] != four[u]]
    assert len(moved) < len(SITES) / 2
    assert {four[u] for u in moved} >= {3}


def test_filters_cover_only_the_owned_units() -> None:
    assert shard_filters(["north", "south/tower-a"]) == [
        "facility/v1/north/#",
        "facility/v1/south/tower-a/#",
    ]
    assert subscriptions_for([]) == ["facility/#"]
    assert subscriptions_for(["north"], "facmon") == ["$share/facmon/facility/v1/north/#"]
    assert shared_filter("facility/#", "g1") == "$share/g1/facility/#"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("north,north", "listed twice"),
        ("a/b/c", "use 'site' or 'site/building'"),
        ("no+wild", "not a valid identifier"),
        ("north,north/tower-a", "lies inside site"),
    ],
)
def test_bad_unit_lists_say_what_to_change(text: str, message: str) -> None:
    with pytest.raises(ShardingError, match=message):
        parse_units(text)


def test_the_ticket_event_topic_space_is_no_site() -> None:
    with pytest.raises(ShardingError, match="ticket-event topic space"):
        shard_filters(["tickets"])


def test_share_groups_must_be_one_level() -> None:
    with pytest.raises(ShardingError, match="without / \\+ #"):
        shared_filter("facility/#", "a/b")


def test_settings_refuse_a_split_that_cannot_work() -> None:
    with pytest.raises(ValidationError, match="needs FACMON_INGEST_SITES"):
        Settings(_env_file=None, ingest_workers=2)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="a worker would have nothing to do"):
        Settings(_env_file=None, ingest_workers=3, ingest_sites="a,b")  # type: ignore[call-arg]
    shared = Settings(_env_file=None, ingest_workers=3, ingest_share_group="facmon")  # type: ignore[call-arg]
    assert shared.ingest_workers == 3


def test_worker_plan_gives_each_worker_its_session_and_sites() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        ingest_workers=2,
        ingest_sites="north,south,east,west",
        mqtt_client_id="facmon-ingest",
    )
    plan = plan_workers(settings, "mqtt://broker:1883")
    assert [spec.client_id for spec in plan] == ["facmon-ingest", "facmon-ingest-1"]
    assert sorted(u for spec in plan for u in spec.units) == ["east", "north", "south", "west"]
    for spec in plan:
        assert spec.env["FACMON_INGEST_SITES"] == ",".join(spec.units)
        assert spec.env["FACMON_INGEST_WORKERS"] == "1"
        assert spec.env["FACMON_MQTT_URL"] == "mqtt://broker:1883"
        worker = Settings(_env_file=None, ingest_sites=spec.env["FACMON_INGEST_SITES"])  # type: ignore[call-arg]
        assert worker.ingest_sites
    assert Settings(_env_file=None, mqtt_client_id="w-1").spool_path.name == "spool-w-1.sqlite"  # type: ignore[call-arg]
