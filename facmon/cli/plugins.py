"""Commands kept outside the product (benchmarks and evaluation harnesses in `tools/`).

They are found through the `facmon.commands` entry points of the installed distribution,
so `facmon bench …` and `facmon evaluate …` work in a development install while no
product module imports `tools`. Each entry point names a function that adds its
subcommands to the `facmon` parser.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points
from typing import Any

log = logging.getLogger(__name__)

GROUP = "facmon.commands"


def add_plugin_commands(subparsers: Any) -> list[str]:
    """Add every registered command group; the names added, in order."""
    added = []
    for entry in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        try:
            register = entry.load()
        except ImportError as exc:  # an install without tools/: the command is absent
            log.debug("command %s unavailable: %s", entry.name, exc)
            continue
        register(subparsers)
        added.append(entry.name)
    return added
