"""YAML loaded together with where each value sits, so a message can name its line (scenario
files, the detector configuration file).

>>> data, line_of = load_with_lines("devices:\\n  - {id: p1, kind: pump}\\n")
>>> data["devices"][0]["kind"], line_of(("devices", 0, "kind"))
('pump', 2)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import yaml


def load_with_lines(text: str) -> tuple[Any, Callable[[Sequence[str | int]], int | None]]:
    """The document as `yaml.safe_load` gives it, and a function from a path to the line
    (1-based) of the deepest node the path reaches: a key it names, or the entry that
    lacks it. Raises `yaml.YAMLError` as `safe_load` would."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    finally:
        loader.dispose()

    def line_of(path: Sequence[str | int]) -> int | None:
        if root is None:
            return None
        node, line = root, root.start_mark.line
        for step in path:
            found = _child(node, step)
            if found is None:
                break
            node, line = found
        return int(line) + 1

    return data, line_of


def _child(node: yaml.Node, step: str | int) -> tuple[yaml.Node, int] | None:
    """The node at `step` and the line naming it (a key's own line, an item's start)."""
    if (
        isinstance(node, yaml.SequenceNode)
        and isinstance(step, int)
        and 0 <= step < len(node.value)
    ):
        item = node.value[step]
        return item, item.start_mark.line
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(step):
                return value, key.start_mark.line
    return None
