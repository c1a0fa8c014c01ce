"""The whole SQL schema, assembled from the tables every room declares.

Only the shell knows every room, so the schema is put together here and the storage
layer below never imports the rooms above it.
"""

from __future__ import annotations

from sqlalchemy import Engine

import ingest.device_registry
import quality.accounts
import quality.tickets.models
import quality.tickets.outbox
import storage.dead_letters
import storage.detector_state
from storage.sql import create_tables

TABLE_MODULES = (
    quality.tickets.models,
    quality.tickets.outbox,
    quality.accounts,
    storage.dead_letters,
    storage.detector_state,
    ingest.device_registry,
)


def create_schema(engine: Engine) -> None:
    """Create every table of the product (idempotent, safe when processes race)."""
    create_tables(engine)
