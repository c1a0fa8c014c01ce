"""The demo's settings and folder: shorter windows than production, and a fresh start.

Every run does the same: the demo keeps its data in its own folder (`.data/demo`),
empties it at start and says so. Earlier tickets would otherwise be reopened rather than
opened, and the walk-through would wait for an `open` ticket that never comes.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Final

from facmon.embedded_broker import recorded_owner
from facmon.ports import StartupError
from facmon.settings import Settings

PACKAGE: Final = Path(__file__).resolve().parent.parent
DEMO_DETECTORS: Final = PACKAGE / "demo_detectors.yaml"
DEMO_LEDGER: Final = PACKAGE / "demo_ledger.csv"
DEMO_DEFAULTS: Final = {
    "FACMON_OFFLINE_AFTER_S": ("offline_after_s", 15.0),
    "FACMON_VERIFICATION_WINDOW_S": ("verification_window_s", 20),
    "FACMON_DETECTORS_CONFIG": ("detectors_config", DEMO_DETECTORS),
}
DEMO_FOLDER: Final = "demo"


class DemoError(StartupError):
    """The demo cannot start; the message says what to do."""


def demo_data_dir(settings: Settings) -> Path:
    """The demo's own folder inside FACMON_DATA_DIR: `facmon run` data stay untouched."""
    return settings.data_dir / DEMO_FOLDER


def demo_settings() -> Settings:
    """Shorter windows than production, so the loop closes while you watch."""
    overrides: dict[str, Any] = {
        field: value for env, (field, value) in DEMO_DEFAULTS.items() if env not in os.environ
    }
    base = Settings(**overrides)
    return base.model_copy(update={"data_dir": demo_data_dir(base)})


def reset_demo_folder(folder: Path) -> str:
    """Empty the demo's folder for a run that starts like the first; say what was done."""
    owner = recorded_owner(folder)
    if owner is not None:
        raise DemoError(
            f"another demo (process {owner}) is running with {folder}: stop it first, or "
            "give this one its own folder and ports, e.g. FACMON_DATA_DIR=/tmp/demo2 "
            "FACMON_API_PORT=8001 .venv/bin/facmon demo"
        )
    if folder.exists() and any(folder.iterdir()):
        shutil.rmtree(folder)
        folder.mkdir(parents=True)
        return "fresh: the previous demo run's data were removed"
    folder.mkdir(parents=True, exist_ok=True)
    return "fresh"
