"""Splitting the topic space between ingest workers.

One Python process tops out well below what the broker can deliver, so ingest
scales out to several workers. Each device's detector state must live in
exactly one of them, or two workers would each see half a device's samples and
both judge it. Mosquitto's shared subscriptions hand messages out round-robin,
which splits a device; so with Mosquitto the split is static: each worker
subscribes to the sites (or `site/building` units) it owns, and a device's
every topic lies under one unit. A broker that keeps per-publisher affinity for
shared subscriptions (EMQX with `shared_subscription_strategy = hash_clientid`)
can instead spread one `$share/{group}/facility/#` subscription.

Units go to workers by rendezvous hashing with bounded load: a unit keeps its
worker when other units are added or removed, adding a worker moves only the
units that it takes over, and no worker gets more than its even share.

>>> assign_units(["north", "south", "east", "west"], 2)
[['east', 'west'], ['north', 'south']]
>>> shard_filters(["north", "south/tower-a"])
['facility/v1/north/#', 'facility/v1/south/tower-a/#']
>>> shared_filter("facility/#", "facmon")
'$share/facmon/facility/#'
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence

from contract.topics import (
    CONTRACT_VERSION,
    SERVICE_TOPIC_PREFIXES,
    SUBSCRIPTION,
    TOPIC_ROOT,
    ContractError,
    validate_identifier,
)


class ShardingError(ValueError):
    """A shard setting cannot work; the text says what to change."""


def parse_units(text: str | None) -> list[str]:
    """`FACMON_INGEST_SITES`: comma-separated `site` or `site/building` units.

    >>> parse_units(" north, south/tower-a ,")
    ['north', 'south/tower-a']
    """
    if not text:
        return []
    units = [part.strip() for part in text.split(",") if part.strip()]
    seen: set[str] = set()
    for unit in units:
        levels = unit.split("/")
        if len(levels) > 2:
            raise ShardingError(
                f"ingest unit {unit!r} has {len(levels)} levels: use 'site' or 'site/building'"
            )
        try:
            for what, value in zip(("site", "building"), levels, strict=False):
                validate_identifier(value, what)
        except ContractError as exc:
            raise ShardingError(f"ingest unit {unit!r}: {exc}") from None
        if unit in seen:
            raise ShardingError(f"ingest unit {unit!r} is listed twice")
        seen.add(unit)
    _refuse_overlaps(units)
    return units


def _refuse_overlaps(units: Sequence[str]) -> None:
    """A whole site next to one of its buildings would give that building two owners."""
    sites = {unit for unit in units if "/" not in unit}
    for unit in units:
        if "/" in unit and unit.split("/", 1)[0] in sites:
            raise ShardingError(
                f"ingest unit {unit!r} lies inside site {unit.split('/', 1)[0]!r}, also listed: "
                "list either the whole site or its buildings"
            )


def shard_filters(units: Sequence[str]) -> list[str]:
    """The topic filters of a worker that owns `units`."""
    filters = [f"{TOPIC_ROOT}/{CONTRACT_VERSION}/{unit}/#" for unit in units]
    for topic_filter in filters:
        if any(topic_filter.startswith(prefix) for prefix in SERVICE_TOPIC_PREFIXES):
            raise ShardingError(
                f"{topic_filter!r} is the service's own ticket-event topic space; rename that site"
            )
    return filters


def shared_filter(topic_filter: str, group: str) -> str:
    """An MQTT v5 shared subscription: the broker hands each message to one member."""
    if not group or any(char in group for char in "/+#"):
        raise ShardingError(f"share group {group!r} must be non-empty, without / + #")
    return f"$share/{group}/{topic_filter}"


def subscriptions_for(units: Sequence[str], share_group: str | None = None) -> list[str]:
    """A worker's topic filters: its units, or everything when it owns no list.

    >>> subscriptions_for([])
    ['facility/#']
    """
    filters = shard_filters(units) if units else [SUBSCRIPTION]
    if share_group:
        filters = [shared_filter(topic_filter, share_group) for topic_filter in filters]
    return filters


def _weight(unit: str, worker: int) -> int:
    return zlib.crc32(f"{unit}\x00{worker}".encode())


def assign_units(units: Sequence[str], workers: int) -> list[list[str]]:
    """Each unit to exactly one of `workers`, stable and balanced (sorted per worker)."""
    if workers < 1:
        raise ShardingError("there must be at least one ingest worker")
    cap = math.ceil(len(units) / workers) if units else 0
    shares: list[list[str]] = [[] for _ in range(workers)]
    # Units claim workers in a fixed order so the outcome does not depend on input order.
    for unit in sorted(units, key=lambda u: (zlib.crc32(u.encode()), u)):
        ranked = sorted(range(workers), key=lambda w: (-_weight(unit, w), w))
        owner = next(w for w in ranked if len(shares[w]) < cap)
        shares[owner].append(unit)
    return [sorted(share) for share in shares]
