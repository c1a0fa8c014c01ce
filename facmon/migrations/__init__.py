"""The schema's history as Alembic revisions, configured in code so that it runs from an
installed package and from any working directory (no alembic.ini).

The environment lives in the shell because only the shell knows every room's tables.
"""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path
from typing import Final

from alembic.config import Config
from sqlalchemy import Connection

SCRIPT_LOCATION: Final = Path(__file__).resolve().parent

# The tables of the last release made without migrations (eb27afb, revision 0001): a
# database holding any of them but no `alembic_version` was made by `create_all`.
RELEASE_TABLES: Final = frozenset(
    {
        "api_tokens",
        "dead_letters",
        "detector_state",
        "devices",
        "outbox",
        "tickets",
        "ticket_comments",
        "ticket_history",
        "ticket_occurrences",
    }
)


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """Alembic's configuration for this package; revisions run on `connection` when given
    (the caller holds the migration lock on it), else on a new engine for `url`."""
    config = Config(cmd_opts=Namespace(quiet=True))  # facmon's commands say what happened
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    # Revision files are named <revision>_<slug>.py, the revision a zero-padded number.
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config
