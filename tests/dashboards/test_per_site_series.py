"""A device is its site and its id: every dashboard query that splits by device splits by
site too, and names the site in the legend and in annotation tags."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from dashboards.build import GENERATED_DIR

GROUP_BY = re.compile(r"GROUP BY ((?:time\([^)]*\)|[^)])*)", re.IGNORECASE)


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _generated() -> list[tuple[str, dict[str, Any]]]:
    return [
        (path.name, json.loads(path.read_text())) for path in sorted(GENERATED_DIR.glob("*.json"))
    ]


def test_a_query_grouped_by_device_is_grouped_by_site() -> None:
    checked = 0
    for name, dashboard in _generated():
        for node in _walk(dashboard):
            query = node.get("query")
            if not isinstance(query, str):
                continue
            for group in GROUP_BY.findall(query):
                if '"device_id"' in group:
                    checked += 1
                    assert '"site"' in group, f"{name}: {query}"
    assert checked > 10


def test_per_device_legends_and_annotation_tags_name_the_site() -> None:
    aliases = tags = 0
    for name, dashboard in _generated():
        for node in _walk(dashboard):
            alias = node.get("alias")
            if isinstance(alias, str) and "$tag_device_id" in alias:
                aliases += 1
                assert "$tag_site" in alias, f"{name}: {alias}"
            columns = node.get("tagsColumn")
            if isinstance(columns, str) and "device_id" in columns:
                tags += 1
                assert "site" in columns.split(","), f"{name}: {columns}"
    assert aliases > 10 and tags >= 3
